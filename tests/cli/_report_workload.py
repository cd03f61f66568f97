"""A known workload for the oversight report: two weeks of history, the demo, and a journal.

``record`` fills a store with:

* two weeks of hand-made decision lifecycles through ``GovernanceLedger.append``
  (timestamps in the past, so the report has something to chart over time), each
  shaped the way ``evaluate_gate`` records it, with human waits from minutes to days,
  human answers that differ from the model's (overrides) and some 005s that name
  no user (unattributed human steps);
* four decisions awaiting a human with known ages (8 days, 4 days, 2 days, 5 hours);
* ``ledger.demo.run_demo`` with a fixed seed (decisions stamped now).

``add_refusal_journal`` adds rows spread over the same weeks to the projection's
``refusals`` table (creating it where a projection lacks it): the ledger stamps each
refusal with its own time, so a journal spanning weeks can only be written into the
projection. The demo's own refusals (stamped now) are real journal rows.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.application import GovernanceLedger
from ledger.demo import run_demo
from ledger.policy import Verdict, evaluate
from ledger.vocabulary import AutomationLevel

GATES = ["SpecApproval", "RefinementSign", "ScopeChange", "CloudEscalation", "PolicyViolation"]
LEVELS = ["AUTONOMOUS", "HYBRID", "FULL_HUMAN", "LOCKED"]
MODELS = ["local/qwen2.5-coder-32b", "local/llama-3.3-70b", "local/mistral-small-24b"]
USERS = ["alice", "bob", "carol", "dave"]
#: Ages of the decisions left awaiting a human, and what the report must count.
PENDING_AGES = {
    "pending-8d": timedelta(days=8),
    "pending-4d": timedelta(days=4),
    "pending-2d": timedelta(days=2),
    "pending-5h": timedelta(hours=5),
}
DAYS = 14


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fr(event_type: str, base: dict[str, Any], at: datetime, actor: str, **fields: Any):
    event = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": stamp(at),
        "actor": actor,
        **base,
    }
    event.update({k: v for k, v in fields.items() if v is not None})
    return event


def lifecycle(rng: random.Random, n: int, at: datetime, now: datetime) -> list[dict[str, Any]]:
    """
    One decision's events, as evaluate_gate and record_human_decision would record them.
    """
    gate, level = rng.choice(GATES), rng.choice(LEVELS)
    confidence = round(rng.uniform(0.5, 1.0), 3)
    decision = rng.choices(["approve", "reject", "defer"], weights=[8, 1, 1])[0]
    model = rng.choice(MODELS)
    base = {
        "decision_id": f"hist-{n:04d}",
        "gate_type": gate,
        "target_ref": f"WP-H{n // 4:03d}/MT-{n % 4:02d}",
        "automation_level": level,
    }
    created = {"confidence": confidence, "model_id": model, "rationale": "checks passed"}
    outcome = evaluate(gate, AutomationLevel.parse(level), confidence)
    if outcome.verdict is Verdict.HALT:
        closing = "reject" if gate in ("CloudEscalation", "PolicyViolation") else "defer"
        return [
            _fr("gov_decision_created", base, at, "agent", decision=closing, **created),
            _fr(
                "gov_decision_applied", base, at + timedelta(seconds=1), "system", decision=closing
            ),
        ]
    if outcome.verdict is Verdict.AUTO:
        events = [_fr("gov_decision_created", base, at, "agent", decision=decision, **created)]
        if decision == "approve":
            events.append(
                _fr(
                    "gov_auto_signature_created",
                    base,
                    at + timedelta(seconds=2),
                    "agent",
                    model_id=model,
                )
            )
        events.append(
            _fr(
                "gov_decision_applied", base, at + timedelta(seconds=3), "system", decision=decision
            )
        )
        return events
    # A human is needed: waits from minutes to days, never past now.
    wait = timedelta(seconds=min(rng.lognormvariate(9.5, 1.6), 12 * 86_400))
    asked = at + timedelta(seconds=1)
    answered = min(asked + wait, now - timedelta(minutes=30))
    answer = rng.choices(["approve", "reject", "defer"], weights=[6, 3, 1])[0]
    user = rng.choice([*USERS, None])  # one in five names nobody: an unattributed step
    return [
        _fr("gov_decision_created", base, at, "agent", decision=decision, **created),
        _fr("gov_human_intervention_requested", base, asked, "system", rationale=outcome.reason),
        _fr(
            "gov_human_intervention_received",
            base,
            answered,
            "human",
            decision=answer,
            user_id=user,
            rationale="reviewed",
        ),
        _fr(
            "gov_decision_applied", base, answered + timedelta(seconds=1), "system", decision=answer
        ),
    ]


def pending(name: str, at: datetime) -> list[dict[str, Any]]:
    base = {
        "decision_id": name,
        "gate_type": "ScopeChange",
        "target_ref": f"WP-P/{name}",
        "automation_level": "FULL_HUMAN",
    }
    return [
        _fr(
            "gov_decision_created",
            base,
            at,
            "agent",
            decision="approve",
            confidence=0.9,
            model_id=MODELS[0],
        ),
        _fr("gov_human_intervention_requested", base, at, "system", rationale="Human cell"),
    ]


def record(ledger: GovernanceLedger, now: datetime, *, seed: int = 14) -> None:
    """
    Two weeks of history before ``now``, the pending decisions, then the demo (stamped now).
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    events: list[dict[str, Any]] = []
    n = 0
    for day in range(DAYS, 0, -1):
        for _ in range(rng.randint(6, 14)):
            at = now - timedelta(days=day) + timedelta(seconds=rng.randrange(86_400))
            events += lifecycle(rng, n, at, now)
            n += 1
    for name, age in PENDING_AGES.items():
        events += pending(name, now - age)
    results = ledger.append(events)
    refused = [r.error for r in results if r.error is not None]
    assert not refused, refused[:3]
    run_demo(ledger, work_packets=8, seed=7)


_CODES = ["invalid_schema", "sequence_violation", "forbidden_gate", "locked_halt", "duplicate"]


def add_refusal_journal(con, now: datetime, *, seed: int = 5) -> None:
    """
    Rows over the two weeks in the projection's ``refusals`` table (positions far past the
    journal's, so they never collide with a real row).
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    con.execute(
        "CREATE TABLE IF NOT EXISTS refusals (refused_at TIMESTAMPTZ, entry_point VARCHAR, "
        "event_id VARCHAR, decision_id VARCHAR, type VARCHAR, code VARCHAR, rule VARCHAR, "
        "field VARCHAR, sha256 VARCHAR, position BIGINT)"
    )
    rows = []
    for _ in range(60):
        at = now - timedelta(days=DAYS) + timedelta(seconds=rng.randrange(DAYS * 86_400))
        code = rng.choices(_CODES, weights=[5, 4, 2, 2, 1])[0]
        rows.append(
            (
                at,
                rng.choice(["ingest", "command", "http"]),
                str(uuid.uuid4()),
                f"hist-{rng.randrange(150):04d}",
                "gov_decision_applied",
                code,
                "2.6.8.12.6.4",
                None,
                f"{rng.getrandbits(256):064x}",
                None,
            )
        )
    con.executemany(
        "INSERT INTO refusals (refused_at, entry_point, event_id, decision_id, type, code, rule, "
        "field, sha256, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row[:9], 1_000_000 + n) for n, row in enumerate(rows)],
    )
