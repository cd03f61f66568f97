"""Batched ingestion keeps every rule of the write side at batch boundaries (issue 4).

Many decisions' events share one store transaction, yet every event is judged on its
own, in input order, against everything stored before it; a refused event never blocks
or undoes the accepted ones; and a re-run after a crash stores nothing twice.
"""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.ingest import ingest_lines

ROOT = Path(__file__).resolve().parents[2]
_clock = itertools.count()


def fr(event_type: str, decision_id: str, **fields: object) -> dict[str, object]:
    """
    A valid FR event of ``event_type`` for ``decision_id`` (SpecApproval, AUTONOMOUS).
    """
    event: dict[str, object] = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": f"2026-02-19T10:00:{next(_clock) % 60:02d}Z",
        "actor": "agent",
        "decision_id": decision_id,
        "gate_type": "SpecApproval",
        "target_ref": f"wp://{decision_id}",
        "automation_level": "AUTONOMOUS",
    }
    event.update(fields)
    return event


def auto_approved(decision_id: str) -> list[dict[str, object]]:
    """
    001 -> 003 -> 002: an auto-approved lifecycle (SpecApproval x AUTONOMOUS is Auto).
    """
    return [
        fr(
            "gov_decision_created",
            decision_id,
            decision="approve",
            confidence=0.97,
            model_id="local/model",
        ),
        fr("gov_auto_signature_created", decision_id, model_id="local/model"),
        fr("gov_decision_applied", decision_id, decision="approve"),
    ]


