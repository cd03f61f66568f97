"""The read side of the evidence pack: the projection of a signed cut, restricted to a period.

An evidence pack holds what a signed checkpoint covers, nothing after it. So its
tables are not read from the live projection (which also holds the unsealed tail,
and decisions that moved on after the checkpoint) but from a projection of its own,
built in a working directory from the store's first event up to the checkpoint's
last position (and the refusal journal up to its own checkpoint), checked against
the signed checkpoints on the way like every catch-up. The same store and checkpoint
always give the same rows, so the pack's bytes depend on nothing else.

A decision is in the period when its 001 was created (``created_at``, the event's own
time) in [since, until), as in the oversight report; its whole history up to the cut
goes with it. A refusal is in the period when it was refused (``refused_at``) in it.
Each table is written as Parquet by DuckDB's own writer, rows in each table's export
order: byte for byte the same for the same rows and DuckDB version (checked by the
tests; DuckDB records its version in the file, so another version writes other bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ledger import _time
from projections import _duckdb
from projections._tables import TABLES
from projections.queries import period_clause
from projections.report import VerificationState, build_report
from projections.runner import DEFAULT_BATCH, NotificationLog, catch_up

if TYPE_CHECKING:
    import duckdb

    from ledger.trust import VerifierKey

__all__ = ["PeriodPack", "build_period"]

#: Tables restricted to the period's decisions (the refusals are restricted by their own time).
_BY_DECISION: Final = (
    "events",
    "decisions",
    "auto_signatures",
    "human_interventions",
    "locked_halts",
)


@dataclass(frozen=True, slots=True)
class PeriodPack:
    """
    What the pack holds from the read side.
    """

    #: ``tables/<table>.parquet`` and ``report.html``, by their name in the pack.
    files: dict[str, bytes]
    #: Rows per table.
    counts: dict[str, int]
    #: (store position, canonical bytes) of every event of the period's decisions.
    events: list[tuple[int, bytes]]
    #: Journal positions of the period's refusals.
    refusals: list[int]
    #: Digests of the gate policies the period's decisions were judged under.
    policies: list[str]
    #: Figures ``controls.md`` states (all from these tables).
    facts: dict[str, Any] = field(default_factory=dict)


def build_period(
    ledger: NotificationLog,
    workdir: Path,
    *,
    events_stop: int,
    refusals_stop: int,
    since: datetime | None,
    until: datetime | None,
    key: VerifierKey,
    verification: VerificationState,
    label: str = "the event store",
    batch_size: int = DEFAULT_BATCH,
) -> PeriodPack:
    """
    Project the store up to the cut into ``workdir`` and take the period's part of it.
    """
    con = _duckdb.connect(workdir / "cut.duckdb", store=ledger.store.meta)
    try:
        catch_up(
            ledger,
            con,
            stop=events_stop,
            refused_stop=refusals_stop,
            key=key,
            label=label,
            batch_size=batch_size,
        )
        return _take(con, workdir, since, until, verification)
    finally:
        con.close()


def _take(
    con: duckdb.DuckDBPyConnection,
    workdir: Path,
    since: datetime | None,
    until: datetime | None,
    verification: VerificationState,
) -> PeriodPack:
    created, params = period_clause("created_at", since, until)
    con.execute(
        f"CREATE TEMP TABLE pack_decisions AS SELECT decision_id FROM decisions WHERE {created}",
        params,
    )
    refused, params = period_clause("refused_at", since, until)
    con.execute(
        f"CREATE TEMP TABLE pack_refusals AS SELECT position FROM refusals WHERE {refused}",
        params,
    )
    files: dict[str, bytes] = {}
    counts: dict[str, int] = {}
    for name, table in TABLES.items():
        chosen = (
            "decision_id IN (SELECT decision_id FROM pack_decisions)"
            if name in _BY_DECISION
            else "position IN (SELECT position FROM pack_refusals)"
        )
        target = workdir / f"{name}.parquet"
        quoted = str(target).replace("'", "''")
        con.execute(
            f"COPY (SELECT * FROM {name} WHERE {chosen} ORDER BY {table.order_by}) "
            f"TO '{quoted}' (FORMAT parquet)"
        )
        files[f"tables/{name}.parquet"] = target.read_bytes()
        row = con.execute(f"SELECT count(*) FROM {name} WHERE {chosen}").fetchone()
        counts[name] = int(row[0]) if row else 0
    events = [
        (int(position), str(fr).encode())
        for position, fr in con.execute(
            "SELECT position, fr FROM events WHERE decision_id IN "
            "(SELECT decision_id FROM pack_decisions) ORDER BY position"
        ).fetchall()
    ]
    refusals = [
        int(r[0]) for r in con.execute("SELECT position FROM pack_refusals ORDER BY 1").fetchall()
    ]
    policies = [
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT policy_digest FROM decisions WHERE decision_id IN "
            "(SELECT decision_id FROM pack_decisions) ORDER BY 1"
        ).fetchall()
    ]
    files["report.html"] = build_report(
        con, since=since, until=until, now=verification.checkpoint_time, verification=verification
    ).encode()
    return PeriodPack(files, counts, events, refusals, policies, _facts(con))


_FACTS: Final = {
    "decisions": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p USING (decision_id)",
    "auto_approved": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE status = 'auto_approved'",
    "human_requested": "SELECT count(*) FROM human_interventions h SEMI JOIN pack_decisions p "
    "USING (decision_id)",
    "human_answered": "SELECT count(*) FROM human_interventions h SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE received_event_id IS NOT NULL",
    "human_named": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE human_decided_at IS NOT NULL AND human_attributed",
    "human_decided": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE human_decided_at IS NOT NULL",
    "overridden": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE human_decision IS NOT NULL "
    "AND human_decision IS DISTINCT FROM model_decision",
    "awaiting_human": "SELECT count(*) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE status = 'awaiting_human'",
    "halts": "SELECT count(*) FROM locked_halts h SEMI JOIN pack_decisions p USING (decision_id)",
    "signatures": "SELECT count(*) FROM auto_signatures a SEMI JOIN pack_decisions p "
    "USING (decision_id)",
    "signatures_named": "SELECT count(*) FROM auto_signatures a SEMI JOIN pack_decisions p "
    "USING (decision_id) WHERE model_attributed",
    "events": "SELECT count(*) FROM events e SEMI JOIN pack_decisions p USING (decision_id)",
    "refusals": "SELECT count(*) FROM pack_refusals",
    "first_created": "SELECT min(created_at) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id)",
    "last_created": "SELECT max(created_at) FROM decisions d SEMI JOIN pack_decisions p "
    "USING (decision_id)",
    "first_recorded": "SELECT min(recorded_at) FROM events e SEMI JOIN pack_decisions p "
    "USING (decision_id)",
}


def _facts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, sql in _FACTS.items():
        row = con.execute(sql).fetchone()
        value = row[0] if row else None
        out[name] = _time.display(value) if isinstance(value, datetime) else value
    out["refusals_by_code"] = {
        str(code): int(n)
        for code, n in con.execute(
            "SELECT code, count(*) FROM refusals SEMI JOIN pack_refusals USING (position) "
            "GROUP BY code ORDER BY code"
        ).fetchall()
    }
    out["policies"] = [
        {"version": str(v), "digest": str(d), "decisions": int(n)}
        for v, d, n in con.execute(
            "SELECT policy_version, policy_digest, count(*) FROM decisions d "
            "SEMI JOIN pack_decisions p USING (decision_id) GROUP BY ALL ORDER BY 2, 1"
        ).fetchall()
    ]
    return out
