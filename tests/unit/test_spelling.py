"""Exact spellings only: near-misses of the normative names are refused by name (issue 10 §2).

2.6.8.12.4 / 2.6.8.12.6.3: AutoSignature MUST NOT be used for CloudEscalation or
PolicyViolation. A gate type outside the table is auto-approved under AUTONOMOUS, so a
spelling that only *looks* like a forbidden gate would walk around the rule.
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidSchemaError, UnknownEventTypeError
from ledger.validation import normalise
from ledger.vocabulary import GateType, imitated
from tests.unit.test_validation import VALID as _VALID

VALID = {**_VALID, "automation_level": "AUTONOMOUS", "confidence": 0.99}


def with_(**changes):
    event = copy.deepcopy(VALID)
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("spelling", "imitates"),
    [
        ("cloudescalation", "CloudEscalation"),
        ("CLOUDESCALATION", "CloudEscalation"),
        ("Cloud\u200bEscalation", "CloudEscalation"),  # zero-width space
        ("Cloud\u2060Escalation", "CloudEscalation"),  # word joiner
        ("\ufeffCloudEscalation", "CloudEscalation"),  # BOM
        ("PolicyViolation ", "PolicyViolation"),
        (" PolicyViolation", "PolicyViolation"),
        ("Policy Violation", "PolicyViolation"),
        ("Policy_Violation", "PolicyViolation"),
        ("policy-violation", "PolicyViolation"),
        ("\u0421loudEscalation", "CloudEscalation"),  # Cyrillic capital Es
        ("Cl\u043eudEscalation", "CloudEscalation"),  # Cyrillic small o
        ("P\u03bflicyViolation", "PolicyViolation"),  # Greek omicron
        ("\uff23\uff4c\uff4f\uff55\uff44Escalation", "CloudEscalation"),  # full-width
        ("Cl0udEscalation", "CloudEscalation"),
        ("CIoudEscalation", "CloudEscalation"),  # capital I for l
        ("Po1icyViolation", "PolicyViolation"),
        ("specapproval", "SpecApproval"),
        ("Scope\u00adChange", "ScopeChange"),  # soft hyphen
        ("RefinementSign\u202e", "RefinementSign"),  # bidi override
    ],
)
def test_a_near_miss_of_a_normative_gate_is_refused_naming_the_gate(spelling, imitates):
    """
    Issue 10 §2: case, compatibility form, look-alikes, invisible characters: refused.
    """
    with pytest.raises(InvalidSchemaError) as info:
        normalise(with_(gate_type=spelling))
    assert (info.value.field, info.value.rule) == ("gate_type", "gate_type_confusable")
    assert repr(imitates) in info.value.message


@pytest.mark.parametrize(
    "gate",
    [
        *(g.value for g in GateType),
        "MicroTaskValidation",
        "HumanIntervention",
        "Deploy.v2",
        "a-b_c",
    ],
)
def test_exact_gate_names_and_other_tokens_are_accepted(gate):
    """
    11.5.7: gate_type is an open string; other tokens stay valid gate types.
    """
    assert normalise(with_(gate_type=gate))["gate_type"] == gate


@pytest.mark.parametrize(
    "gate",
    ["Micro Task", "tab\there", "x" * 129, "caf\u00e9", "emoji\U0001f600", "a/b", "a\u200bb"],
)
def test_a_gate_type_is_a_bounded_token(gate):
    """
    Issue 10 §2: letters, digits, '_', '.' and '-', no whitespace, control or format characters.
    """
    with pytest.raises(InvalidSchemaError) as info:
        normalise(with_(gate_type=gate))
    assert info.value.field == "gate_type"
    assert info.value.rule in ("pattern", "gate_type_confusable")


@pytest.mark.parametrize(
    ("field", "spelling", "imitates"),
    [
        ("automation_level", "locked", "LOCKED"),
        ("automation_level", "LOCKED ", "LOCKED"),
        ("automation_level", "Full_Human", "FULL_HUMAN"),
        ("automation_level", "FULL HUMAN", "FULL_HUMAN"),
        ("automation_level", "supervised", "SUPERVISED"),
        ("decision", "Approve", "approve"),
        ("decision", "appr\u043eve", "approve"),
        ("actor", "Human", "human"),
        ("actor", "\u200bagent", "agent"),
    ],
)
def test_enumerated_fields_take_exact_spellings_only(field, spelling, imitates):
    """
    Issue 10 §2: automation_level, decision and actor: exact spellings only.
    """
    with pytest.raises(InvalidSchemaError) as info:
        normalise(with_(**{field: spelling}))
    assert (info.value.field, info.value.rule) == (field, f"{field}_confusable")
    assert repr(imitates) in info.value.message


def test_legacy_levels_stay_exact_spellings_of_their_own():
    """
    2.6.8.12.6.1: ASSISTED and SUPERVISED are accepted (as HYBRID); only they, spelled so.
    """
    for legacy in ("ASSISTED", "SUPERVISED"):
        assert normalise(with_(automation_level=legacy))["automation_level"] == "HYBRID"


@pytest.mark.parametrize(
    "spelling", ["Gov_Decision_Created", "gov_decision_created\u200b", "gov-decision-created"]
)
def test_a_near_miss_of_an_event_type_is_unknown_and_named(spelling):
    """
    11.5.7: only the five type strings exist; a look-alike is told which one it imitates.
    """
    with pytest.raises(UnknownEventTypeError) as info:
        normalise(with_(type=spelling))
    assert info.value.rule == "type_confusable"
    assert "'gov_decision_created'" in info.value.message


@given(
    st.sampled_from([g.value for g in GateType]),
    st.lists(st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", " "]), min_size=1),
    st.data(),
)
def test_no_invisible_insertion_makes_a_new_gate(gate, inserts, data):
    """
    Issue 10 §2, as a property: invisible characters anywhere in a normative name imitate it.
    """
    spelled = gate
    for insert in inserts:
        at = data.draw(st.integers(0, len(spelled)))
        spelled = spelled[:at] + insert + spelled[at:]
    assert imitated(spelled, [g.value for g in GateType]) == gate


@pytest.mark.parametrize(
    "timestamp",
    [
        "2016-12-31T23:59:60Z",  # a leap second (RFC 3339 5.7)
        "2016-12-31T15:59:60-08:00",  # the same leap second in local time
        "2026-02-19T15:00:00.123456789+00:00",  # nine fractional digits, as upstream emits
        "2026-02-19T15:00:00+23:59",
        "2026-02-19T15:00:00-00:00",
    ],
)
def test_real_rfc3339_timestamps_are_accepted(timestamp):
    """
    11.5.1: RFC 3339 timestamps, leap second included.
    """
    assert normalise(with_(timestamp=timestamp))["timestamp"] == timestamp


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-02-19T15:00:00+05:99",  # no minute 99 in an offset
        "2026-02-19T15:00:00+24:00",  # no hour 24 in an offset
        "2026-02-19T24:00:00Z",
        "2026-02-19T15:60:00Z",
        "2026-02-19T15:00:60Z",  # second 60 only at 23:59:60 UTC
        "2026-02-19T15:00:61Z",
    ],
)
def test_impossible_timestamps_are_refused(timestamp):
    """
    Issue 10 §1: offsets must be real; a second 60 is a leap second or nothing.
    """
    with pytest.raises(InvalidSchemaError) as info:
        normalise(with_(timestamp=timestamp))
    assert info.value.field == "timestamp"
    assert info.value.rule in ("pattern", "format")


class _Lying(dict):
    """
    A mapping that answers lookups with a clean event while it holds another one.
    """

    def __init__(self, shown, held):
        super().__init__(held)
        self._shown = shown

    def __getitem__(self, key):
        return self._shown[key]

    def get(self, key, default=None):
        return self._shown.get(key, default)

    def keys(self):
        return self._shown.keys()

    def items(self):
        return self._shown.items()

    def __iter__(self):
        return iter(self._shown)

    def __contains__(self, key):
        return key in self._shown

    def __len__(self):
        return len(self._shown)


def test_a_lying_mapping_is_judged_by_what_it_holds():
    """
    Issue 10 §1: the bytes stored are the bytes judged, whatever object the caller passed.
    """
    held = with_(confidence=7.5, rationale="x" * 10_000)
    with pytest.raises(InvalidSchemaError) as info:
        normalise(_Lying(VALID, held))
    assert info.value.field in ("confidence", "rationale")


def test_a_list_changed_after_the_call_changes_nothing_judged():
    """
    Issue 10 §1: the ledger judges and keeps its own copy, not the caller's list.
    """
    refs = ["artifact://a"]
    judged = normalise(with_(evidence_refs=refs))
    refs.append("postgres://admin:hunter2hunter2@db/prod")
    assert judged["evidence_refs"] == ["artifact://a"]
    assert judged.is_intact()
