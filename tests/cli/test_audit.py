"""govledger project / audit / query / replay / export over a known workload (read side)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def paths(tmp_path):
    return {"store": str(tmp_path / "ledger.db"), "projection": str(tmp_path / "audit.duckdb")}


@pytest.fixture
def known(paths):
    """
    A known workload through the command API; returns decision ids by role.
    """
    ids = {}
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        ids["auto"] = app.evaluate_gate(
            "SpecApproval", "WP-1/MT-1", "HYBRID", "approve", 0.85, model_id="m-alpha"
        ).decision_id
        ids["auto_free"] = app.evaluate_gate(
            "RefinementSign", "WP-1/MT-2", "AUTONOMOUS", "approve", 0.5, model_id="m-beta"
        ).decision_id
        ids["old_pending"] = app.evaluate_gate(
            "ScopeChange", "WP-2/MT-1", "HYBRID", "approve", 0.99, model_id="m-alpha"
        ).decision_id
        ids["new_pending"] = app.evaluate_gate(
            "PolicyViolation", "WP-2/MT-2", "FULL_HUMAN", "reject", 0.6, model_id="m-beta"
        ).decision_id
        ids["human_ok"] = app.evaluate_gate(
            "ScopeChange", "WP-3/MT-1", "FULL_HUMAN", "approve", 0.7, model_id="m-beta"
        ).decision_id
        app.record_human_decision(ids["human_ok"], "alice", "approve")
        ids["override"] = app.evaluate_gate(
            "CloudEscalation", "WP-3/MT-2", "AUTONOMOUS", "approve", 0.99, model_id="m-alpha"
        ).decision_id
        app.record_human_decision(ids["override"], "bob", "reject")
        ids["override_2"] = app.evaluate_gate(
            "SpecApproval", "WP-3/MT-3", "FULL_HUMAN", "defer", 0.4, model_id="m-beta"
        ).decision_id
        app.record_human_decision(ids["override_2"], "carol", "approve")
        ids["halt"] = app.evaluate_gate(
            "ScopeChange", "WP-4/MT-1", "LOCKED", "approve", 0.5, model_id="m-beta"
        ).decision_id
        ids["halt_cloud"] = app.evaluate_gate(
            "CloudEscalation", "WP-4/MT-2", "LOCKED", "approve", 0.99, model_id="m-alpha"
        ).decision_id
        ids["model_reject"] = app.evaluate_gate(
            "SpecApproval", "WP-1/MT-1", "AUTONOMOUS", "reject", 0.3, model_id="m-alpha"
        ).decision_id
    return ids


def run(paths, *args):
    return main(["--store", paths["store"], "--projection", paths["projection"], *args])


def as_json(paths, capsys, *args):
    assert run(paths, *args, "--format", "json") == 0
    return orjson.loads(capsys.readouterr().out)


def test_project_says_how_many_events_it_applied(paths, known, capsys):
    """
    `project` catches the projection up and reports the events and positions.
    """
    assert run(paths, "project") == 0
    err = capsys.readouterr().err
    assert "applied 28 events (position 0 -> 28)" in err
    assert run(paths, "project") == 0
    assert "applied 0 events (position 28 -> 28)" in capsys.readouterr().err


def test_audit_summary_counts_gate_type_by_level_by_status(paths, known, capsys):
    """
    2.6.8.12.2: `audit summary` = counts by gate_type x automation_level x status.
    """
    rows = as_json(paths, capsys, "audit", "summary")
    assert rows == [
        {
            "gate_type": "CloudEscalation",
            "automation_level": "AUTONOMOUS",
            "status": "human_rejected",
            "count": 1,
        },
        {
            "gate_type": "CloudEscalation",
            "automation_level": "LOCKED",
            "status": "halted",
            "count": 1,
        },
        {
            "gate_type": "PolicyViolation",
            "automation_level": "FULL_HUMAN",
            "status": "awaiting_human",
            "count": 1,
        },
        {
            "gate_type": "RefinementSign",
            "automation_level": "AUTONOMOUS",
            "status": "auto_approved",
            "count": 1,
        },
        {
            "gate_type": "ScopeChange",
            "automation_level": "FULL_HUMAN",
            "status": "human_approved",
            "count": 1,
        },
        {
            "gate_type": "ScopeChange",
            "automation_level": "HYBRID",
            "status": "awaiting_human",
            "count": 1,
        },
        {"gate_type": "ScopeChange", "automation_level": "LOCKED", "status": "halted", "count": 1},
        {
            "gate_type": "SpecApproval",
            "automation_level": "AUTONOMOUS",
            "status": "rejected",
            "count": 1,
        },
        {
            "gate_type": "SpecApproval",
            "automation_level": "FULL_HUMAN",
            "status": "human_approved",
            "count": 1,
        },
        {
            "gate_type": "SpecApproval",
            "automation_level": "HYBRID",
            "status": "auto_approved",
            "count": 1,
        },
    ]


def test_audit_auto_approvals_show_confidence_threshold_and_margin(paths, known, capsys):
    """
    2.6.8.12.4: every auto-approval with the threshold that applied and the margin above it.
    """
    rows = as_json(paths, capsys, "audit", "auto-approvals")
    by_id = {r["decision_id"]: r for r in rows}
    assert set(by_id) == {known["auto"], known["auto_free"]}
    auto = by_id[known["auto"]]
    assert (auto["confidence"], auto["threshold"], auto["margin"]) == (0.85, 0.8, 0.05)
    free = by_id[known["auto_free"]]
    assert (free["confidence"], free["threshold"], free["margin"]) == (0.5, None, None)
    assert auto["applied_at"].endswith("Z")
    assert auto["signed_at"] <= auto["applied_at"]


def test_audit_pending_lists_oldest_first_with_the_wait(paths, known, capsys):
    """
    2.6.8.12.4 (3): decisions awaiting a human, oldest first, with how long they have waited.
    """
    time.sleep(0.01)
    rows = as_json(paths, capsys, "audit", "pending")
    assert [r["decision_id"] for r in rows] == [known["old_pending"], known["new_pending"]]
    assert rows[0]["waited_seconds"] >= rows[1]["waited_seconds"] > 0
    assert rows[0]["requested_at"] <= rows[1]["requested_at"]


def test_audit_halts_lists_locked_halts_with_their_rule(paths, known, capsys):
    """
    2.6.8.12.6.1: each LOCKED halt with gate, target, when and which rule.
    """
    rows = as_json(paths, capsys, "audit", "halts")
    assert [
        (r["decision_id"], r["gate_type"], r["target_ref"], r["decision"], r["rule"]) for r in rows
    ] == [
        (known["halt"], "ScopeChange", "WP-4/MT-1", "defer", "2.6.8.12.6.1"),
        (known["halt_cloud"], "CloudEscalation", "WP-4/MT-2", "reject", "2.6.8.12.6.1, 11.1.7.3"),
    ]
    assert all(r["halted_at"] for r in rows)
    assert all(r["reason"].startswith("LOCKED fails closed") for r in rows)


def test_audit_overrides_lists_where_the_human_differed_from_the_model(paths, known, capsys):
    """
    A human answer (005) that differs from the model's 001 decision is an override.
    """
    rows = as_json(paths, capsys, "audit", "overrides")
    assert [
        (r["decision_id"], r["model_decision"], r["human_decision"], r["user_id"]) for r in rows
    ] == [
        (known["override"], "approve", "reject", "bob"),
        (known["override_2"], "defer", "approve", "carol"),
    ]


def test_audit_target_shows_the_full_history_of_one_target(paths, known, capsys):
    """
    Every event of every decision on one target_ref, in store order.
    """
    rows = as_json(paths, capsys, "audit", "target", "WP-1/MT-1")
    assert [(r["decision_id"], r["fr_id"]) for r in rows] == [
        (known["auto"], "FR-EVT-GOV-001"),
        (known["auto"], "FR-EVT-GOV-003"),
        (known["auto"], "FR-EVT-GOV-002"),
        (known["model_reject"], "FR-EVT-GOV-001"),
        (known["model_reject"], "FR-EVT-GOV-002"),
    ]
    assert [r["position"] for r in rows] == sorted(r["position"] for r in rows)
    assert (rows[0]["confidence"], rows[0]["model_id"]) == (0.85, "m-alpha")
    assert run(paths, "audit", "target") == 2


def test_audit_models_rates_each_model(paths, known, capsys):
    """
    Per model_id: decisions, approval rate, mean confidence, how often a human overrode it.
    """
    rows = as_json(paths, capsys, "audit", "models")
    assert rows == [
        {
            "model_id": "m-alpha",
            "decisions": 5,
            "approved": 1,
            "approval_rate": 0.2,
            "mean_confidence": round((0.85 + 0.99 + 0.99 + 0.99 + 0.3) / 5, 4),
            "human_answered": 1,
            "overridden": 1,
            "override_rate": 1.0,
        },
        {
            "model_id": "m-beta",
            "decisions": 5,
            "approved": 3,
            "approval_rate": 0.6,
            "mean_confidence": round((0.5 + 0.6 + 0.7 + 0.4 + 0.5) / 5, 4),
            "human_answered": 2,
            "overridden": 1,
            "override_rate": 0.5,
        },
    ]


def test_audit_catches_up_first(paths, known, capsys):
    """
    Each report catches up with the store before answering.
    """
    assert len(as_json(paths, capsys, "audit", "pending")) == 2
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        app.record_human_decision(known["old_pending"], "dave", "approve")
    assert len(as_json(paths, capsys, "audit", "pending")) == 1


def test_table_output_is_aligned_and_csv_has_a_header(paths, known, capsys):
    """
    Aligned columns on a terminal; --format csv for scripts.
    """
    assert run(paths, "audit", "halts") == 0
    lines = capsys.readouterr().out.splitlines()
    header, rule, *body, footer = lines
    assert header.split()[:3] == ["decision_id", "gate_type", "target_ref"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert footer == "(2 rows)"
    starts = [header.index("target_ref")] + [line.index("WP-4/") for line in body]
    assert len(set(starts)) == 1
    assert run(paths, "audit", "summary", "--format", "csv") == 0
    table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert table[0] == ["gate_type", "automation_level", "status", "count"]
    assert len(table) == 11


def test_query_runs_read_only_sql(paths, known, capsys):
    """
    `query` runs an auditor's SELECT over the projection.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    rows = as_json(
        paths,
        capsys,
        "query",
        "SELECT status, count(*) AS n FROM decisions GROUP BY status ORDER BY status",
    )
    assert {r["status"]: r["n"] for r in rows}["halted"] == 2


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM decisions",
        "UPDATE decisions SET status = 'auto_approved'",
        "INSERT INTO tracking VALUES ('govledger', 999999)",
        "DROP TABLE events",
        "CREATE TABLE x (a INT)",
        "COPY decisions TO 'leak.csv'",
        "ATTACH 'other.duckdb' AS other",
        "SELECT 1; DELETE FROM decisions",
    ],
)
def test_query_refuses_statements_that_would_write(paths, known, capsys, sql):
    """
    The projection is rebuilt from the store, never edited: writing statements are refused
    with a clear error (exit 1, code read_only_query) and nothing changes.
    """
    assert run(paths, "project") == 0
    capsys.readouterr()
    assert run(paths, "query", sql) == 1
    error = orjson.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "read_only_query"
    assert "read-only" in error["message"] or "exactly one statement" in error["message"]
    rows = as_json(paths, capsys, "query", "SELECT count(*) AS n FROM decisions")
    assert rows == [{"n": 10}]


