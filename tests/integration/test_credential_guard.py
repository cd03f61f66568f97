"""Refs, not payloads, as a property: any secret, in any field, is refused and never repeated.

11.5.4 and the work packet's risk map ("PII/data leakage ... events must be refs only").
Hypothesis writes secrets of every form the guard knows (``NAME=value`` with random names,
prefixes, suffixes, values and case; Authorization headers; private key blocks with any
whitespace; URLs with a password; the common token formats), inserts invisible characters
anywhere in them, and places each in every string field of a valid event, as an undeclared
key's name, and as the event_id or type. Each is refused with the right code, and the
secret's text appears in no error message, no result line of ``validate_lines``, and nothing
the CLI prints.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger._guard import is_credential_shaped
from ledger.cli import main
from ledger.errors import LedgerError
from ledger.ingest import validate_lines
from ledger.validation import normalise
from tests.strategies import FREE_TEXT_FIELDS, INVISIBLE, embedded_credentials, full_event

LIST_FIELDS = ("wsids", "evidence_refs")
#: Where else a secret can sit, and the (code, rules, field) it is refused with there.
ELSEWHERE = {
    "event_id": ("invalid_schema", {"pattern"}, "event_id"),
    "timestamp": ("invalid_schema", {"pattern", "maxLength"}, "timestamp"),
    "actor": ("invalid_schema", {"enum"}, "actor"),
    "automation_level": ("invalid_schema", {"enum"}, "automation_level"),
    "decision": ("invalid_schema", {"enum"}, "decision"),
    "gate_type": ("invalid_schema", {"pattern", "no_credentials"}, "gate_type"),
    "type": ("unknown_event_type", {"11.5.7"}, "type"),
    "key": ("invalid_schema", {"additionalProperties"}, "<redacted>"),
}
PLACES = [*FREE_TEXT_FIELDS, *ELSEWHERE]


def _place(text: str, place: str, at: int) -> dict[str, Any]:
    """
    A valid event with ``text`` in ``place`` (a list field: at index ``at`` of its items).
    """
    event = full_event()
    if place in LIST_FIELDS:
        items = list(event[place])
        items.insert(at % (len(items) + 1), text)
        event[place] = items
    elif place == "key":
        event[text] = "value"
    else:
        event[place] = text
    return event


def _variants(secret: str) -> set[str]:
    # The secret as written, without its invisible characters, and both as JSON escapes them.
    visible = "".join(c for c in secret if c not in INVISIBLE)
    forms = {secret, visible}
    forms |= {orjson.dumps(f).decode()[1:-1] for f in list(forms)}
    return {f for f in forms if f.strip()}


def assert_not_echoed(secret: str, *texts: str) -> None:
    for form in _variants(secret):
        for text in texts:
            assert form not in text, (form, text)


def _expected(place: str) -> tuple[str, set[str], str]:
    return ELSEWHERE.get(place, ("invalid_schema", {"no_credentials"}, place))


@settings(max_examples=600, deadline=None)
@given(embedded_credentials(), st.sampled_from(PLACES), st.integers(min_value=0, max_value=3))
def test_a_secret_anywhere_is_refused_by_normalise_and_never_echoed(carried, place, at):
    """
    11.5.4: a secret in any string field is invalid_schema / no_credentials naming that
    field (by their own format for event_id, timestamp, enums; unknown_event_type for the
    type; additionalProperties for a key, shown as <redacted>); the message never repeats it.
    """
    text, secret = carried
    assert is_credential_shaped(text)
    with pytest.raises(LedgerError) as info:
        normalise(_place(text, place, at))
    error = info.value
    code, rules, field = _expected(place)
    assert (error.code, error.field) == (code, field)
    assert error.rule in rules
    if place in FREE_TEXT_FIELDS:
        assert "credential" in error.message
    assert_not_echoed(secret, error.message, str(error), orjson.dumps(error.as_dict()).decode())
    assert_not_echoed(secret, str(error.event_type), str(error.decision_id))


@settings(max_examples=400, deadline=None)
@given(embedded_credentials(), st.sampled_from(PLACES), st.integers(min_value=0, max_value=3))
def test_a_secret_anywhere_is_never_in_a_result_line(carried, place, at):
    """
    11.5.4: ``validate_lines`` reports the refusal with its code and field; the result line
    (event_id included) never repeats the secret.
    """
    text, secret = carried
    (result,) = validate_lines([orjson.dumps(_place(text, place, at))])
    code, _, field = _expected(place)
    assert (result.status, result.code, result.field) == ("rejected", code, field)
    assert_not_echoed(secret, result.to_json().decode())


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            embedded_credentials(),
            st.sampled_from(PLACES),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_cli_prints_no_secret_on_stdout_or_stderr(tmp_path_factory, capsys, placed):
    """
    11.5.4: ``govledger validate`` and ``govledger ingest`` refuse every line and print
    neither the secrets nor their tails, on stdout or on stderr.
    """
    source = tmp_path_factory.mktemp("secrets") / "in.jsonl"
    source.write_bytes(
        b"\n".join(orjson.dumps(_place(text, place, at)) for (text, _), place, at in placed) + b"\n"
    )
    capsys.readouterr()
    for command in (["validate"], ["--store", ":memory:", "ingest"]):
        assert main([*command, str(source)]) == 1
        out, err = capsys.readouterr()
        assert out.count('"rejected"') == len(placed)
        for (_, secret), _, _ in placed:
            assert_not_echoed(secret, out, err)


@pytest.mark.parametrize(
    "secret", ["AKIAIOSFODNN7EXAMPLE", "password=hunter22", "ghp_" + "a" * 36, str(uuid.uuid4())]
)
def test_the_property_holds_for_a_credential_shaped_decision_id_in_the_command_api(
    secret, memory_ledger
):
    """
    The command API names an unknown decision in its error, unless the name reads as a
    credential (a uuid is shown, as before).
    """
    with pytest.raises(LedgerError) as info:
        memory_ledger.apply_decision(secret)
    if is_credential_shaped(secret):
        assert_not_echoed(secret, str(info.value), str(info.value.decision_id))
    else:
        assert secret in str(info.value)
    with pytest.raises(LedgerError) as info:
        memory_ledger.record_human_decision(secret, "alice", "approve")
    assert (secret in str(info.value)) is not is_credential_shaped(secret)
