"""govledger status: what the store and its projection hold, and what to run next (issue 14 §3).

Read-only: it never creates a store or a projection and writes to neither. Every figure
is checked against the store (SQLite or PostgreSQL) and the projection directly.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import orjson

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.trust import EVENTS, REFUSALS, CheckpointStore


def status(capsys, *args: str, terminal: bool | None = None) -> tuple[int, dict | str]:
    capsys.readouterr()
    code = main([*args, "status", *(["-f", "json"] if terminal is None else [])], terminal=terminal)
    out = capsys.readouterr().out
    return code, (orjson.loads(out) if terminal is None and code == 0 else out)


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_missing_store_is_store_unavailable_and_nothing_is_created(tmp_path, capsys):
    """
    Issue 14 §3: status never creates a store: a missing one is store_unavailable (exit 3,
    as for every verb that reads), and on a terminal the one line says how to make one.
    """
    store, projection = str(tmp_path / "none.db"), str(tmp_path / "none.duckdb")
    assert main(["--store", store, "--projection", projection, "status"]) == 3
    assert orjson.loads(capsys.readouterr().err)["error"]["code"] == "store_unavailable"
    assert main(["--store", store, "status"], terminal=True) == 3
    err = capsys.readouterr().err
    assert "govledger ingest or demo creates one" in err
    assert list(tmp_path.iterdir()) == []


def test_status_reports_the_store_its_checkpoints_the_projection_and_what_to_run_next(
    store_config, tmp_path, capsys
):
    """
    Issue 14 §3: the store (never its password), its id, events and decisions, the newest
    event, the last checkpoint of both logs with the unsealed tail, the projection's
    position and lag, the policy in force, and what to run next; --format json.
    """
    config = store_config
    if config.is_postgres:  # a password in the URL (trust auth ignores it) is never shown
        config = config.with_store(config.store.replace("@", ":s3cret-pw@", 1))
    store, projection = config.store, str(tmp_path / "p.duckdb")
    with GovernanceLedger(config) as app:
        for n in range(3):
            app.evaluate_gate(
                "SpecApproval", f"WP-{n}", "AUTONOMOUS", "approve", 0.99, model_id="m"
            )
        app.append([{"type": "gov_decision_created", "event_id": str(uuid.uuid4())}])
        store_id = app.store.meta.store_id
    base = ["--store", store, "--projection", projection]
    code, shown = status(capsys, *base)
    assert code == 0
    assert "s3cret" not in orjson.dumps(shown).decode()
    assert shown["store"]["id"] == store_id
    assert shown["store"]["kind"] == ("postgresql" if config.is_postgres else "sqlite")
    assert (shown["events"], shown["decisions"], shown["refusals"]) == (9, 3, 1)
    assert shown["newest_event"]["type"] == "gov_decision_applied"
    assert shown["newest_event"]["recorded_at"]
    assert shown["checkpoints"] == {"events": None, "refusals": None}
    assert shown["projection"]["state"] == "missing"
    assert shown["policy"]["version"] == "builtin"
    assert not Path(projection).exists()  # status made no projection
    assert any(step.startswith("govledger project") for step in shown["next"])


def test_status_follows_sealing_and_projecting(tmp_path, capsys):
    """
    The unsealed tail of both logs, the projection's position and how far behind it is,
    and the next steps, as the store moves on.
    """
    store, projection = str(tmp_path / "l.db"), str(tmp_path / "p.duckdb")
    base = ["--store", store, "--projection", projection]
    with GovernanceLedger(LedgerConfig(store=store)) as app:
        for n in range(2):
            app.evaluate_gate(
                "SpecApproval", f"WP-{n}", "AUTONOMOUS", "approve", 0.99, model_id="m"
            )
    _, shown = status(capsys, *base)
    assert shown["key"]["signing_key"] is None
    assert shown["next"][0].startswith("govledger keygen")
    assert main([*base, "keygen"]) == 0
    assert main([*base, "seal"]) == 0
    assert main([*base, "project"]) == 0
    with GovernanceLedger(LedgerConfig(store=store)) as app:
        app.evaluate_gate("ScopeChange", "WP-9", "HYBRID", "approve", 0.5, model_id="m")
        app.append([{"type": "gov_decision_created", "event_id": str(uuid.uuid4())}])
        events_cp = CheckpointStore.of(app, EVENTS).latest()
        journal_cp = CheckpointStore.of(app, REFUSALS).latest()
        total = app.tally()
    before = digest(store)
    _, shown = status(capsys, *base)
    assert digest(store) == before  # read-only
    events = shown["checkpoints"]["events"]
    assert (events["seq"], events["tree_size"], events["sealed_at"]) == (
        events_cp.seq,
        events_cp.tree_size,
        events_cp.sealed_at,
    )
    assert events["unsealed"] == total.events - events_cp.tree_size == 2
    assert shown["checkpoints"]["refusals"]["unsealed"] == 1
    assert journal_cp.tree_size == 0
    assert shown["projection"]["state"] == "ready"
    assert shown["projection"]["position"] == 6
    assert shown["projection"]["lag"] == 2
    assert shown["projection"]["refusals_lag"] == 1
    assert shown["next"][:2] == [
        "govledger seal (the events and refusals logs have an unsealed tail)",
        "govledger project (or any audit command, which catches up first)",
    ]
    # On a terminal: one line per fact, readable numbers.
    code, text = status(capsys, *base, terminal=True)
    assert code == 0
    assert text.startswith(f"store       {store} (sqlite), id ")
    assert "events      8 in 3 decisions; newest at position 8" in text
    assert "events: checkpoint #1 covers 6, 2 unsealed after it" in text
    assert f"projection  {projection} at position 6: 2 events behind the store" in text
    assert "next        govledger seal" in text


def test_status_says_when_the_projection_belongs_to_another_store(tmp_path, capsys):
    """
    A projection built from another store is reported as such (never opened for writing).
    """
    one, two, projection = str(tmp_path / "1.db"), str(tmp_path / "2.db"), str(tmp_path / "p")
    for store in (one, two):
        with GovernanceLedger(LedgerConfig(store=store)) as app:
            app.evaluate_gate("SpecApproval", "WP-1", "AUTONOMOUS", "approve", 0.99, model_id="m")
    assert main(["--store", one, "--projection", projection, "project"]) == 0
    before = digest(projection)
    _, shown = status(capsys, "--store", two, "--projection", projection)
    assert shown["projection"]["state"] == "other_store"
    assert "govledger project --rebuild (or give another --projection)" in shown["next"]
    assert digest(projection) == before
