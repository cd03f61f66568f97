"""The error taxonomy: seven event codes, one class each; every code is in the README."""

from __future__ import annotations

import re
from pathlib import Path

from ledger import errors

README = Path(__file__).resolve().parents[1] / "README.md"
SEVEN = [
    "invalid_schema",
    "unknown_event_type",
    "binding_mismatch",
    "forbidden_gate",
    "locked_halt",
    "sequence_violation",
    "duplicate",
]


def error_classes():
    return [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.LedgerError)
        and cls is not errors.LedgerError
    ]


def event_error_classes():
    return [cls for cls in error_classes() if cls.code in errors.CODES]


def test_the_event_codes_are_exactly_the_seven_of_the_taxonomy():
    """
    Work packet ERROR_TAXONOMY_PLAN: one exception class per event code, under one base.
    """
    assert sorted(cls.code for cls in event_error_classes()) == sorted(SEVEN)
    assert list(errors.CODES) == SEVEN


def test_every_error_class_has_a_code_of_its_own():
    """
    Callers branch on ``code``: two classes never share one.
    """
    codes = [cls.code for cls in error_classes()]
    assert len(codes) == len(set(codes))


def test_each_error_is_also_the_nearest_builtin():
    """
    Callers may catch by kind: schema errors are ValueErrors, policy refusals PermissionErrors.
    """
    assert issubclass(errors.InvalidSchemaError, ValueError)
    assert issubclass(errors.ForbiddenGateError, PermissionError)
    assert issubclass(errors.LockedHaltError, PermissionError)
    assert issubclass(errors.StoreError, OSError)
    error = errors.BindingMismatchError("m", field="target_ref", rule="r", decision_id="d")
    assert (error.code, error.field, error.rule, error.decision_id) == (
        "binding_mismatch",
        "target_ref",
        "r",
        "d",
    )


def test_the_readme_table_lists_every_code_with_its_meaning():
    """
    The README's error-code table is generated from errors.py and must not drift.
    """
    text = README.read_text()
    table = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", text, flags=re.MULTILINE))
    from ledger.serve import _errors as service
    from projections import _errors as read_side

    read_errors = [
        read_side.ProjectionError,
        read_side.ProjectionBusyError,
        read_side.ReadOnlyQueryError,
    ]
    service_errors = [
        cls
        for cls in vars(service).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.LedgerError)
        and cls.__module__ == service.__name__
    ]
    assert len(service_errors) == 8
    for cls in [*error_classes(), *read_errors, *service_errors]:
        assert table.get(cls.code) == cls.meaning, cls.code