def lines(events: list[dict[str, object]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]


def ingest(ledger: GovernanceLedger, events: list[dict[str, object]], batch_size: int):
    return list(ingest_lines(ledger, lines(events), batch_size=batch_size))


def test_a_decision_split_across_batches_is_judged_with_its_earlier_events(ledger):
    """
    2.6.8.12.6.4: an event in a later batch sees everything stored before it. Each event
    of a lifecycle lands in its own batch; order rules still hold across the boundary.
    """
    events = auto_approved("dec-split")
    results = ingest(ledger, events, batch_size=1)

    assert [r.status for r in results] == ["accepted"] * 3
    assert ledger.gate("dec-split").status == "auto_approved"


def test_order_rules_are_enforced_across_a_batch_boundary(ledger):
    """
    2.6.8.12.6.4: nothing follows 002, even when the 002 was committed in an earlier batch;
    and an approving 002 needs the 003 stored before it, in whichever batch.
    """
    closed = auto_approved("dec-closed")
    late = fr("gov_human_intervention_requested", "dec-closed", actor="system")
    unsigned = [
        fr("gov_decision_created", "dec-unsigned", decision="approve", confidence=0.97),
        fr("gov_decision_applied", "dec-unsigned", decision="approve"),
    ]
    results = ingest(ledger, [*closed, *unsigned, late], batch_size=2)

    assert [(r.status, r.code) for r in results] == [
        ("accepted", None),
        ("accepted", None),
        ("accepted", None),
        ("accepted", None),
        ("rejected", "sequence_violation"),  # 002 approve with no 003, a batch later
        ("rejected", "sequence_violation"),  # 004 after the 002 committed two batches ago
    ]


def test_a_refused_event_in_the_middle_of_a_batch_blocks_nothing(ledger):
    """
    Issue 4 / 2.6.8.12.6.3: a refused event never blocks or undoes the accepted ones
    around it, and per-line results stay in input order with rising store positions.
    """
    first, second = auto_approved("dec-a"), auto_approved("dec-b")
    bad = dict(second[1], event_id=str(uuid.uuid4()), target_ref="wp://elsewhere")
    events = [first[0], second[0], first[1], bad, second[1], first[2], second[2]]
    results = list(ledger.append(events))

    assert [r.status for r in results] == ["accepted"] * 3 + ["rejected"] + ["accepted"] * 3
    assert results[3].error.code == "binding_mismatch"
    positions = [r.position for r in results if r.status == "accepted"]
    assert positions == sorted(positions)
    assert len(set(positions)) == 6
    assert ledger.gate("dec-a").status == "auto_approved"
    assert ledger.gate("dec-b").status == "auto_approved"


def test_a_line_that_is_not_json_mid_batch_is_refused_alone(ledger):
    """
    Issue 2 §5: a line that is not JSON is invalid_schema for that line; the lines after
    it in the same batch are still judged and stored.
    """
    events = auto_approved("dec-json")
    raw = [orjson.dumps(events[0]), b'{"type": ', *map(orjson.dumps, events[1:])]
    results = list(ingest_lines(ledger, raw, batch_size=10))

    assert [(r.line, r.status, r.code) for r in results] == [
        (1, "accepted", None),
        (2, "rejected", "invalid_schema"),
        (3, "accepted", None),
        (4, "accepted", None),
    ]


def test_a_resent_event_in_a_later_batch_is_a_duplicate(ledger):
    """
    Issue 2 §2: re-sending an identical event is reported duplicate and stored once, also
    when the first copy was committed in an earlier batch; changed content is refused.
    """
    events = auto_approved("dec-dup")
    changed = dict(events[0], rationale="edited after the fact")
    results = ingest(ledger, [*events, events[0], changed], batch_size=3)

    assert [(r.status, r.code) for r in results][3:] == [
        ("duplicate", "duplicate"),
        ("rejected", "duplicate"),
    ]
    assert ledger.max_position() == 3


def test_a_decision_evicted_from_the_cache_is_judged_from_the_store(tmp_path):
    """
    Streaming memory: only a bounded number of decisions stay in memory between batches.
    A decision that was evicted is read back from the store, so its rules still hold.
    """
    config = LedgerConfig(store=str(tmp_path / "ledger.db"), cache_decisions=2)
    lifecycles = [auto_approved(f"dec-{i}") for i in range(6)]
    starts = [lc[0] for lc in lifecycles]
    rest = [e for lc in lifecycles for e in lc[1:]]
    broken = fr("gov_decision_applied", "dec-0", decision="reject")  # differs from effective
    with GovernanceLedger(config) as ledger:
        results = ingest(ledger, [*starts, *rest, broken], batch_size=2)

        assert Counter(r.status for r in results[:-1]) == {"accepted": 18}
        assert (results[-1].status, results[-1].code) == ("rejected", "sequence_violation")
        assert all(ledger.gate(f"dec-{i}").status == "auto_approved" for i in range(6))


def test_ingestion_reads_its_input_lazily(memory_ledger):
    """
    Streaming: results for the first batch come out before the input is read further
    than that batch (and the batch the reader may hold), so memory does not grow with
    the size of the input.
    """
    pulled = 0

    def source():
        nonlocal pulled
        for i in itertools.count():
            pulled += 1
            yield orjson.dumps(fr("gov_decision_created", f"dec-lazy-{i}", decision="defer"))

    results = ingest_lines(memory_ledger, source(), batch_size=10)
    first = next(results)

    assert first.status == "accepted"
    assert pulled <= 10 * 3
    results.close()


# --- crash between batches, then a re-run ------------------------------------------------


def _write_input(path: Path, decisions: int) -> list[bytes]:
    events = [orjson.dumps(e) for i in range(decisions) for e in auto_approved(f"dec-crash-{i}")]
    # An extra bad line every 50, so the re-run has refusals to report as well.
    for i in range(25, len(events), 50):
        events.insert(i, b'{"type": "gov_decision_created", "confidence": 7}')
    path.write_bytes(b"".join(e + b"\n" for e in events))
    return events


def _stored(store: Path) -> tuple[int, int]:
    with sqlite3.connect(store) as con:
        rows = con.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
        ids = con.execute("SELECT COUNT(DISTINCT event_id) FROM govledger_event_index").fetchone()[
            0
        ]
    return rows, ids


def _cli(store: Path, source: Path) -> list[str]:
    return [
        sys.executable,
        "-u",
        "-m",
        "ledger",
        "--store",
        str(store),
        "ingest",
        "--quiet",
        "--batch-size",
        "100",
        str(source),
    ]


def test_a_rerun_after_a_crash_between_batches_stores_nothing_twice(tmp_path):
    """
    Issue 4: the process is killed (SIGKILL, no cleanup) after some batches committed.
    Re-running the same file reports exactly the already-stored events as duplicate,
    stores the rest, and stores no event twice.
    """
    source, store = tmp_path / "events.jsonl", tmp_path / "ledger.db"
    events = _write_input(source, decisions=1000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        _cli(store, source), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as first:
        assert first.stdout is not None
        seen = [first.stdout.readline() for _ in range(300)]  # three batches reported
        first.send_signal(signal.SIGKILL)
        first.wait()
    acknowledged = sum(b'"accepted"' in line for line in seen)
    stored_before, _ = _stored(store)

    assert first.returncode == -signal.SIGKILL
    assert acknowledged <= stored_before < len(events)  # acknowledged implies durable

    rerun = subprocess.run(_cli(store, source), cwd=ROOT, env=env, capture_output=True, check=False)
    statuses = Counter(orjson.loads(line)["status"] for line in rerun.stdout.splitlines())
    valid = sum(1 for e in events if b'"confidence": 7' not in e)

    assert rerun.returncode == 1  # the bad lines are still refused
    assert statuses["duplicate"] == stored_before
    assert statuses["duplicate"] + statuses["accepted"] == valid
    assert _stored(store) == (valid, valid)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_results_do_not_depend_on_the_batch_size(tmp_path, batch_size):
    """
    Issue 4: batching is an implementation detail. The same input gives the same per-line
    results and the same stored events, in the same order, whatever the batch size.
    """
    lifecycles = [auto_approved(f"dec-size-{i}") for i in range(5)]
    events = [e for group in zip(*lifecycles, strict=True) for e in group]  # interleaved
    events.insert(4, dict(events[0], event_id=str(uuid.uuid4())))  # a second 001
    events.insert(9, events[2])  # an identical re-send
    with GovernanceLedger(LedgerConfig(store=str(tmp_path / "l.db"))) as ledger:
        results = [(r.line, r.status, r.code) for r in ingest(ledger, events, batch_size)]
        stored = [state for _, state in ledger.stored_events()]

    assert results == _REFERENCE_RESULTS
    assert stored == [
        orjson.dumps(e, option=orjson.OPT_SORT_KEYS)
        for e, (_, status, _) in zip(events, results, strict=True)
        if status == "accepted"
    ]


_REFERENCE_RESULTS = [
    (1, "accepted", None),
    (2, "accepted", None),
    (3, "accepted", None),
    (4, "accepted", None),
    (5, "rejected", "duplicate"),  # decision-id reuse is replay (issue 10)
    (6, "accepted", None),
    (7, "accepted", None),
    (8, "accepted", None),
    (9, "accepted", None),
    (10, "duplicate", "duplicate"),
    (11, "accepted", None),
    (12, "accepted", None),
    (13, "accepted", None),
    (14, "accepted", None),
    (15, "accepted", None),
    (16, "accepted", None),
    (17, "accepted", None),
]
