"""``govledger demo``: a realistic orchestrator workload through the command API.

Work packets move through spec approval, refinement signing and scope changes
at every automation level; some ask for cloud escalation or trip a policy; humans
answer most requests; LOCKED runs halt; and a few bad events from an upstream
emitter are refused at ingestion.

Demo data never mixes with a real ledger. The store itself remembers what the demo
wrote: after each run, ``govledger_meta`` records the last event position and the
last refusal journal position the demo reached (``demo:events``, ``demo:refusals``).
A store holds nothing but demo data when it is empty, or when those marks are exactly
where the store ends (nothing was stored after the demo) and it has no API tokens.
Recognising demo data by its content (ids, work packet names) could mistake a real
orchestrator's events for the demo's; the marks record the fact when it happens.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter

from ledger._repository import store_errors
from ledger.application import GovernanceLedger
from ledger.errors import ConfigurationError
from ledger.stores import META_TABLE
from ledger.vocabulary import AutomationLevel, GateType

__all__ = ["mark_demo", "refuse_unless_demo", "run_demo"]

_MARKS = ("demo:events", "demo:refusals")

_LEVELS = [
    AutomationLevel.AUTONOMOUS,
    AutomationLevel.HYBRID,
    AutomationLevel.FULL_HUMAN,
    AutomationLevel.LOCKED,
]
_MODELS = ["local/qwen2.5-coder-32b", "local/llama-3.3-70b", "local/mistral-small-24b"]
_USERS = ["alice", "bob", "carol"]


def _bad_events(target: str) -> list[dict[str, object]]:
    base = {
        "timestamp": "2026-02-19T15:00:00Z",
        "actor": "agent",
        "gate_type": GateType.CLOUD_ESCALATION.value,
        "target_ref": target,
        "automation_level": "AUTONOMOUS",
    }
    decision_id = f"demo-bad-{uuid.uuid4()}"
    return [
        # An upstream emitter still using a deprecated Stage alias (2.6.8.12.6.4).
        {
            **base,
            "type": "FR-EVT-GOV-SELF-APPROVED",
            "event_id": str(uuid.uuid4()),
            "decision_id": decision_id,
        },
        # A confidence outside [0, 1].
        {
            **base,
            "type": "gov_decision_created",
            "event_id": str(uuid.uuid4()),
            "decision_id": decision_id,
            "decision": "approve",
            "confidence": 1.7,
        },
        # A valid cloud-escalation decision ...
        {
            **base,
            "type": "gov_decision_created",
            "event_id": str(uuid.uuid4()),
            "decision_id": decision_id,
            "decision": "approve",
            "confidence": 0.99,
            "model_id": _MODELS[0],
        },
        # ... that an emitter then tries to auto-sign (2.6.8.12.4: MUST NOT).
        {
            **base,
            "type": "gov_auto_signature_created",
            "event_id": str(uuid.uuid4()),
            "decision_id": decision_id,
            "model_id": _MODELS[0],
        },
        # ... and to apply for a different target (binding, 2.6.8.12.6.3).
        {
            **base,
            "type": "gov_decision_applied",
            "event_id": str(uuid.uuid4()),
            "decision_id": decision_id,
            "target_ref": target + "-other",
            "decision": "approve",
        },
    ]


def run_demo(ledger: GovernanceLedger, *, work_packets: int = 12, seed: int = 7) -> str:
    """
    Record the workload into ``ledger`` and return a report of what was recorded.
    """
    rng = random.Random(seed)
    statuses: Counter[tuple[str, str, str]] = Counter()
    halts: list[str] = []
    run = uuid.uuid4().hex[:6]
    for n in range(1, work_packets + 1):
        wp_id = f"WP-{run}-{n:03d}"
        level = _LEVELS[(n - 1) % len(_LEVELS)]
        model_id = rng.choice(_MODELS)
        gates = [GateType.SPEC_APPROVAL, GateType.REFINEMENT_SIGN]
        gates += [GateType.SCOPE_CHANGE] * rng.randint(0, 2)
        if rng.random() < 0.35:
            gates.append(GateType.CLOUD_ESCALATION)
        if rng.random() < 0.2:
            gates.append(GateType.POLICY_VIOLATION)
        for m, gate in enumerate(gates, start=1):
            confidence = round(rng.uniform(0.55, 1.0), 3)
            decision = "approve" if rng.random() < 0.85 else rng.choice(["reject", "defer"])
            outcome = ledger.evaluate_gate(
                gate.value,
                f"{wp_id}/MT-{m:02d}",
                level.value,
                decision,
                confidence,
                rationale=f"{gate.value} for {wp_id}: checks passed on {m} artifacts",
                evidence_refs=[f"artifact://{wp_id}/report-{m}.md"],
                model_id=model_id,
                wp_id=wp_id,
                mt_id=f"MT-{m:02d}",
            )
            if outcome.awaiting_human and rng.random() < 0.8:
                answer = "approve" if rng.random() < 0.75 else "reject"
                outcome = ledger.record_human_decision(
                    outcome.decision_id,
                    rng.choice(_USERS),
                    answer,
                    rationale="reviewed the evidence refs",
                )
            if outcome.halted:
                halts.append(f"{wp_id}/MT-{m:02d} {gate.value}: {outcome.decision}")
            statuses[(gate.value, level.value, outcome.status)] += 1

    refused = [
        f"{result.error.code}: {result.error.message}"
        for result in ledger.append(_bad_events(f"WP-{run}-upstream"))
        if result.error is not None
    ]

    lines = [
        f"govledger demo: {work_packets} work packets into {ledger.config.store_label}",
        f"{sum(statuses.values())} decisions recorded through the command API:",
        f"  {'gate_type':<16} {'automation_level':<16} {'status':<15} count",
    ]
    lines += [
        f"  {gate:<16} {level:<16} {status:<15} {count:>5}"
        for (gate, level, status), count in sorted(statuses.items())
    ]
    lines.append(f"{len(halts)} LOCKED halts (fail-closed, 2.6.8.12.6.1):")
    lines += [f"  {h}" for h in halts[:10]]
    lines.append(f"{len(refused)} upstream events refused at ingestion:")
    lines += [f"  {r[:160]}" for r in refused]
    lines.append(f"store now holds {ledger.max_position()} events")
    return "\n".join(lines)


def _marks(ledger: GovernanceLedger) -> dict[str, str]:
    dialect = ledger.store.dialect
    with (
        store_errors(ledger.config.store_label, "read"),
        ledger.store.transaction(commit=False) as c,
    ):
        c.execute(
            f"SELECT key, value FROM {dialect.table(META_TABLE)} "
            f"WHERE key IN ({dialect.params(len(_MARKS))})",
            list(_MARKS),
        )
        rows = c.fetchall()
    return {
        str(r["key"] if isinstance(r, dict) else r[0]): str(
            r["value"] if isinstance(r, dict) else r[1]
        )
        for r in rows
    }


def refuse_unless_demo(ledger: GovernanceLedger) -> None:
    """
    ``ConfigurationError`` (exit 2) unless ``ledger``'s store is new (nothing stored, no
    tokens) or holds nothing but what earlier demo runs wrote.
    """
    tally = ledger.tally()
    with store_errors(ledger.config.store_label, "read"):
        tokens = ledger.store.list_tokens()
    if not tally.events and not tally.refusals and not tokens:
        return
    marks = _marks(ledger)
    if (
        not tokens
        and marks.get("demo:events") == str(ledger.max_position())
        and marks.get("demo:refusals") == str(tally.last_refusal)
    ):
        return
    label = ledger.config.store_label
    held = f"{tally.events:,} events and {tally.refusals:,} refused ones"
    if tokens:
        held += f" and {len(tokens)} API token(s)"
    msg = (
        f"demo: the store {label} holds {held} that the demo did not write; demo never mixes "
        "sample data into a real ledger: give it a store of its own with --store, e.g. "
        "govledger --store demo.db demo"
    )
    raise ConfigurationError(msg, field="store", rule="not_demo")


def mark_demo(ledger: GovernanceLedger) -> None:
    """
    Record in the store how far the demo wrote (see the module's docstring).
    """
    values = {
        "demo:events": str(ledger.max_position()),
        "demo:refusals": str(ledger.tally().last_refusal),
    }
    dialect = ledger.store.dialect
    table, p = dialect.table(META_TABLE), dialect.placeholder
    with (
        store_errors(ledger.config.store_label, "write"),
        ledger.store.transaction(commit=True) as c,
    ):
        for key, value in values.items():
            c.execute(f"DELETE FROM {table} WHERE key = {p}", [key])
            c.execute(f"INSERT INTO {table} (key, value) VALUES ({p}, {p})", [key, value])
