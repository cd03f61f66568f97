"""The ledger's two shortcuts around the library equal the library's own paths, on both stores.

``DecisionRepository.load`` reads many decisions per round trip instead of
``Repository.get`` one by one; ``GovernanceLedger._save_in_order`` hands
``Application.save``'s path the events already collected. Each must give exactly
what the library gives.
"""

from __future__ import annotations

from ledger.bootstrap import bootstrap
from ledger.config import LedgerConfig
from ledger.gate import aggregate_id


def _lifecycles(ledger, n=6):
    ids = []
    for i in range(n):
        outcome = ledger.evaluate_gate(
            "ScopeChange" if i % 2 else "SpecApproval",
            f"WP-{i}",
            "HYBRID",
            "approve",
            0.5 + i / 20,
            rationale="checks passed",
            model_id="model-a",
        )
        if outcome.awaiting_human:
            ledger.record_human_decision(outcome.decision_id, "alice", "approve")
        ids.append(outcome.decision_id)
    return ids


def test_loading_many_decisions_equals_the_librarys_repository_get(ledger):
    """
    Every decision loaded in one round trip has the state, history and version the
    library's Repository.get replays for it.
    """
    ids = _lifecycles(ledger)
    loaded = ledger.decisions.load([aggregate_id(d) for d in ids], cached=False)
    for decision_id in ids:
        ours = loaded[aggregate_id(decision_id)]
        theirs = ledger.repository.get(aggregate_id(decision_id))
        assert (ours.state, ours.history, ours.version) == (
            theirs.state,
            theirs.history,
            theirs.version,
        )


def test_saving_in_order_stores_what_application_save_stores(tmp_path):
    """
    The same judged events, saved by the library's save() into one store and by the
    ledger's path into another, give the same stored rows and positions.
    """
    events = []
    store_config = LedgerConfig(store=str(tmp_path / "source.db"))
    with bootstrap(store_config).ledger() as source:
        for decision_id in _lifecycles(source, n=3):
            events.extend(source.gate(decision_id).history)

    def judged(ledger):
        # Judge the same events into pending domain events without storing them.
        from ledger._batch import Judged, judge, prepare

        out = Judged()
        judge(prepare(events), {}, {}, ledger.policy, atomic=True, into=out)
        return out.pending

    a = store_config.with_store(str(tmp_path / "a.db"))
    b = store_config.with_store(str(tmp_path / "b.db"))
    with bootstrap(a).ledger() as first, bootstrap(b).ledger() as second:
        recordings = first.save(*judged(first))
        positions = second._save_in_order(judged(second))  # noqa: SLF001 - the shortcut itself
        assert [r.notification.id for r in recordings] == positions
        assert list(first.stored_events()) == list(second.stored_events())
        assert first.store.find_event_ids([e["event_id"] for e in events]) == (
            second.store.find_event_ids([e["event_id"] for e in events])
        )