def test_query_without_a_projection_says_to_project_first(paths, capsys):
    """
    A read-only open of a missing file is an error that says what to do (exit 3); without
    --no-catch-up, query catches up first and so names the missing store instead.
    """
    assert run(paths, "query", "--no-catch-up", "SELECT 1") == 3
    assert "run `govledger project` first" in capsys.readouterr().err
    assert run(paths, "query", "SELECT 1") == 3
    assert orjson.loads(capsys.readouterr().err)["error"]["code"] == "store_unavailable"


def test_export_writes_each_table_as_parquet(paths, known, tmp_path, capsys):
    """
    `export --parquet DIR`: one Parquet file per table, readable without the live file.
    """
    out = tmp_path / "share"
    assert run(paths, "export", "--parquet", str(out)) == 0
    assert "wrote 6 Parquet files" in capsys.readouterr().err
    counts = {
        p.stem: duckdb.sql(f"SELECT count(*) FROM read_parquet('{p}')").fetchall()[0][0]
        for p in out.glob("*.parquet")
    }
    assert counts == {
        "events": 28,
        "decisions": 10,
        "auto_signatures": 2,
        "human_interventions": 5,
        "locked_halts": 2,
        "refusals": 0,
    }


def test_replay_as_of_states_the_cut(paths, known, tmp_path, capsys):
    """
    `replay --as-of T --to FILE` projects what the store had recorded at T and says where
    it cut; audits of that file report it as it is, without catching up.
    """
    time.sleep(0.02)
    moment = datetime.now(UTC)
    time.sleep(0.02)
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        app.evaluate_gate("SpecApproval", "WP-9", "AUTONOMOUS", "approve", 0.9, model_id="m")
    target = tmp_path / "then.duckdb"
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert run(paths, "replay", "--as-of", stamp, "--to", str(target)) == 0
    out = capsys.readouterr().out
    assert "the store had recorded 28 events (cut at position 28 of 31)" in out
    then = {"store": paths["store"], "projection": str(target)}
    rows = as_json(then, capsys, "query", "SELECT count(*) AS n FROM decisions")
    assert rows == [{"n": 10}]
    assert len(as_json(then, capsys, "audit", "summary")) == 10
    assert run(paths, "replay", "--as-of", "2026-02-19T15:00:00", "--to", str(target)) == 2
    assert run(paths, "replay", "--as-of", stamp, "--to", paths["projection"]) == 2
    assert "is the live projection" in capsys.readouterr().err


def test_audit_subprocess_smoke(paths, known):
    """
    The installed entry point path: `python -m ledger audit summary` in a fresh process.
    """
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger",
            "--store",
            paths["store"],
            "--projection",
            paths["projection"],
            "audit",
            "summary",
            "--format",
            "json",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert sum(r["count"] for r in orjson.loads(proc.stdout)) == 10


def test_a_projection_file_of_another_layout_is_an_error_not_a_traceback(paths, known, capsys):
    """
    Issue 11 item 2: a govledger projection written by an older layout (no binding) exits 1
    with one JSON error line that says how to rebuild, and --rebuild rebuilds it.
    """
    con = duckdb.connect(paths["projection"])
    con.execute("CREATE TABLE events (position BIGINT, note VARCHAR)")
    con.execute("CREATE TABLE tracking (source VARCHAR, notification_id BIGINT)")
    con.close()
    assert run(paths, "project") == 1
    error = orjson.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "projection_error"
    assert "govledger project --rebuild" in error["message"]
    assert run(paths, "project", "--rebuild") == 0
