"""The govledger CLI: one JSON result line per input line, exit statuses, exports."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from ledger.cli import main

ROOT = Path(__file__).resolve().parents[2]


def event(event_type, decision_id, **fields):
    base = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-02-19T15:00:00+01:00",
        "actor": "agent",
        "decision_id": decision_id,
        "gate_type": "RefinementSign",
        "target_ref": "WP-7/MT-1",
        "automation_level": "SUPERVISED",
        "model_id": "m",
    }
    base.update(fields)
    return base


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "cli.db")


def write_lines(path: Path, *items) -> str:
    path.write_bytes(
        b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)
    )
    return str(path)


def results(out: bytes):
    return [orjson.loads(line) for line in out.splitlines()]


def test_ingest_writes_one_result_per_line_and_exit_1_on_rejection(tmp_path, store, capsysbinary):
    """
    One JSON line per input line, in order; a non-JSON line is invalid_schema, never a crash.
    """
    d = "cli-1"
    path = write_lines(
        tmp_path / "in.jsonl",
        event("gov_decision_created", d, decision="approve", confidence=0.91),
        b"{not json",
        event("gov_auto_signature_created", d),
        event("gov_decision_applied", d, decision="approve"),
    )
    assert main(["--store", store, "ingest", "--quiet", path]) == 1
    out = results(capsysbinary.readouterr().out)
    assert [r["line"] for r in out] == [1, 2, 3, 4]
    assert [r["status"] for r in out] == ["accepted", "rejected", "accepted", "accepted"]
    assert out[1]["code"] == "invalid_schema"
    assert set(out[0]) == {"line", "event_id", "status", "code", "field", "message"}


def test_ingest_exit_0_when_everything_is_accepted_or_duplicate(tmp_path, store, capsysbinary):
    """
    Exit status 0 when every line was accepted or duplicate.
    """
    created = event("gov_decision_created", "cli-2", decision="defer")
    path = write_lines(tmp_path / "in.jsonl", created, created)
    assert main(["--store", store, "ingest", "--quiet", path]) == 0
    assert [r["status"] for r in results(capsysbinary.readouterr().out)] == [
        "accepted",
        "duplicate",
    ]


def test_ingest_summary_goes_to_stderr(tmp_path, store, capsysbinary):
    """
    The one-line summary (accepted, duplicate, rejected by code, events/s) is on stderr.
    """
    path = write_lines(tmp_path / "in.jsonl", event("gov_decision_created", "c3"), b"[]")
    main(["--store", store, "ingest", path])
    err = capsysbinary.readouterr().err.decode()
    assert "1 accepted" in err
    assert "invalid_schema=1" in err
    assert "events/s" in err


def test_validate_judges_events_alone(tmp_path, capsysbinary):
    """
    validate: shape, type and the policy checks one event decides, with no history.
    """
    path = write_lines(
        tmp_path / "in.jsonl",
        event("gov_auto_signature_created", "v", decision="approve"),  # fine alone
        event("gov_auto_signature_created", "v", gate_type="CloudEscalation"),
        event("gov_human_intervention_received", "v", automation_level="LOCKED"),
        event(
            "gov_decision_created",
            "v",
            automation_level="LOCKED",
            gate_type="ScopeChange",
            decision="approve",
            confidence=0.2,
        ),
        event("FR-EVT-GOV-APPROVED-WITH-WARNINGS", "v"),
        b"42",
    )
    assert main(["validate", path]) == 1
    out = results(capsysbinary.readouterr().out)
    assert [r["code"] for r in out] == [
        None,
        "forbidden_gate",
        "locked_halt",
        "locked_halt",
        "unknown_event_type",
        "invalid_schema",
    ]


def test_events_exports_what_was_stored_normalised(tmp_path, store, capsysbinary):
    """
    events: the stored events, normalised (SUPERVISED -> HYBRID), in store order.
    """
    created = event("gov_decision_created", "cli-4", decision="reject")
    applied = event("gov_decision_applied", "cli-4")
    other = event("gov_decision_created", "cli-5")
    main(
        [
            "--store",
            store,
            "ingest",
            "--quiet",
            write_lines(tmp_path / "i", created, applied, other),
        ]
    )
    capsysbinary.readouterr()
    assert main(["--store", store, "events"]) == 0
    exported = results(capsysbinary.readouterr().out)
    assert exported == [{**e, "automation_level": "HYBRID"} for e in (created, applied, other)]
    assert main(["--store", store, "events", "--decision-id", "cli-4"]) == 0
    assert len(results(capsysbinary.readouterr().out)) == 2


def test_show_prints_the_artifacts(store, capsysbinary):
    """
    show: GovernanceDecision (hsk.gov_decision@0.4), AutoSignature (hsk.auto_signature@0.1), events.
    """
    from ledger import GovernanceLedger, LedgerConfig

    with GovernanceLedger(LedgerConfig(store=store)) as app:
        outcome = app.evaluate_gate(
            "RefinementSign", "WP-1", "HYBRID", "approve", 0.95, "ok", ["artifact://x"], "m"
        )
    assert main(["--store", store, "show", outcome.decision_id]) == 0
    shown = orjson.loads(capsysbinary.readouterr().out)
    assert shown["governance_decision"]["schema_version"] == "hsk.gov_decision@0.4"
    assert shown["auto_signature"]["schema_version"] == "hsk.auto_signature@0.1"
    assert [e["type"] for e in shown["events"]] == [
        "gov_decision_created",
        "gov_auto_signature_created",
        "gov_decision_applied",
    ]
    assert main(["--store", store, "show", "missing"]) == 1


def test_usage_errors_exit_2_and_an_unreadable_input_file_exits_3(capsys):
    """
    Exit status 2 for a usage error; 3 for a file that cannot be read (issue 11, item 7).
    """
    assert main(["no-such-command"]) == 2
    assert main(["ingest", "--batch-size", "0", "-"]) == 2
    assert main(["validate", "/no/such/file.jsonl"]) == 3
    assert "cannot read" in capsys.readouterr().err


def test_demo_records_every_gate_level_and_refusal(store, capsys):
    """
    demo: a realistic workload through the command API, with halts and refused events.
    """
    assert main(["--store", store, "demo", "--work-packets", "8"]) == 0
    report = capsys.readouterr().out
    rows = re.findall(r"^  (\w+) +(\w+) +(\w+) +(\d+)$", report, re.MULTILINE)
    statuses = {(gate, level, status) for gate, level, status, _ in rows}
    assert {status for _, _, status in statuses} >= {"halted", "human_approved", "auto_approved"}
    assert ("CloudEscalation", "LOCKED", "halted") in statuses  # 11.1.7.3: denied in LOCKED
    halts = int(re.search(r"^(\d+) LOCKED halts", report, re.MULTILINE).group(1))
    assert halts > 0
    assert halts == sum(int(n) for *_, status, n in rows if status == "halted")
    refused = int(re.search(r"^(\d+) upstream events refused", report, re.MULTILINE).group(1))
    assert refused == 4
    for code in ("unknown_event_type", "invalid_schema", "forbidden_gate", "binding_mismatch"):
        assert f"  {code}: " in report


def test_the_installed_command_runs_in_a_subprocess(tmp_path):
    """
    Smoke test: `python -m ledger` ingests from stdin with the store from GOVLEDGER_STORE.
    """
    env = {**os.environ, "GOVLEDGER_STORE": str(tmp_path / "sub.db"), "PYTHONPATH": str(ROOT)}
    line = orjson.dumps(event("gov_decision_created", "sub-1", decision="defer"))
    done = subprocess.run(
        [sys.executable, "-m", "ledger", "ingest", "-"],
        input=line + b"\n",
        env=env,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["status"] == "accepted"
    assert (tmp_path / "sub.db").exists()
