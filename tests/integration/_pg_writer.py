"""One orchestrator process for the scale-out tests (run as a script, not collected).

``python _pg_writer.py STORE_URL WORKER DECISIONS COMMON_FILE START_FILE OUT_FILE``

Builds its own event stream (its own decisions, plus decisions every worker shares,
with this worker's own event_ids and outcomes, plus COMMON_FILE's events, identical
in every worker), waits for START_FILE so that all workers race, ingests in small
batches, then races the other workers through the command API on shared decisions.
Writes every acknowledged event_id and every refusal code to OUT_FILE (JSON).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import orjson

from ledger.application import ACCEPTED, GovernanceLedger
from ledger.config import LedgerConfig
from ledger.errors import LedgerError

GATES = ["SpecApproval", "RefinementSigning", "ScopeChange"]
LEVELS = ["AUTONOMOUS", "HYBRID", "FULL_HUMAN"]
SHARED_EVERY = 10  # one decision in ten is raced by every worker
COMMAND_RACES = 25
BATCH = 200


def own_events(worker: int, decisions: int) -> list[bytes]:
    """
    This worker's events: valid sequences, generated through the command API in memory.
    """
    rng = random.Random(worker)  # noqa: S311 - reproducible workload
    with GovernanceLedger(LedgerConfig(store=":memory:")) as mem:
        for i in range(decisions):
            shared = i % SHARED_EVERY == 0
            decision_id = f"shared-{i}" if shared else f"w{worker}-{i}"
            gate = GATES[i % len(GATES)]
            level = LEVELS[(i // len(GATES)) % len(LEVELS)]
            out = mem.evaluate_gate(
                gate,
                f"wp-{i}",
                level,
                "approve",
                round(rng.uniform(0.5, 1.0), 3),
                "because",
                [],
                "local/model",
                decision_id=decision_id,
            )
            if out.awaiting_human and rng.random() < 0.7:
                mem.record_human_decision(decision_id, "alice", rng.choice(["approve", "reject"]))
        return [state for _, state in mem.stored_events()]


def interleave(events: list[bytes], common: list[bytes], worker: int) -> list[bytes]:
    # Spread each decision over several batches, so that races happen mid-sequence.
    by_decision: dict[str, list[bytes]] = {}
    for raw in events:
        by_decision.setdefault(orjson.loads(raw)["decision_id"], []).append(raw)
    ordered: list[bytes] = []
    chunks = list(by_decision.values())
    for start in range(0, len(chunks), 150):
        window = chunks[start : start + 150]
        for step in range(max(len(c) for c in window)):
            ordered.extend(c[step] for c in window if step < len(c))
    # The identical events go in at a different point in each worker.
    cut = (len(ordered) * (worker + 1)) // 5
    return ordered[:cut] + common + ordered[cut:]


def main() -> None:
    url, worker, decisions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    common_file, start_file, out_file = map(Path, sys.argv[4:7])
    common = [line for line in common_file.read_bytes().splitlines() if line]
    stream = interleave(own_events(worker, decisions), common, worker)
    acknowledged: list[str] = []
    refused: dict[str, int] = {}
    statuses: dict[str, int] = {}
    with GovernanceLedger(LedgerConfig(store=url)) as ledger:
        while not start_file.exists():
            time.sleep(0.01)
        for start in range(0, len(stream), BATCH):
            batch = [orjson.loads(raw) for raw in stream[start : start + BATCH]]
            for fr, result in zip(batch, ledger.append(batch), strict=True):
                statuses[result.status] = statuses.get(result.status, 0) + 1
                if result.status == ACCEPTED:
                    acknowledged.append(fr["event_id"].lower())
                else:
                    assert result.error is not None
                    refused[result.error.code] = refused.get(result.error.code, 0) + 1
        # Two orchestrators racing to record, then to answer, the same decision.
        for i in range(COMMAND_RACES):
            for call in (
                lambda i=i: ledger.evaluate_gate(
                    "SpecApproval", f"cmd-{i}", "HYBRID", "approve", 0.5, decision_id=f"cmd-{i}"
                ),
                lambda i=i: ledger.record_human_decision(f"cmd-{i}", f"user{worker}", "approve"),
            ):
                try:
                    outcome = call()
                except LedgerError as exc:
                    refused[exc.code] = refused.get(exc.code, 0) + 1
                    statuses["command_refused"] = statuses.get("command_refused", 0) + 1
                else:
                    # A replayed command (the other writer recorded the same call) stored nothing.
                    if not outcome.replayed:
                        acknowledged.extend(e.lower() for e in outcome.event_ids)
                    statuses["command_ok"] = statuses.get("command_ok", 0) + 1
    out_file.write_bytes(
        orjson.dumps({"acknowledged": acknowledged, "refused": refused, "statuses": statuses})
    )


if __name__ == "__main__":
    main()
