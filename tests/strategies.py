"""Hypothesis strategies for FR-EVT-GOV events (valid ones, and mutations of them)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import orjson
from hypothesis import strategies as st

from ledger.events import EVENT_TYPES
from ledger.vocabulary import imitated

EVENT_TYPE_NAMES = sorted(EVENT_TYPES)
LEVELS = ["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED", "ASSISTED", "SUPERVISED"]
GATES = ["SpecApproval", "RefinementSign", "ScopeChange", "CloudEscalation", "PolicyViolation"]

_text_id = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40)
event_ids = st.uuids().filter(lambda u: u.int != 0).map(str)
timestamps = st.datetimes(
    min_value=__import__("datetime").datetime(2000, 1, 1),
    max_value=__import__("datetime").datetime(2099, 12, 31),
    timezones=st.just(__import__("datetime").UTC),
).map(lambda d: d.isoformat().replace("+00:00", "Z"))


#: Gate types outside the table: bounded tokens that imitate no normative gate type.
gate_tokens = st.from_regex(r"\A[A-Za-z0-9_.-]{1,40}\Z").filter(
    lambda gate: imitated(gate, GATES) is None
)


@st.composite
def valid_events(draw: st.DrawFn, event_type: str | None = None) -> dict[str, Any]:
    """
    Any event the schemas accept (all optional fields drawn independently).
    """
    event: dict[str, Any] = {
        "type": event_type or draw(st.sampled_from(EVENT_TYPE_NAMES)),
        "event_id": draw(event_ids),
        "timestamp": draw(timestamps),
        "actor": draw(st.sampled_from(["human", "agent", "system"])),
        "decision_id": draw(_text_id),
        "gate_type": draw(st.one_of(st.sampled_from(GATES), gate_tokens)),
        "target_ref": draw(st.from_regex(r"\A(WP|MT|artifact)-[A-Za-z0-9/._-]{1,30}\Z")),
        "automation_level": draw(st.sampled_from(LEVELS)),
    }
    optional = {
        "decision": st.sampled_from(["approve", "reject", "defer"]),
        "confidence": st.floats(min_value=0, max_value=1, allow_nan=False),
        "rationale": st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200),
        "evidence_refs": st.lists(st.from_regex(r"\Aartifact://[a-z0-9/._-]{1,30}\Z"), max_size=5),
        "wp_id": _text_id,
        "mt_id": _text_id,
        "user_id": _text_id,
        "job_id": _text_id,
        "model_id": _text_id,
        "wsids": st.lists(_text_id, max_size=3),
        "activity_span_id": _text_id,
        "session_span_id": _text_id,
        "capability_id": _text_id,
        "policy_decision_id": _text_id,
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            event[key] = draw(strategy)
    return event


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """
    A valid event with one field dropped, replaced by arbitrary JSON, or one key added.
    """
    event = draw(valid_events())
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        event.pop(draw(st.sampled_from(sorted(event))))
    elif action == "replace":
        event[draw(st.sampled_from(sorted(event)))] = draw(json_values)
    else:
        event[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
    return event


def new_event_id() -> str:
    return str(uuid.uuid4())


# --- projection workloads (read side) ---------------------------------------------------
# Deterministic streams of FR events the write side accepts, covering every sequence the
# projections must fold: auto-approvals, model rejects/defers, human reviews answered at
# once, later, never, or in two rounds, LOCKED halts, and timestamps in every RFC 3339
# spelling the schema allows.


def projection_workload(n_decisions: int, seed: int = 0) -> list[dict[str, Any]]:  # noqa: C901, PLR0915
    """
    About 3.5 events per decision, in an order a real emitter could produce.
    """
    from datetime import UTC, datetime, timedelta, timezone

    from ledger.policy import Verdict, evaluate
    from ledger.vocabulary import AutomationLevel

    rng = random.Random(seed)  # noqa: S311 - a reproducible workload
    clock = datetime(2026, 2, 19, 12, 0, tzinfo=UTC)
    spellings = [
        lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        lambda t: t.strftime("%Y-%m-%dt%H:%M:%S.%f000z"),
        lambda t: t.astimezone(timezone(timedelta(hours=2))).strftime("%Y-%m-%dT%H:%M:%S.%f+02:00"),
    ]
    out: list[dict[str, Any]] = []
    later: list[tuple[int, list[dict[str, Any]]]] = []

    def fr(kind: str, base: dict[str, Any], actor: str, **fields: Any) -> dict[str, Any]:
        nonlocal clock
        clock += timedelta(milliseconds=rng.randint(1, 900))
        event = {
            "type": kind,
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "timestamp": rng.choice(spellings)(clock),
            "actor": actor,
            **base,
        }
        event.update({k: v for k, v in fields.items() if v is not None})
        return event

    def answer(base: dict[str, Any], *, final: bool) -> list[dict[str, Any]]:
        verdict = rng.choice(["approve", "reject", "defer"])
        events = [
            fr(
                "gov_human_intervention_received",
                base,
                "human",
                decision=verdict,
                user_id=rng.choice(["alice", "bob", "carol"]),
                rationale="reviewed",
            )
        ]
        if final:
            events.append(fr("gov_decision_applied", base, "system", decision=verdict))
        return events

    for i in range(n_decisions):
        gate = rng.choice([*GATES, "DataExport"])
        level = rng.choice(["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED", "SUPERVISED"])
        confidence = None if rng.random() < 0.1 else round(rng.random(), 3)
        model = rng.choice(["m-alpha", "m-beta", None])
        base = {
            "decision_id": f"d-{seed}-{i}",
            "gate_type": gate,
            "target_ref": f"WP-{i % 7}/MT-{i % 3}",
            "automation_level": level,
        }
        if rng.random() < 0.5:
            base["wp_id"] = f"WP-{i % 7}"
        outcome = evaluate(gate, AutomationLevel.parse(level), confidence)
        proposed = rng.choice(["approve", "approve", "reject", "defer"])
        if outcome.verdict is Verdict.HALT:
            proposed = "reject" if gate in ("CloudEscalation", "PolicyViolation") else "defer"
        created = fr(
            "gov_decision_created",
            base,
            "agent",
            decision=proposed,
            confidence=confidence,
            model_id=model or "m-gamma",
            evidence_refs=[f"artifact://{i}/a"] if rng.random() < 0.5 else None,
            rationale="because",
        )
        out.append(created)
        if outcome.verdict is Verdict.HALT or (
            outcome.verdict is Verdict.AUTO and proposed != "approve"
        ):
            out.append(fr("gov_decision_applied", base, "system", decision=proposed))
        elif outcome.verdict is Verdict.AUTO:
            out.append(fr("gov_auto_signature_created", base, "agent", model_id=model))
            out.append(fr("gov_decision_applied", base, "system", decision="approve"))
        else:
            out.append(
                fr(
                    "gov_human_intervention_requested",
                    base,
                    "system",
                    rationale=outcome.reason[:200],
                )
            )
            roll = rng.random()
            if roll < 0.3:
                out.extend(answer(base, final=True))
            elif roll < 0.8:
                # Answered later: some rounds are not final and ask the human again.
                events = answer(base, final=rng.random() < 0.7)
                if events[-1]["type"] != "gov_decision_applied":
                    events.append(fr("gov_human_intervention_requested", base, "system"))
                    events.extend(answer(base, final=True))
                later.append((len(out) + rng.randint(1, 40), events))
            # else: left awaiting a human
        due = [entry for entry in later if entry[0] <= len(out)]
        later = [entry for entry in later if entry[0] > len(out)]
        for _, events in due:
            out.extend(events)
    for _, events in later:
        out.extend(events)
    return out


# --- valid event streams (tamper evidence, fault tolerance) ------------------------------------

_GATES = ["SpecApproval", "RefinementSign"]


def _stamp(i: int) -> str:
    return (
        f"2026-03-{1 + i // 86400 % 28:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
    )


def valid_decision(index: int, rng: random.Random) -> list[dict[str, Any]]:
    """
    One complete, valid decision: auto-approved (001, 003, 002) or human-gated (001, 004, 005, 002).
    """
    decision_id = str(uuid.UUID(int=rng.getrandbits(128)))
    base = {
        "decision_id": decision_id,
        "gate_type": rng.choice(_GATES),
        "target_ref": f"WP-{index:06d}/MT-{rng.randrange(1, 9):02d}",
    }

    def event(event_type: str, actor: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": event_type,
            "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "timestamp": _stamp(index),
            "actor": actor,
            **base,
            **fields,
        }

    if rng.random() < 0.7:
        base["automation_level"] = "AUTONOMOUS"
        return [
            event(
                "gov_decision_created",
                "agent",
                decision="approve",
                confidence=0.97,
                rationale="checks passed",
                evidence_refs=[f"artifact://{index}/report.md"],
                model_id="local/model-a",
            ),
            event("gov_auto_signature_created", "agent", model_id="local/model-a"),
            event("gov_decision_applied", "system", decision="approve"),
        ]
    base["automation_level"] = "FULL_HUMAN"
    verdict = rng.choice(["approve", "reject"])
    return [
        event("gov_decision_created", "agent", decision="approve", confidence=0.5),
        event("gov_human_intervention_requested", "system", rationale="a human must decide"),
        event("gov_human_intervention_received", "human", decision=verdict, user_id="alice"),
        event("gov_decision_applied", "system", decision=verdict),
    ]


def valid_event_lines(events: int, seed: int | str = 0) -> list[bytes]:
    """
    At least ``events`` valid JSON Lines, whole decisions in order, reproducible from ``seed``.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    lines: list[bytes] = []
    index = 0
    while len(lines) < events:
        lines.extend(orjson.dumps(fr) for fr in valid_decision(index, rng))
        index += 1
    return lines


