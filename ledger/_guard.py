"""Refs, not payloads (11.5.4, work packet risk map): is a string credential-shaped?

Pure: no I/O. The ledger asks two questions of this module. ``credential_field``
names the first field of an event that carries credential-like material, so that
``validation.normalise`` refuses it; ``is_credential_shaped`` says whether one
string (an event_id, a type, a key name) may be shown in an error or a result line.

How it decides, per string:

1. **Normalise.** ASCII text (the common case) is used as it is. Other text is put
   through Unicode NFKC (full-width letters, non-breaking spaces, ligatures become
   their plain forms) with every invisible character removed (category Cf: zero-width
   space and joiners, BOM, soft hyphen, bidi controls; plus the other default-ignorable
   code points such as variation selectors). Its case-folded form is also checked by
   the rules that ignore case.
2. **Scan.** All the strings of an event are scanned together in one Hyperscan block
   scan (a multi-pattern automaton: under 1 us per event for the scan, ~3 us with
   gathering the strings; benchmarks/guard.py).
   The engine sees each rule with its look-arounds removed, a superset of the rule,
   so it never misses a credential; it only finds candidates.
3. **Confirm.** Only on a hit (rare), the rules that hit are run with Python's ``re``
   on each string, with their look-arounds and their look-alike exceptions
   (``password_policy: strict``, ``max_tokens=128000``, ``https://host:8443/@alice``,
   ``password: ***``), to decide and to find the field.

Every repetition in a rule is bounded or anchored on a literal, so the confirmation
stays linear in the length of the string (strings are at most 4,096 characters).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import hyperscan

__all__ = ["REDACTED", "credential_field", "is_credential_shaped", "redact"]

#: What is shown instead of a credential-shaped value (an unknown type, an undeclared key).
REDACTED: Final = "<redacted>"

# --- look-alike exceptions ---------------------------------------------------------------

#: Values that say something about a secret without being one ("password: rotated").
_NOT_A_VALUE: Final = frozenset(
    {
        "none", "null", "nil", "empty", "blank", "unset", "undefined", "n/a", "na",
        "redacted", "removed", "hidden", "masked", "omitted", "rotated", "revoked", "expired",
        "changed", "reset", "required", "optional", "provided", "present", "missing", "set",
        "ok", "yes", "no", "true", "false", "on", "off", "enabled", "disabled", "todo", "tbd",
        "unknown", "default", "same", "example", "placeholder", "see", "via", "from",
    }
)  # fmt: skip

#: A name whose last part is one of these names something about a secret, not the secret:
#: ``credential_id``, ``secret_ref``, ``password_policy``, ``token_type``, ``tokenLimit``.
_META_SUFFIXES: Final = frozenset(
    {
        "id", "ids", "ref", "refs", "reference", "name", "names", "type", "types", "kind",
        "path", "file", "uri", "url", "policy", "policies", "length", "len", "ttl", "expiry",
        "expires", "expiration", "count", "total", "budget", "limit", "limits", "max", "min",
        "version", "scope", "scopes", "rotation", "format", "field", "header", "label", "env",
        "var", "source", "store", "manager", "provider", "vault", "endpoint", "usage", "used",
        "rate", "size", "index", "rule", "rules", "strength", "age", "mode", "status",
        "enabled", "required", "prompt",
    }
)  # fmt: skip

# Placeholders and references that stand for a secret kept elsewhere: ``${DB_PASSWORD}``,
# ``$API_KEY``, ``<token>``, ``{{ secret }}``, ``%PASSWORD%``, and redaction masks (``***``).
_PLACEHOLDER: Final = re.compile(
    r"\$\{[^}]*\}|\$[A-Z_][A-Z0-9_]*|<[^<>]*>|\{\{[^}]*\}\}|\{[A-Za-z_][\w.]*\}"
    r"|%[A-Za-z_][A-Za-z0-9_]*%|[*\u2022.]+|x+|X+|#+",
    re.ASCII,
)
_A_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://", re.ASCII)
_PORT: Final = re.compile(r"[0-9]{1,5}(?:[/?#]|$)", re.ASCII)
_NAME_PARTS: Final = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z0-9]+(?![a-z])", re.ASCII)
_TRAILING: Final = ".,;:!?)]}"
_PASSWORD_MIN: Final = 4  # passwords are short (hunter2); other secrets are longer
_SECRET_MIN: Final = 6
_OPAQUE_MIN: Final = 8  # an Authorization credential
_OPAQUE_WORDLIKE: Final = 16  # all letters, lower case after the first, yet still a token


def _is_placeholder(value: str, *, words: bool = True) -> bool:
    if words and value.lower() in _NOT_A_VALUE:
        return True
    return _PLACEHOLDER.fullmatch(value) is not None


def _secret_value(value: str, minimum: int) -> bool:
    """
    Whether ``value`` (what follows ``name=``) can be a secret rather than a word about one.
    """
    bare = value.rstrip(_TRAILING)
    return (
        len(bare) >= minimum
        and not _is_placeholder(value)
        and not _is_placeholder(bare)
        and _A_URL.match(value) is None  # a reference to where the secret is kept
    )


def _name_ends_as_a_name(keyword: str, suffix: str) -> bool:
    """
    Whether ``keyword + suffix`` still names a secret (``DB_PASSWORD``, ``apiToken``,
    ``secrets``) rather than another word (``tokenizer``, ``secretary``) or a field about
    one (``password_policy``, ``credentialId``).
    """
    if suffix[:1] in ("s", "S") and (len(suffix) == 1 or not suffix[1].isalpha()):
        suffix = suffix[1:]  # plural: tokens, SECRETS, api_keys
    if not suffix:
        return True
    first = suffix[0]
    glued = first.isalpha() and not (first.isupper() and keyword[-1].islower())
    if glued:
        return False  # tokenizer, secretary, PASSWORDHASH: another word
    parts = _NAME_PARTS.findall(suffix)
    return not parts or parts[-1].lower() not in _META_SUFFIXES


def _key_value(m: re.Match[str]) -> bool:
    keyword, suffix, value = m["name"], m["suffix"], m["value"]
    if not _name_ends_as_a_name(keyword, suffix):
        return False
    family = keyword.lower()
    if family == "pwd" and value[:1] in ("/", "~", "."):
        return False  # PWD=/home/alice: the working directory, not a password
    if family.startswith("token") and not any(c.isalpha() for c in value):
        return False  # max_tokens=128000, tokens: 4096: a count
    minimum = _PASSWORD_MIN if family.startswith(("pass", "pwd")) else _SECRET_MIN
    return _secret_value(value, minimum)


def _opaque(value: str) -> bool:
    """
    An opaque credential rather than a word: 8+ characters, not a placeholder, and a digit,
    a symbol, an upper-case letter after the first (base64) or 16+ characters.
    """
    bare = value.rstrip(_TRAILING)
    return (
        len(bare) >= _OPAQUE_MIN
        and not _is_placeholder(value)
        and not _is_placeholder(bare)
        and (len(bare) >= _OPAQUE_WORDLIKE or not bare.isalpha() or not bare[1:].islower())
    )


def _authorization(m: re.Match[str]) -> bool:
    return _opaque(m["value"] or m["opaque"])


def _bearer(m: re.Match[str]) -> bool:
    return not m["value"].isalpha()


def _url_password(m: re.Match[str]) -> bool:
    password = m["password"]
    if _PORT.match(password):
        return False  # https://host:8443/users/@alice: a port, then a path
    return not _is_placeholder(password.split("@", 1)[0], words=False)  # postgresql://u:***@h


def _mixed(m: re.Match[str]) -> bool:
    body = m["body"]
    return (
        any(c.isdigit() for c in body)
        and any(c.isupper() for c in body)
        and any(c.islower() for c in body)
    )


# --- the rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    name: str
    pattern: str  # Python ``re`` syntax; the engine gets it without its look-arounds
    caseless: bool = False
    accept: Callable[[re.Match[str]], bool] | None = None  # False: a look-alike

    @functools.cached_property
    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.ASCII | (re.IGNORECASE if self.caseless else 0))

    def search(self, text: str) -> bool:
        """
        Whether a match in ``text`` survives the look-alike exceptions.
        """
        compiled, pos = self.compiled, 0
        while (m := compiled.search(text, pos)) is not None:
            if self.accept is None or self.accept(m):
                return True
            pos = m.start() + 1  # an exception here must not hide a later overlapping match
        return False


_Q = "[\"'`]?"  # an optional quote around a name or a value
_SEP = r"\s{0,16}(?:[:=][=>]?)\s{0,16}"  # = : := => with spaces or a line break around

RULES: Final[tuple[_Rule, ...]] = (
    # NAME=value, "name": "value", Name: value (DB_PASSWORD=, AWS_SECRET_ACCESS_KEY=,
    # GITHUB_TOKEN=, OPENAI_API_KEY=, pwd=, "db_password": ...).
    _Rule(
        "key_value",
        r"(?P<name>passw(?:or)?d|passphrase|pwd|secret|token|credential"
        r"|(?:api|access|private|account)[ _.-]?key)"
        rf"(?P<suffix>[a-z0-9_.-]{{0,64}}){_Q}{_SEP}{_Q}(?P<value>[^\s\"'`]+)",
        caseless=True,
        accept=_key_value,
    ),
    # Authorization: Basic ... / Bearer ... / token ... (and Proxy-Authorization).
    _Rule(
        "authorization",
        rf"authorization{_Q}{_SEP}{_Q}(?:(?:basic|bearer|token|digest|negotiate|ntlm|oauth"
        r"|api-?key|key|jwt|bot|sso|ssws|dpop|hawk|mac|hoba|mutual|gapitoken|geniekey|splunk"
        r"|aws4-hmac-sha256|scram-sha-1|scram-sha-256|vapid|private-token)\s{1,16}"
        r"(?P<value>[^\s\"'`]{8,})|(?P<opaque>[a-z0-9+/=._~-]{20,}))",
        caseless=True,
        accept=_authorization,
    ),
    _Rule(
        "bearer",
        r"(?<![a-z0-9])bearer\s{1,16}(?P<value>[a-z0-9._~+/=-]{20,})",
        caseless=True,
        accept=_bearer,
    ),
    # -----BEGIN [RSA |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----, any case and spacing.
    _Rule(
        "private_key_block",
        r"-{3}\s{0,16}begin\s{1,16}(?:[a-z0-9]{1,24}\s{1,16}){0,4}private\s{0,16}key",
        caseless=True,
    ),
    _Rule("putty_key", r"putty-user-key-file-[0-9]", caseless=True),
    # scheme://user:password@host, whatever the password holds (p@ss, pa:ss).
    _Rule(
        "url_password",
        r"://[^\s/@:]*:(?P<password>[^\s]+)@",  # the scheme does not matter
        caseless=True,
        accept=_url_password,
    ),
    # Common token formats (case matters: an AWS key id is upper case, a GitHub token is not).
    _Rule("aws_access_key_id", r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"),
    _Rule("github_token", r"(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9]{36,}"),
    _Rule("github_pat", r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{22,}"),
    _Rule(
        "gitlab_token", r"(?<![A-Za-z0-9])gl(?:pat|dt|rt|cbt|ptt|ft|soat|imt)-[A-Za-z0-9_-]{20,}"
    ),
    _Rule(
        "slack_token",
        r"(?<![A-Za-z0-9])xox[abposre]-(?=[A-Za-z-]{0,64}[0-9])[A-Za-z0-9-]{10,}",
    ),
    _Rule("slack_app_token", r"(?<![A-Za-z0-9])xapp-[0-9]-[A-Za-z0-9-]{10,}"),
    _Rule(
        "slack_webhook",
        r"hooks\.slack\.com/services/T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{16,}",
    ),
    _Rule(
        "openai_anthropic_key",
        r"(?<![A-Za-z0-9])sk-(?:ant-(?:api|admin)[0-9]{2}-|proj-|svcacct-|admin-)?"
        r"(?P<body>[A-Za-z0-9_-]{20,})",
        accept=_mixed,  # sk-learn-pipeline-regression is a name, not a key
    ),
    _Rule("google_api_key", r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_-]{35}"),
    _Rule("google_oauth_token", r"(?<![A-Za-z0-9])ya29\.[0-9A-Za-z_-]{20,}"),
    _Rule("stripe_key", r"(?<![A-Za-z0-9])[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"),
    _Rule(
        "jwt",
        r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    ),
    _Rule("npm_token", r"(?<![A-Za-z0-9])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])"),
    _Rule("pypi_token", r"(?<![A-Za-z0-9])pypi-AgE[A-Za-z0-9_-]{50,}"),
    _Rule("huggingface_token", r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"),
    _Rule("sendgrid_key", r"(?<![A-Za-z0-9])SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
    _Rule("shopify_token", r"(?<![A-Za-z0-9])shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    _Rule("digitalocean_token", r"(?<![A-Za-z0-9])do[opr]_v1_[a-f0-9]{64}"),
    _Rule("age_secret_key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
)

_LOOKAROUND: Final = re.compile(r"\(\?<?[=!]")


def engine_expression(pattern: str) -> str:
    """
    ``pattern`` without its look-arounds: what the scanning engine is given.

    Dropping an assertion only widens what matches, so the engine finds every match of
    the rule (and sometimes more, which the confirmation in Python then discards).
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if _LOOKAROUND.match(pattern, i):
            i = _group_end(pattern, i)
        else:
            step = 2 if pattern[i] == "\\" else 1
            out.append(pattern[i : i + step])
            i += step
    return "".join(out)


