"""The DuckDB projections: rows, exactly-once catch-up, rebuild, as-of replay, follow.

Real SQLite stores and real DuckDB files in tmp_path; workloads go through the
command API (``evaluate_gate`` / ``record_human_decision``) or ``append``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.events import FR_IDS
from projections import _duckdb, runner
from projections._errors import ProjectionError
from tests.strategies import projection_workload

ROOT = Path(__file__).resolve().parents[2]


def _rows(con, sql, params=()):
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rebuilt(ledger, path, stop=None):
    con = _duckdb.connect(path)
    try:
        runner.rebuild(ledger, con, stop=stop)
        return _duckdb.table_checksums(con)
    finally:
        con.close()


@pytest.fixture
def store(tmp_path):
    with GovernanceLedger(LedgerConfig(store=str(tmp_path / "ledger.db"))) as app:
        yield app


@pytest.fixture
def known(store):
    """
    One decision of each kind, through the command API; returns their ids by name.
    """
    ids = {}
    ids["auto"] = store.evaluate_gate(
        "SpecApproval",
        "WP-1/MT-1",
        "HYBRID",
        "approve",
        0.85,
        "spec matches",
        ["artifact://wp-1/spec", "artifact://wp-1/tests"],
        "m-alpha",
        wp_id="WP-1",
        mt_id="MT-1",
    ).decision_id
    ids["auto_unconditional"] = store.evaluate_gate(
        "RefinementSign", "WP-1/MT-2", "AUTONOMOUS", "approve", 0.5, model_id="m-beta"
    ).decision_id
    ids["pending"] = store.evaluate_gate(
        "ScopeChange", "WP-2/MT-1", "HYBRID", "approve", 0.99, model_id="m-alpha"
    ).decision_id
    ids["human_ok"] = store.evaluate_gate(
        "ScopeChange", "WP-2/MT-2", "FULL_HUMAN", "approve", 0.7, model_id="m-beta"
    ).decision_id
    store.record_human_decision(ids["human_ok"], "alice", "approve", "fine")
    ids["override"] = store.evaluate_gate(
        "CloudEscalation", "WP-3/MT-1", "AUTONOMOUS", "approve", 0.99, model_id="m-alpha"
    ).decision_id
    store.record_human_decision(ids["override"], "bob", "reject", "no data leaves")
    ids["halt"] = store.evaluate_gate(
        "ScopeChange", "WP-4/MT-1", "LOCKED", "approve", 0.5, model_id="m-beta"
    ).decision_id
    ids["halt_cloud"] = store.evaluate_gate(
        "CloudEscalation", "WP-4/MT-2", "LOCKED", "approve", 0.99, model_id="m-alpha"
    ).decision_id
    ids["model_reject"] = store.evaluate_gate(
        "SpecApproval", "WP-5/MT-1", "AUTONOMOUS", "reject", 0.3, model_id="m-alpha"
    ).decision_id
    return ids


def _project(store, path):
    con = _duckdb.connect(path)
    done = runner.catch_up(store, con, batch_size=4)
    return con, done


def test_decision_rows_say_what_the_aggregate_says(store, known, tmp_path):
    """
    2.6.8.12.2, 2.6.8.12.6.1: status, effective decision and threshold per decision equal
    the GateEvaluation aggregate's, with one row per decision_id.
    """
    con, done = _project(store, tmp_path / "p.duckdb")
    assert done.events == store.max_position()
    rows = {r["decision_id"]: r for r in _rows(con, "SELECT * FROM decisions")}
    assert set(rows) == set(known.values())
    for decision_id, row in rows.items():
        agg = store.gate(decision_id)
        assert (row["status"], row["effective_decision"], row["threshold"]) == (
            agg.status,
            agg.state.effective_decision,
            agg.state.threshold,
        )
        assert row["event_count"] == len(agg.history)
    statuses = {name: rows[d]["status"] for name, d in known.items()}
    assert statuses == {
        "auto": "auto_approved",
        "auto_unconditional": "auto_approved",
        "pending": "awaiting_human",
        "human_ok": "human_approved",
        "override": "human_rejected",
        "halt": "halted",
        "halt_cloud": "halted",
        "model_reject": "rejected",
    }
    auto = rows[known["auto"]]
    assert auto["evidence_refs"] == ["artifact://wp-1/spec", "artifact://wp-1/tests"]
    assert (auto["wp_id"], auto["mt_id"], auto["model_id"], auto["actor"]) == (
        "WP-1",
        "MT-1",
        "m-alpha",
        "agent",
    )
    assert auto["created_at"].tzinfo is not None
    assert auto["applied_at"] >= auto["created_at"]
    assert rows[known["pending"]]["awaiting_since"] is not None
    assert rows[known["human_ok"]]["awaiting_since"] is None


def test_auto_signatures_are_bound_to_their_decision(store, known, tmp_path):
    """
    2.6.8.12.6.3: one hsk.auto_signature@0.1 row per 003, same decision_id, gate_type and
    target_ref as its GovernanceDecision, actor a model.
    """
    con, _ = _project(store, tmp_path / "p.duckdb")
    rows = _rows(con, "SELECT * FROM auto_signatures ORDER BY position")
    assert [r["decision_id"] for r in rows] == [known["auto"], known["auto_unconditional"]]
    for row in rows:
        artifact = store.decision(row["decision_id"]).auto_signature
        assert (row["auto_signature_id"], row["gate_type"], row["target_ref"], row["model_id"]) == (
            artifact.auto_signature_id,
            artifact.gate_type,
            artifact.target_ref,
            artifact.actor.model_id,
        )
        assert (row["schema_version"], row["actor_kind"]) == ("hsk.auto_signature@0.1", "model")


def test_human_interventions_record_who_answered_and_how_long_it_took(store, known, tmp_path):
    """
    2.6.8.12.6.4: a 004 opens an intervention row; its 005 fills the answer and the wait.
    """
    con, _ = _project(store, tmp_path / "p.duckdb")
    rows = {r["decision_id"]: r for r in _rows(con, "SELECT * FROM human_interventions")}
    assert set(rows) == {known["pending"], known["human_ok"], known["override"]}
    assert rows[known["pending"]]["received_at"] is None
    assert rows[known["pending"]]["wait_seconds"] is None
    ok = rows[known["human_ok"]]
    assert (ok["user_id"], ok["decision"], ok["rationale"]) == ("alice", "approve", "fine")
    assert ok["wait_seconds"] == pytest.approx(
        (ok["received_at"] - ok["requested_at"]).total_seconds()
    )
    assert ok["wait_seconds"] >= 0


def test_locked_halts_are_the_reject_or_defer_recorded_instead_of_a_human(store, known, tmp_path):
    """
    2.6.8.12.6.1: under LOCKED, where a human would be needed, a reject/defer is recorded
    and the workflow halts; cloud escalation is always a halt (11.1.7.3).
    """
    con, _ = _project(store, tmp_path / "p.duckdb")
    rows = {r["decision_id"]: r for r in _rows(con, "SELECT * FROM locked_halts")}
    assert set(rows) == {known["halt"], known["halt_cloud"]}
    halt, cloud = rows[known["halt"]], rows[known["halt_cloud"]]
    assert (halt["gate_type"], halt["target_ref"], halt["decision"], halt["rule"]) == (
        "ScopeChange",
        "WP-4/MT-1",
        "defer",
        "2.6.8.12.6.1",
    )
    assert halt["threshold"] == 0.95
    assert "below the threshold 0.95" in halt["reason"]
    assert (cloud["decision"], cloud["rule"]) == ("reject", "2.6.8.12.6.1, 11.1.7.3")


def test_events_table_is_the_store_in_order(store, known, tmp_path):
    """
    11.5.7: one row per stored FR event, in store order, with its FR id and the event as JSON.
    """
    con, _ = _project(store, tmp_path / "p.duckdb")
    rows = _rows(
        con, "SELECT position, event_id, type, fr_id, decision_id, fr FROM events ORDER BY position"
    )
    stored = list(store.stored_events())
    assert [r["position"] for r in rows] == [p for p, _ in stored]
    for row, (_, state) in zip(rows, stored, strict=True):
        fr = orjson.loads(state)
        assert orjson.loads(row["fr"]) == fr
        assert (row["event_id"], row["type"], row["decision_id"]) == (
            fr["event_id"],
            fr["type"],
            fr["decision_id"],
        )
        assert row["fr_id"] == FR_IDS[fr["type"]]


def test_every_rfc3339_spelling_lands_on_the_same_instant(store, tmp_path):
    """
    11.5.1: timestamps with t/z, offsets and nanoseconds become TIMESTAMPTZ in UTC.
    """
    base = {
        "actor": "agent",
        "decision_id": "ts",
        "gate_type": "SpecApproval",
        "target_ref": "WP-9",
        "automation_level": "AUTONOMOUS",
    }
    store.append(
        [
            {
                **base,
                "type": "gov_decision_created",
                "event_id": "00000000-0000-4000-8000-000000000001",
                "timestamp": "2026-02-19t17:00:00.123456789+02:00",
                "decision": "reject",
            },
            {
                **base,
                "type": "gov_decision_applied",
                "event_id": "00000000-0000-4000-8000-000000000002",
                "timestamp": "2026-02-19T15:00:01z",
                "decision": "reject",
                "actor": "system",
            },
        ]
    )
    con, _ = _project(store, tmp_path / "p.duckdb")
    row = _rows(con, "SELECT created_at, applied_at FROM decisions")[0]
    assert row["created_at"] == datetime(2026, 2, 19, 15, 0, 0, 123456, tzinfo=UTC)
    assert row["applied_at"] == datetime(2026, 2, 19, 15, 0, 1, tzinfo=UTC)


def test_a_late_answer_updates_rows_an_earlier_catch_up_wrote(store, known, tmp_path):
    """
    Catch-up resumes from its position: a 005/002 arriving after the 001/004 were projected
    moves the stored decision and intervention rows on, exactly as a rebuild would.
    """
    path = tmp_path / "p.duckdb"
    con, first = _project(store, path)
    store.record_human_decision(known["pending"], "carol", "reject", "too wide")
    second = runner.catch_up(store, con, batch_size=4)
    assert (second.start, second.end, second.events) == (first.end, first.end + 2, 2)
    row = _rows(con, "SELECT * FROM decisions WHERE decision_id = ?", [known["pending"]])[0]
    assert (row["status"], row["human_decision"], row["human_user_id"]) == (
        "human_rejected",
        "reject",
        "carol",
    )
    answer = _rows(
        con, "SELECT * FROM human_interventions WHERE decision_id = ?", [known["pending"]]
    )[0]
    assert answer["user_id"] == "carol"
    assert answer["wait_seconds"] > 0
    assert answer["request_reason"] is not None  # the stored request columns are kept
    live = _duckdb.table_checksums(con)
    con.close()
    assert live == _rebuilt(store, tmp_path / "rebuilt.duckdb")


def test_catch_up_with_nothing_new_applies_nothing(store, known, tmp_path):
    """
    Exactly once: a second catch-up at the head of the store writes no row.
    """
    con, _ = _project(store, tmp_path / "p.duckdb")
    before = _duckdb.table_checksums(con)
    again = runner.catch_up(store, con)
    assert again.events == 0
    assert _duckdb.table_checksums(con) == before


def test_a_failed_batch_leaves_neither_rows_nor_position(store, known, tmp_path, monkeypatch):
    """
    Rows and the position commit in one DuckDB transaction: a batch that fails half-way
    leaves the projection exactly at the previous batch.
    """
    path = tmp_path / "p.duckdb"
    con = _duckdb.connect(path)
    runner.catch_up(store, con, stop=5)
    before = (_duckdb.position(con), _duckdb.table_checksums(con))
    real = _duckdb.record_position

    def crash(con_, notification_id):
        real(con_, notification_id)
        raise RuntimeError("power cut after the rows and the position were written")

    monkeypatch.setattr(_duckdb, "record_position", crash)
    with pytest.raises(RuntimeError):
        runner.catch_up(store, con, batch_size=3)
    assert (_duckdb.position(con), _duckdb.table_checksums(con)) == before
    monkeypatch.setattr(_duckdb, "record_position", real)
    runner.catch_up(store, con)
    live = _duckdb.table_checksums(con)
    con.close()
    assert live == _rebuilt(store, tmp_path / "rebuilt.duckdb")


def test_keys_are_unique_in_every_table(store, tmp_path):
    """
    One row per fact: no key appears twice after many small catch-ups.
    """
    store.append(projection_workload(80, seed=3))
    con = _duckdb.connect(tmp_path / "p.duckdb")
    while runner.catch_up(store, con, batch_size=7, stop=_duckdb.position(con) + 13).events:
        pass
    for table, key in [
        ("events", "position"),
        ("events", "event_id"),
        ("decisions", "decision_id"),
        ("auto_signatures", "auto_signature_id"),
        ("human_interventions", "request_event_id"),
        ("locked_halts", "decision_id"),
    ]:
        total, distinct = con.execute(
            f"SELECT count(*), count(DISTINCT {key}) FROM {table}"
        ).fetchone()
        assert total == distinct, table
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == store.max_position()


def test_replay_as_of_projects_what_the_store_had_recorded_then(store, tmp_path):
    """
    As of a moment: the events whose recorded_at (commit time) is at or before it, by store
    order; the file states its cut and is never caught up afterwards.
    """
    first = store.evaluate_gate(
        "SpecApproval", "WP-1", "AUTONOMOUS", "approve", 0.9, model_id="m"
    ).decision_id
    cut_position = store.max_position()
    time.sleep(0.02)
    moment = datetime.now(UTC)
    time.sleep(0.02)
    store.evaluate_gate("ScopeChange", "WP-2", "HYBRID", "approve", 0.9, model_id="m")
    path = tmp_path / "audit.duckdb"
    done = runner.replay_as_of(store, path, moment)
    assert (done.position, done.events) == (cut_position, cut_position)
    con = _duckdb.connect(path)
    try:
        decisions = _rows(con, "SELECT decision_id FROM decisions")
        assert [r["decision_id"] for r in decisions] == [first]
        assert _duckdb.cut(con)[1:] == (cut_position, cut_position)
        with pytest.raises(ProjectionError):
            runner.catch_up(store, con)
    finally:
        con.close()
    before = runner.replay_as_of(store, tmp_path / "empty.duckdb", datetime(2000, 1, 1, tzinfo=UTC))
    assert (before.position, before.events) == (0, 0)
    # A year before 1000 is before every commit too (its text once lacked its leading zeros
    # and so sorted after "2026" and took the whole store).
    ancient = runner.replay_as_of(
        store, tmp_path / "ancient.duckdb", datetime(500, 1, 1, tzinfo=UTC)
    )
    assert (ancient.position, ancient.events) == (0, 0)


def _spawn(args, store_path, projection):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ledger",
            "--store",
            str(store_path),
            "--projection",
            str(projection),
            *args,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_kill_9_mid_projection_loses_and_doubles_nothing(tmp_path):
    """
    Exactly once and resumable: a projector killed with SIGKILL at an arbitrary moment
    leaves the tables exactly at a committed batch, and resuming finishes the job.
    """
    store_path = tmp_path / "ledger.db"
    with GovernanceLedger(LedgerConfig(store=str(store_path))) as app:
        app.append(projection_workload(1500, seed=11))
        head = app.max_position()
    projection = tmp_path / "p.duckdb"
    killed_mid_way = False
    for delay in (0.9, 1.3, 1.8, 2.5, 3.5):
        projection.unlink(missing_ok=True)
        Path(str(projection) + ".wal").unlink(missing_ok=True)
        proc = _spawn(["project", "--batch-size", "7"], store_path, projection)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        con = _duckdb.connect(projection)
        at = _duckdb.position(con)
        con.close()
        if 0 < at < head:
            killed_mid_way = True
            break
    assert killed_mid_way, "the projector was never caught mid-way; raise the workload size"
    with GovernanceLedger(LedgerConfig(store=str(store_path))) as app:
        con = _duckdb.connect(projection)
        try:
            # Exactly what a projector stopped cleanly at the same position holds ...
            assert _duckdb.table_checksums(con) == _rebuilt(app, tmp_path / "cut.duckdb", at)
            # ... and resuming reaches exactly what a rebuild from scratch holds.
            resumed = runner.catch_up(app, con)
            assert (resumed.start, resumed.end) == (at, head)
            live = _duckdb.table_checksums(con)
        finally:
            con.close()
        assert live == _rebuilt(app, tmp_path / "full.duckdb")


def test_follow_keeps_up_until_sigterm_and_commits_its_position(tmp_path):
    """
    ``project --follow`` on SQLite polls the notification log, applies events appended
    while it runs, and on SIGTERM exits 0 with its position committed.
    """
    store_path = tmp_path / "ledger.db"
    projection = tmp_path / "p.duckdb"
    with GovernanceLedger(LedgerConfig(store=str(store_path))) as app:
        app.append(projection_workload(10, seed=5))
        proc = _spawn(["project", "--follow", "--interval", "0.05"], store_path, projection)
        try:
            banner = proc.stderr.readline().decode()
            assert "project --follow: from position" in banner
            assert "polling" in banner
            for seed in (6, 7):
                app.append(projection_workload(10, seed=seed))
                time.sleep(0.3)
            head = app.max_position()
            deadline = time.monotonic() + 20
            applied = ""
            while f"-> {head})" not in applied and time.monotonic() < deadline:
                applied += proc.stderr.readline().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            _, rest = proc.communicate(timeout=20)
        assert proc.returncode == 0, rest.decode()
        assert "stopped; applied" in rest.decode()
        con = duckdb.connect(str(projection), read_only=True)
        try:
            assert _duckdb.position(con) == head
            live = _duckdb.table_checksums(con)
        finally:
            con.close()
        assert live == _rebuilt(app, tmp_path / "rebuilt.duckdb")


def test_projection_on_every_store_kind(ledger, tmp_path):
    """
    The read side depends only on the notification log: the same rows from SQLite and
    PostgreSQL stores, each row agreeing with its aggregate.
    """
    ids = [
        ledger.evaluate_gate(
            "SpecApproval", "WP-1", "HYBRID", "approve", 0.95, model_id="m"
        ).decision_id,
        ledger.evaluate_gate(
            "ScopeChange", "WP-2", "HYBRID", "approve", 0.95, model_id="m"
        ).decision_id,
        ledger.evaluate_gate(
            "ScopeChange", "WP-3", "LOCKED", "approve", 0.5, model_id="m"
        ).decision_id,
    ]
    ledger.record_human_decision(ids[1], "alice", "reject")
    ledger.append(projection_workload(20, seed=9))
    con = _duckdb.connect(tmp_path / "p.duckdb")
    try:
        done = runner.catch_up(ledger, con, batch_size=9)
        assert done.end == ledger.max_position()
        for decision_id in ids:
            status = con.execute(
                "SELECT status FROM decisions WHERE decision_id = ?", [decision_id]
            ).fetchone()[0]
            assert status == ledger.gate(decision_id).status
        live = _duckdb.table_checksums(con)
    finally:
        con.close()
    assert live == _rebuilt(ledger, tmp_path / "rebuilt.duckdb")


@pytest.mark.postgres
def test_follow_is_woken_by_postgres_notifications(tmp_path):
    """
    On PostgreSQL the follower subscribes (LISTEN/NOTIFY) and applies new events at once,
    long before its poll interval would have woken it.
    """
    import threading
    import uuid

    from tests.conftest import _drop_schema, postgres_url, require_postgres

    require_postgres()
    schema = f"gl_{uuid.uuid4().hex[:12]}"
    projection = tmp_path / "p.duckdb"
    try:
        with GovernanceLedger(LedgerConfig(store=postgres_url(schema))) as app:
            app.append(projection_workload(5, seed=1))
            wakeups = runner.Wakeups(app, 0)
            assert wakeups.pushed
            ends: list[int] = []
            stop = threading.Event()
            follower = threading.Thread(
                target=runner.follow,
                kwargs={
                    "ledger": app,
                    "open_projection": lambda: _duckdb.connect(projection),
                    "interval": 60.0,
                    "should_stop": stop.is_set,
                    "wakeups": wakeups,
                    "on_progress": lambda done: ends.append(done.end),
                },
            )
            follower.start()
            try:
                deadline = time.monotonic() + 10
                while not ends and time.monotonic() < deadline:
                    time.sleep(0.05)
                app.append(projection_workload(5, seed=2))
                head = app.max_position()
                while (not ends or ends[-1] < head) and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert ends[-1] == head
            finally:
                stop.set()
                wakeups.wake()
                follower.join(timeout=20)
                wakeups.close()
    finally:
        _drop_schema(schema)