# --- hostile input (fuzzing) -------------------------------------------------------------------

_FIELDS = [
    "type",
    "event_id",
    "timestamp",
    "actor",
    "decision_id",
    "gate_type",
    "target_ref",
    "automation_level",
    "decision",
    "confidence",
    "rationale",
    "evidence_refs",
    "model_id",
    "wp_id",
    "mt_id",
    "job_id",
    "user_id",
    "wsids",
    "activity_span_id",
]

_fuzz_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)

#: Arbitrary JSON values, nested (integers past int64, longer text than ``json_values``).
fuzz_json_values = st.recursive(
    _fuzz_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


#: Values of every JSON type and a few pathological shapes, to put in any field.
wrong_values = st.one_of(
    fuzz_json_values,
    st.sampled_from(["", " ", "\x00", "\ud800x", "approve\n", "HYBRID ", "NaN", "1e999"]),
    st.integers(min_value=0, max_value=5).map(lambda n: "x" * (10**n)),
    st.integers(min_value=1, max_value=3000).map(_nested),
)


@st.composite
def mutated_event_lines(draw: st.DrawFn) -> bytes:
    """
    A valid event with some fields removed, replaced by wrong values, or added.
    """
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))  # noqa: S311
    decision = valid_decision(draw(st.integers(min_value=0, max_value=10**6)), rng)
    event = dict(draw(st.sampled_from(decision)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["drop", "replace", "add"]))
        name = draw(st.sampled_from(_FIELDS))
        if action == "drop":
            event.pop(name, None)
        else:
            event[name if action == "replace" else draw(st.text(max_size=10))] = draw(wrong_values)
    return _dumps(event)


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        # Integers past 64 bits, lone surrogates, nesting deeper than orjson writes: the
        # standard library writes all of them, and they make good hostile input.
        import json

        try:
            return json.dumps(value).encode("utf-8", "surrogatepass")
        except RecursionError:
            return b'{"type":"gov_decision_created","rationale":' + b"[" * 600 + b"]" * 600 + b"}"