def _group_end(pattern: str, start: int) -> int:
    # The index just after the group opened at ``start`` (escapes and classes skipped).
    depth, i, in_class = 0, start, False
    while True:
        c = pattern[i]
        i += 2 if c == "\\" else 1
        if c == "\\":
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c in "()":
            depth += 1 if c == "(" else -1
            if depth == 0:
                return i


# --- normalisation -----------------------------------------------------------------------


@functools.cache
def _invisible() -> dict[int, None]:
    # Category Cf (format characters) occurs only in planes 0, 1 and 14; the other
    # default-ignorable code points are listed by hand (Unicode DerivedCoreProperties).
    planes = (range(0x20000), range(0xE0000, 0xE1000))
    drop = {cp for plane in planes for cp in plane if unicodedata.category(chr(cp)) == "Cf"}
    drop.update((0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFFA0))
    drop.update(range(0x180B, 0x1810))  # Mongolian free variation selectors
    drop.update(range(0xFE00, 0xFE10))  # variation selectors
    drop.update(range(0xE0100, 0xE01F0))  # variation selectors supplement
    return dict.fromkeys(drop)


def _forms(text: str) -> list[tuple[str, bool]]:
    """
    ``text`` as the rules see it: (form, for the case-insensitive rules only) pairs.

    ASCII text is its own only form. Other text is seen with invisible characters removed,
    then also NFKC-normalised (when that changes it: a combining mark can change the
    character before it, so both are kept) and case-folded (``PAẞWORD``).
    """
    if text.isascii():
        return [(text, False)]
    invisible = _invisible()
    visible = text.translate(invisible)
    plain = unicodedata.normalize("NFKC", visible).translate(invisible)
    forms = [(plain, False)]
    if visible != plain:
        forms.append((visible, False))
    folded = plain.casefold()
    if folded != plain:
        forms.append((folded, True))
    return forms


