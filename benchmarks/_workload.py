"""A generated, deterministic, realistic FR-EVT-GOV workload, written as JSON Lines.

Decision lifecycles follow what an orchestrator records (the same shapes as
``evaluate_gate`` / ``record_human_decision``), across every gate type and
automation level, legacy ``SUPERVISED``/``ASSISTED`` included:

* auto-approved: 001 -> 003 -> 002 (3 events);
* a human decides: 001 -> 004 -> 005 -> 002 (4 events);
* a human defers first, then answers: 001 -> 004 -> 005 (defer, not final) -> 004 -> 005
  (5 events; the gate is closed later, outside the file);
* a LOCKED halt: 001 (defer, or reject for CloudEscalation/PolicyViolation) -> 002
  (2 events: nothing else may be recorded, 2.6.8.12.6.1).

About 1,000-2,000 decisions are open at once and their events interleave, so a
decision's lifecycle spans store batches, as it does in a real stream. About 2%
of the lines are bad, of every kind the ledger refuses (not JSON, unknown or
deprecated type, schema violations, binding mismatch, forbidden auto-signature,
LOCKED human intervention, sequence violations, a changed re-send) plus
identical re-sends (reported ``duplicate``). Bad lines are extra lines: every
good lifecycle stays complete, so the expected counts are known.

``python -m benchmarks._workload N PATH`` writes N events to PATH.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ledger.policy import Verdict, evaluate
from ledger.vocabulary import AutomationLevel

__all__ = ["Workload", "events", "write"]

GATES = ["SpecApproval", "RefinementSign", "ScopeChange", "CloudEscalation", "PolicyViolation"]
LEVELS = ["AUTONOMOUS", "HYBRID", "FULL_HUMAN", "LOCKED", "SUPERVISED", "ASSISTED"]
MODELS = ["local/qwen2.5-coder-32b", "local/llama-3.3-70b", "local/mistral-small-24b"]
USERS = ["alice@example.org", "bob@example.org", "carol@example.org"]
BAD_RATE = 0.029  # per emitted line of an open decision: about 2% of all lines
OPEN_DECISIONS = 1500
_T0 = datetime(2026, 2, 19, 9, 0, tzinfo=UTC)
_VERSION = 2  # bump when the generated content changes


@dataclass
class _Decision:
    base: dict[str, Any]
    pending: list[dict[str, Any]]
    sent: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Workload:
    """
    What was generated: line counts by expected outcome.
    """

    lines: int = 0
    good: int = 0
    bad: Counter[str] = field(default_factory=Counter)


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = 0

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def stamp(self) -> str:
        self.clock += 1
        moment = _T0 + timedelta(milliseconds=37 * self.clock)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def fr(
        self, event_type: str, base: dict[str, Any], actor: str, **fields: Any
    ) -> dict[str, Any]:
        out = {
            "type": event_type,
            "event_id": self.uuid(),
            "timestamp": "",  # stamped when emitted, so timestamps rise through the file
            "actor": actor,
            **base,
        }
        out.update({k: v for k, v in fields.items() if v is not None})
        return out

    def rationale(self) -> str:
        words = self.rng.choice(
            [
                "tests pass and the diff stays inside the work packet's declared scope",
                "spec references resolve; acceptance criteria mapped to micro-tasks",
                "refinement keeps the public interface; two call sites updated",
                "cloud model needed for the 200k-token context of the migration plan",
                "policy check flagged a credential-like string in the evidence bundle",
            ]
        )
        return f"{words} (run {self.rng.randrange(10**6)})"

    def lifecycle(self, wp: int) -> _Decision:
        rng = self.rng
        gate = rng.choice(GATES)
        level_text = rng.choice(LEVELS)
        level = AutomationLevel.parse(level_text)
        confidence = round(rng.uniform(0.55, 1.0), 3)
        decision = rng.choices(["approve", "reject", "defer"], weights=[8, 1, 1])[0]
        model = rng.choice(MODELS)
        base = {
            "decision_id": f"dec-{self.uuid()}",
            "gate_type": gate,
            "target_ref": f"wp://WP-{wp:06d}/artifact/{rng.randrange(10**4):04d}",
            "automation_level": level_text,
            "wp_id": f"WP-{wp:06d}",
            "mt_id": f"MT-{wp:06d}-{rng.randrange(100):02d}",
            "job_id": f"job-{self.uuid()}",
        }
        refs = [f"evidence://{self.uuid()}" for _ in range(rng.randrange(1, 4))]
        outcome = evaluate(gate, level, confidence)
        if outcome.verdict is Verdict.HALT:
            closing = "reject" if gate in ("CloudEscalation", "PolicyViolation") else "defer"
            events = [
                self.fr("gov_decision_created", base, "agent", decision=closing,
                        confidence=confidence, rationale="LOCKED halt: " + self.rationale(),
                        evidence_refs=refs, model_id=model),
                self.fr("gov_decision_applied", base, "system", decision=closing),
            ]
        elif outcome.verdict is Verdict.AUTO and decision == "approve":
            events = [
                self.fr("gov_decision_created", base, "agent", decision=decision,
                        confidence=confidence, rationale=self.rationale(), evidence_refs=refs,
                        model_id=model),
                self.fr("gov_auto_signature_created", base, "agent", model_id=model,
                        confidence=confidence),
                self.fr("gov_decision_applied", base, "system", decision=decision),
            ]
        elif outcome.verdict is Verdict.AUTO:
            events = [
                self.fr("gov_decision_created", base, "agent", decision=decision,
                        confidence=confidence, rationale=self.rationale(), evidence_refs=refs,
                        model_id=model),
                self.fr("gov_decision_applied", base, "system", decision=decision),
            ]
        else:
            created = self.fr("gov_decision_created", base, "agent", decision=decision,
                              confidence=confidence, rationale=self.rationale(),
                              evidence_refs=refs, model_id=model)
            request = self.fr("gov_human_intervention_requested", base, "system",
                              rationale=outcome.reason[:4096])
            user = rng.choice(USERS)
            answer = rng.choices(["approve", "reject", "defer"], weights=[6, 3, 1])[0]
            if rng.random() < 0.25:
                events = [
                    created, request,
                    self.fr("gov_human_intervention_received", base, "human", decision="defer",
                            user_id=user, rationale="need the benchmark numbers first"),
                    self.fr("gov_human_intervention_requested", base, "system",
                            rationale="re-requested after a deferral"),
                    self.fr("gov_human_intervention_received", base, "human", decision=answer,
                            user_id=user, rationale=self.rationale()),
                ]
            else:
                events = [
                    created, request,
                    self.fr("gov_human_intervention_received", base, "human", decision=answer,
                            user_id=user, rationale=self.rationale()),
                    self.fr("gov_decision_applied", base, "system", decision=answer),
                ]
        return _Decision(base, events)

    def bad(self, d: _Decision, open_: list[_Decision]) -> tuple[str, bytes]:
        """
        One bad line about decision ``d`` (which has sent at least its 001).
        """
        rng = self.rng
        created = d.sent[0]
        kind = rng.choice(
            [
                "not_json", "unknown_event_type", "invalid_schema:confidence",
                "invalid_schema:extra_field", "invalid_schema:missing", "invalid_schema:timestamp",
                "binding_mismatch", "forbidden_gate", "locked_halt", "sequence_violation",
                "sequence_violation:orphan", "duplicate", "duplicate:changed",
            ]
        )
        ev = self.fr("gov_decision_applied", d.base, "system")
        ev["timestamp"] = self.stamp()
        if kind == "not_json":
            return kind, b'{"type": "gov_decision_created", "event_id": '
        if kind == "unknown_event_type":
            ev["type"] = rng.choice(
                ["FR-EVT-GOV-SELF-APPROVED", "governance_decision", "FR-EVT-001"]
            )
        elif kind == "invalid_schema:confidence":
            ev = {**created, "event_id": self.uuid(), "decision_id": f"dec-{self.uuid()}",
                  "confidence": rng.choice([1.7, -0.2, "0.9"])}
        elif kind == "invalid_schema:extra_field":
            ev["payload"] = {"raw": "not allowed"}
        elif kind == "invalid_schema:missing":
            del ev["actor"]
        elif kind == "invalid_schema:timestamp":
            ev["timestamp"] = "2026-02-30 25:00"
        elif kind == "binding_mismatch":
            ev["target_ref"] = created["target_ref"] + "-other"
        elif kind == "forbidden_gate":
            # An auto-signature for a gate that never takes one (2.6.8.12.4), on an open
            # decision of that gate; without one at hand, a decision created just for it.
            never = [o for o in rng.sample(open_, min(20, len(open_)))
                     if o.sent and o.base["gate_type"] in ("CloudEscalation", "PolicyViolation")]
            if never:
                ev = self.fr("gov_auto_signature_created", never[0].base, "agent",
                             model_id=MODELS[0])
                ev["timestamp"] = self.stamp()
            else:
                kind = "locked_halt"
        if kind == "locked_halt":
            # Under LOCKED an approve that needs a human is refused: LOCKED fails closed.
            ev = {**created, "event_id": self.uuid(), "decision_id": f"dec-{self.uuid()}",
                  "gate_type": "CloudEscalation", "automation_level": "LOCKED",
                  "decision": "approve"}
        elif kind == "sequence_violation":
            ev["type"] = "gov_decision_created"  # a second 001 for the decision
            ev["decision"] = "approve"
        elif kind == "sequence_violation:orphan":
            ev["decision_id"] = f"dec-{self.uuid()}"  # no 001 was ever recorded
        elif kind == "duplicate":
            ev = rng.choice(d.sent)
        elif kind == "duplicate:changed":
            ev = {**rng.choice(d.sent), "actor": "human", "user_id": "mallory@example.org"}
        return kind, orjson.dumps(ev)


def events(n: int, seed: int = 20260219, stats: Workload | None = None) -> Iterator[bytes]:
    """
    ``n`` JSON lines (without newlines), deterministic for ``seed``.
    """
    gen = _Gen(seed)
    rng = gen.rng
    stats = stats if stats is not None else Workload()
    open_: list[_Decision] = []
    wp = 0
    emitted = 0
    while emitted < n:
        if len(open_) < OPEN_DECISIONS and (not open_ or rng.random() < 0.5):
            wp += 1
            open_.append(gen.lifecycle(wp))
            continue
        i = rng.randrange(len(open_))
        d = open_[i]
        if d.sent and rng.random() < BAD_RATE:
            kind, line = gen.bad(d, open_)
            stats.bad[kind] += 1
        else:
            ev = d.pending.pop(0)
            ev["timestamp"] = gen.stamp()
            d.sent.append(ev)
            if not d.pending:
                open_[i] = open_[-1]
                open_.pop()
            line = orjson.dumps(ev)
            stats.good += 1
        emitted += 1
        stats.lines += 1
        yield line


def write(path: Path, n: int, seed: int = 20260219) -> Workload:
    """
    Write ``n`` events to ``path`` (reusing it if an identical one is already there).
    """
    stats = Workload()
    marker = path.with_suffix(path.suffix + ".done")
    tag = f"{n} {seed} {BAD_RATE} {OPEN_DECISIONS} {_VERSION}\n"  # regenerate when these change
    if path.exists() and marker.exists() and marker.read_text() == tag:
        for _ in events(0, seed, stats):  # pragma: no cover - nothing to count
            pass
        return _read_stats(path, stats)
    with path.open("wb") as out:
        for line in events(n, seed, stats):
            out.write(line + b"\n")
    marker.write_text(tag)
    return stats


def _read_stats(path: Path, stats: Workload) -> Workload:
    with path.open("rb") as handle:
        stats.lines = sum(1 for _ in handle)
    return stats


if __name__ == "__main__":
    count, target = int(sys.argv[1]), Path(sys.argv[2])
    result = write(target, count)
    print(f"{result.lines} lines, {result.good} good, {sum(result.bad.values())} bad: "
          f"{dict(result.bad)}")