@st.composite
def raw_lines(draw: st.DrawFn) -> bytes:
    """
    Raw bytes: invalid UTF-8, truncated JSON, NaN/Infinity tokens, deep nesting, huge lines.
    """
    kind = draw(st.integers(min_value=0, max_value=6))
    if kind == 0:
        return draw(st.binary(max_size=200)).replace(b"\n", b" ")
    if kind == 1:
        line = valid_event_lines(1, draw(st.integers(min_value=0, max_value=10**6)))[0]
        cut = draw(st.integers(min_value=0, max_value=len(line)))
        return line[:cut]
    if kind == 2:
        token = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0"]))
        return b'{"type":"gov_decision_created","confidence":' + token + b"}"
    if kind == 3:
        depth = draw(st.integers(min_value=100, max_value=100_000))
        return b"[" * depth + b"]" * depth
    if kind == 4:
        line = valid_event_lines(1, draw(st.integers(min_value=0, max_value=10**6)))[0]
        at = draw(st.integers(min_value=0, max_value=len(line)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\ud800"]))
        return line[:at] + junk + line[at:]
    if kind == 5:
        return _dumps(draw(fuzz_json_values))
    size = draw(st.sampled_from([10_000, 100_000, 1_100_000]))
    return b'{"type":"gov_decision_created","rationale":"' + b"a" * size + b'"}'


#: One input line of any kind: valid, mutated, or raw garbage.
hostile_lines = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(lambda s: valid_event_lines(1, s)[0]),
    mutated_event_lines(),
    raw_lines(),
)


_TOKENS = [
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"1e999",
    b"null",
    b"true",
    b"[]",
    b"{}",
    b'"x"',
    b"18446744073709551616",
    b'"\\ud800"',
    b"-0.0",
    b'""',
]


def byte_mutations(seed: int, count: int) -> list[bytes]:
    """
    ``count`` classic fuzzer mutations (bit flips, splices, deletions, token swaps) of valid lines.

    Cheap and deterministic in ``seed``, so a Hypothesis example can carry many of them.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    base = valid_event_lines(count, seed=f"mutate-{seed}")
    out: list[bytes] = []
    for line in base[:count]:
        data = bytearray(line)
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(6)
            at = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            elif op == 2:
                del data[at : at + rng.randint(1, 16)]
            elif op == 3:
                # Replace a JSON value (after a colon) with a hostile token.
                colon = data.find(b":", at)
                if colon != -1:
                    end = min(
                        (i for i in (data.find(b",", colon), data.find(b"}", colon)) if i != -1),
                        default=len(data),
                    )
                    data[colon + 1 : end] = rng.choice(_TOKENS)
            elif op == 4:
                chunk = data[at : at + rng.randint(1, 40)]
                data[at:at] = chunk * rng.randint(1, 50)
            else:
                data = data.replace(b'"', b"'", 1) if rng.random() < 0.5 else data.upper()
        out.append(bytes(data).replace(b"\n", b" "))
    return out


# --- credentials (refs, not payloads: 11.5.4) ---------------------------------------------------

#: Invisible characters (Unicode Cf and other default-ignorables) an attacker or a copy-paste
#: can put inside a secret: zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen,
#: bidi marks, embeddings and isolates, a variation selector, a tag character.
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e", "\u200f",
    "\u202a", "\u202e", "\u2066", "\u2069", "\u180e", "\ufe0f", "\U000e0041",
]  # fmt: skip

#: The free-text fields of an event: ids and refs the ledger stores as given. (gate_type is a
#: bounded token since issue 10 section 2: a secret there is refused by its pattern or guard.)
FREE_TEXT_FIELDS = [
    "decision_id", "target_ref", "rationale", "wp_id", "mt_id", "model_id",
    "job_id", "user_id", "capability_id", "policy_decision_id", "activity_span_id",
    "session_span_id", "wsids", "evidence_refs",
]  # fmt: skip

_SECRET_NAMES = [
    "password", "passwd", "pwd", "passphrase", "secret", "token", "api key", "api_key",
    "apikey", "api-key", "access key", "access_key", "private key", "private_key",
    "client secret", "client_secret", "credential", "credentials", "account_key",
]  # fmt: skip
_NAME_PREFIXES = ["", "DB_", "AWS_", "GITHUB_", "OPENAI_", "x-", "my_", "aws_secret_", "PG"]
_NAME_SUFFIXES = ["", "_VALUE", "_B64", "2", "_prod", "_plain"]
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _chars(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=low, max_size=high)


@st.composite
def _mixed(draw: st.DrawFn, alphabet: str, low: int, high: int) -> str:
    # A realistic random token body: it has a digit, an upper- and a lower-case letter.
    body = draw(_chars(alphabet, low - 3, high - 3))
    extra = draw(
        st.permutations(
            [
                draw(st.sampled_from("0123456789")),
                draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ")),
                draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz")),
            ]
        )
    )
    at = draw(st.integers(min_value=0, max_value=len(body)))
    return body[:at] + "".join(extra) + body[at:]


#: A secret's value after ``name=``: 8-40 characters, letters and digits and symbols.
secret_values = _mixed(_ALNUM + "!#%&()*+,-./:;<=>?@[]^_{|}~", 8, 40).filter(
    lambda v: v[0].isalnum() and v[-1].isalnum() and "://" not in v
)


def _random_case(draw: st.DrawFn, text: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(text, flips, strict=True))


@st.composite
def key_value_secrets(draw: st.DrawFn) -> str:
    """
    ``NAME=value``, ``"name": "value"``, ``Name: value`` with any prefix/suffix and case.
    """
    name = draw(st.sampled_from(_NAME_PREFIXES)) + draw(st.sampled_from(_SECRET_NAMES))
    name = _random_case(draw, name + draw(st.sampled_from(_NAME_SUFFIXES)))
    value = draw(secret_values)
    form = draw(st.sampled_from(
        ["{n}={v}", '"{n}": "{v}"', "{n}: {v}", "{n} = {v}", "'{n}' => '{v}'", "{n} := {v}",
         "{n}:\n  {v}", "--{n}={v}", "{n}='{v}'"]
    ))  # fmt: skip
    return form.format(n=name, v=value)


@st.composite
def authorization_secrets(draw: st.DrawFn) -> str:
    """
    ``Authorization: <scheme> <credential>`` headers, any case.
    """
    header = draw(st.sampled_from(["Authorization", "Proxy-Authorization"]))
    scheme = draw(st.sampled_from(["Basic", "Bearer", "token", "Digest", "Negotiate", "ApiKey"]))
    credential = draw(_mixed(_ALNUM + "+/=._-", 12, 60))
    text = _random_case(draw, f"{header}:{draw(st.sampled_from([' ', '', '  ']))}{scheme}")
    return f"{text} {credential}"


@st.composite
def private_key_blocks(draw: st.DrawFn) -> str:
    """
    PEM private-key headers in any case with any whitespace (non-breaking included).
    """
    kind = draw(st.sampled_from(["", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED ", "PGP "]))
    space = draw(st.sampled_from([" ", "\u00a0", "  ", "\t", "\u2002", "\u3000"]))
    header = f"-----BEGIN{space}{kind}PRIVATE{space}KEY-----".replace(" ", space)
    return _random_case(draw, header) + draw(st.sampled_from(["", "\nMIIEvQIBADANBg", "MIIEow"]))


_URL_PASSWORD = _ALNUM + "!$%&()*+,;=:@~-._/?#"


@st.composite
def url_passwords(draw: st.DrawFn) -> str:
    """
    ``scheme://user:password@host/...`` whatever characters the password holds.
    """
    scheme = draw(st.sampled_from(
        ["https", "http", "postgresql", "mysql", "redis", "amqp", "mongodb+srv", "ftp", "git+ssh"]
    ))  # fmt: skip
    user = draw(_chars("abcdefghijklmnopqrstuvwxyz0123456789._-", 0, 12))
    password = draw(
        _chars(_URL_PASSWORD, 1, 30).filter(lambda p: p[0].isalpha() and p.lower() != "x" * len(p))
    )
    host = draw(st.from_regex(r"\A[a-z][a-z0-9-]{0,15}(\.[a-z]{2,6})?(:[0-9]{2,5})?\Z"))
    path = draw(st.sampled_from(["", "/", "/db", "/org/repo.git", "/?q=1"]))
    return f"{_random_case(draw, scheme)}://{user}:{password}@{host}{path}"


def _jwt(parts: list[str]) -> str:
    return f"eyJ{parts[0]}.eyJ{parts[1]}.{parts[2]}"


_B64URL = _ALNUM + "_-"

#: The common token formats: AWS, GitHub, Slack, OpenAI/Anthropic, Google, Stripe, JWT,
#: GitLab, npm, PyPI, Hugging Face, SendGrid, Google OAuth, age, bare Bearer tokens.
token_secrets = st.one_of(
    st.tuples(st.sampled_from(["AKIA", "ASIA"]), _chars(_UPPER_DIGITS, 16, 16)).map("".join),
    st.tuples(
        st.sampled_from(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]), _chars(_ALNUM, 36, 40)
    ).map("".join),
    _chars(_ALNUM + "_", 22, 82).map("github_pat_".__add__),
    st.tuples(
        st.sampled_from(["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"]), _mixed(_ALNUM + "-", 10, 50)
    ).map("".join),
    st.tuples(
        st.sampled_from(["sk-", "sk-proj-", "sk-ant-api03-", "sk-svcacct-"]),
        _mixed(_B64URL, 20, 96),
    ).map("".join),
    _chars(_B64URL, 35, 35).map("AIza".__add__),
    st.tuples(st.sampled_from(["sk_live_", "rk_live_"]), _chars(_ALNUM, 16, 40)).map("".join),
    st.lists(_chars(_B64URL, 8, 40), min_size=3, max_size=3).map(_jwt),
    st.tuples(st.sampled_from(["glpat-", "glrt-"]), _chars(_B64URL, 20, 30)).map("".join),
    _chars(_ALNUM, 36, 36).map("npm_".__add__),
    _chars(_B64URL, 50, 90).map("pypi-AgE".__add__),
    _chars(_ALNUM, 30, 40).map("hf_".__add__),
    st.tuples(st.from_regex(r"\Axapp-[0-9]-\Z"), _chars(_ALNUM, 10, 40)).map("".join),
    _chars(_B64URL, 20, 80).map("ya29.".__add__),
    st.tuples(_chars(_B64URL, 22, 22), _chars(_B64URL, 43, 43)).map(lambda p: f"SG.{p[0]}.{p[1]}"),
    _mixed(_ALNUM + "._~+/-", 20, 60).map("Bearer ".__add__),
    _chars(_UPPER_DIGITS, 58, 58).map("AGE-SECRET-KEY-1".__add__),
)


def _with_invisible(draw: st.DrawFn, secret: str) -> str:
    # Zero-width and other invisible characters, anywhere in the secret (or nowhere).
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(secret)))
        secret = secret[:at] + draw(st.sampled_from(INVISIBLE)) + secret[at:]
    return secret


@st.composite
def credentials(draw: st.DrawFn) -> str:
    """
    One credential of any form the guard must refuse, possibly with invisible characters
    inserted anywhere in it.
    """
    secret = draw(
        st.one_of(
            key_value_secrets(),
            authorization_secrets(),
            private_key_blocks(),
            url_passwords(),
            token_secrets,
        )
    )
    return _with_invisible(draw, secret)


#: Text around a secret: ASCII prose, without the characters that would glue onto it.
surrounding_text = st.text(
    alphabet=st.characters(codec="ascii", categories=("L", "N", "Zs"), include_characters=".,"),
    max_size=30,
)


@st.composite
def embedded_credentials(draw: st.DrawFn) -> tuple[str, str]:
    """
    (text carrying a credential, the credential): the credential alone, or between words.
    """
    secret = draw(credentials())
    if draw(st.booleans()):
        return secret, secret
    sep = draw(st.sampled_from([" ", "\n", " (", "; "]))
    return f"{draw(surrounding_text)}{sep}{secret}{sep[::-1]}{draw(surrounding_text)}", secret


def full_event(**changes: Any) -> dict[str, Any]:
    """
    A valid gov_decision_created carrying every optional string field (then ``changes``).
    """
    event: dict[str, Any] = {
        "type": "gov_decision_created",
        "event_id": new_event_id(),
        "timestamp": "2026-02-19T15:00:00Z",
        "actor": "agent",
        "decision_id": "dec-6c2b4b1a",
        "gate_type": "SpecApproval",
        "target_ref": "WP-1/MT-03",
        "automation_level": "HYBRID",
        "decision": "approve",
        "confidence": 0.9,
        "rationale": "spec is complete; password policy reviewed; token budget 4096",
        "evidence_refs": ["artifact://wp-1/report.md", "https://example.com/path?q=1"],
        "wp_id": "WP-1",
        "mt_id": "MT-03",
        "model_id": "local/qwen2.5-coder-32b",
        "job_id": "job-5db2ea41-5500-493e-8a7f-929d52fb7f50",
        "user_id": "alice@example.org",
        "wsids": ["ws-1", "ws-2"],
        "activity_span_id": "span-a1",
        "session_span_id": "span-s1",
        "capability_id": "cap.read",
        "policy_decision_id": "pd-7",
    }
    event.update(changes)
    return event