# --- the engine --------------------------------------------------------------------------


class _Engine:
    """
    The rules compiled once into one Hyperscan database; one scratch space per thread.
    """

    def __init__(self, rules: tuple[_Rule, ...]) -> None:
        self.rules = rules
        self.database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        flags = [
            hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if r.caseless else 0)
            for r in rules
        ]
        self.database.compile(
            expressions=[engine_expression(r.pattern).encode("ascii") for r in rules],
            ids=list(range(len(rules))),
            elements=len(rules),
            flags=flags,
        )
        self._base = hyperscan.Scratch(self.database)
        self._local = threading.local()

    def hits(self, data: bytes) -> set[int]:
        """
        The ids of the rules whose engine expression matches somewhere in ``data``.
        """
        try:
            scratch = self._local.scratch
        except AttributeError:  # the scan releases the GIL: a thread may not share its scratch
            scratch = self._local.scratch = self._base.clone()
        found: set[int] = set()
        self.database.scan(data, match_event_handler=_found, context=found, scratch=scratch)
        return found


def _found(rule: int, _start: int, _end: int, _flags: int, found: object) -> None:
    cast("set[int]", found).add(rule)  # the set passed to the scan as its context


@functools.cache
def _engine() -> _Engine:
    return _Engine(RULES)


def _first_credential(texts: list[str]) -> int | None:
    """
    The index of the first text in ``texts`` that carries a credential, or None.
    """
    joined = "\n".join(texts)
    if joined.isascii():  # the common case: nothing to normalise, one scan
        forms = None
        data = joined.encode("ascii")
    else:
        forms = [_forms(text) for text in texts]
        scanned = "\n".join(form for text_forms in forms for form, _ in text_forms)
        data = scanned.encode("utf-8", "surrogatepass")
    engine = _engine()
    hits = engine.hits(data)
    if not hits:
        return None
    rules = [engine.rules[i] for i in sorted(hits)]
    for index, text in enumerate(texts):
        text_forms = [(text, False)] if forms is None else forms[index]
        for rule in rules:
            if any(
                rule.search(form) for form, caseless in text_forms if rule.caseless or not caseless
            ):
                return index
    return None


def is_credential_shaped(text: str) -> bool:
    """
    Whether ``text`` carries credential-like material: a key=value secret, an
    Authorization header, a private key block, a URL with a password, or a token of a
    known format, after Unicode normalisation and with invisible characters removed.
    """
    return _first_credential([text]) is not None


def redact(text: str) -> str:
    """
    ``text`` as it may be shown in an error or a result: itself, or ``REDACTED`` when it
    is credential-shaped.
    """
    return REDACTED if is_credential_shaped(text) else text


def _strings(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for field, value in event.items():
        if isinstance(value, str):
            pairs.append((field, value))
        elif isinstance(value, list):
            pairs.extend((field, item) for item in value if isinstance(item, str))
    return pairs


def credential_field(event: Mapping[str, Any]) -> str | None:
    """
    The first field of ``event`` whose string value (or a string item of its list value)
    is credential-shaped; None when there is none. All strings are scanned at once.
    """
    # The common case first, at the least cost: gather the strings, scan, none found.
    texts: list[str] = []
    for value in event.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list):
            texts.extend([item for item in value if isinstance(item, str)])
    if _first_credential(texts) is None:
        return None
    pairs = _strings(event)
    found = _first_credential([text for _, text in pairs])
    return None if found is None else pairs[found][0]
