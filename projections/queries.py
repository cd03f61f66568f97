"""Audit queries over the projection: each returns column names and plain row tuples.

Nothing here writes. ``run_query`` runs an auditor's own SQL and refuses any
statement that is not a read, before DuckDB sees it; the connection it is given is
sandboxed (``_duckdb.sandbox``), so a read cannot reach a file, the network or an
extension either. A SQL mistake is reported as one (``sql_error``, with DuckDB's
caret), a reach outside as ``read_only_query``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ledger import _time
from projections._errors import QuerySqlError, ReadOnlyQueryError
from projections._tables import TABLES

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "REPORTS",
    "Report",
    "Result",
    "decisions_by_status",
    "export_parquet",
    "run_query",
    "run_report",
]


@dataclass(frozen=True, slots=True)
class Result:
    """
    A query's answer: column names and rows in order.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Report:
    """
    One named audit report.

    ``sql`` holds two placeholders filled by ``run_report``: ``{period}`` (a condition on
    the ``period`` column, TRUE when no period is asked for) and ``{limit}``. Parameters
    are DuckDB named ones: ``$since``, ``$until``, ``$limit``, ``$now``, ``$target``.
    """

    sql: str
    help: str
    #: The column ``--since`` (inclusive) and ``--until`` (exclusive) restrict.
    period: str
    #: Name of the one argument the report takes (``target`` takes TARGET_REF).
    argument: str | None = None


_APPROVED = "('auto_approved', 'human_approved')"
_OVERRIDDEN = "human_decision IS NOT NULL AND human_decision IS DISTINCT FROM model_decision"

#: ``govledger audit REPORT``: name -> report.
REPORTS: Final[Mapping[str, Report]] = {
    "summary": Report(
        "SELECT gate_type, automation_level, status, count(*) AS count FROM decisions "
        "WHERE {period} GROUP BY gate_type, automation_level, status "
        "ORDER BY gate_type, automation_level, status{limit}",
        "decisions counted by gate type x automation level x status",
        period="created_at",
    ),
    "auto-approvals": Report(
        "SELECT decision_id, gate_type, automation_level, target_ref, model_id, confidence, "
        "threshold, round(confidence - threshold, 6) AS margin, signed_at, applied_at "
        "FROM decisions WHERE status = 'auto_approved' AND {period} "
        "ORDER BY applied_at, decision_id{limit}",
        "auto-approved decisions with confidence, the threshold that applied and the margin "
        "(empty threshold and margin: an unconditional Auto cell)",
        period="created_at",
    ),
    "pending": Report(
        "SELECT decision_id, gate_type, automation_level, target_ref, model_id, "
        "awaiting_since AS requested_at, "
        "round(epoch(CAST($now AS TIMESTAMPTZ)) - epoch(awaiting_since), 3) AS waited_seconds "
        "FROM decisions WHERE status = 'awaiting_human' AND {period} "
        "ORDER BY awaiting_since, decision_id{limit}",
        "decisions awaiting a human, oldest first, with how long they have waited",
        period="awaiting_since",
    ),
    "halts": Report(
        "SELECT decision_id, gate_type, target_ref, decision, confidence, threshold, model_id, "
        "halted_at, rule, reason FROM locked_halts WHERE {period} "
        "ORDER BY halted_at, decision_id{limit}",
        "LOCKED halts: a reject/defer recorded where a human would have been needed",
        period="halted_at",
    ),
    "overrides": Report(
        "SELECT decision_id, gate_type, automation_level, target_ref, model_id, model_decision, "
        "confidence, human_decision, human_user_id AS user_id, human_decided_at AS decided_at, "
        "status FROM decisions "
        "WHERE human_decision IS NOT NULL AND human_decision IS DISTINCT FROM model_decision "
        "AND {period} ORDER BY human_decided_at, decision_id{limit}",
        "decisions where the human answered differently from the model",
        period="human_decided_at",
    ),
    "target": Report(
        "SELECT e.position, e.timestamp, e.fr_id, e.type, e.decision_id, d.gate_type, "
        "d.automation_level, e.actor, e.fr->>'decision' AS decision, "
        "CAST(e.fr->>'confidence' AS DOUBLE) AS confidence, e.fr->>'model_id' AS model_id, "
        "e.fr->>'user_id' AS user_id "
        "FROM events e JOIN decisions d ON d.decision_id = e.decision_id "
        "WHERE d.target_ref = $target AND {period} ORDER BY e.position{limit}",
        "the full event history of one target_ref, in store order",
        period="e.timestamp",
        argument="TARGET_REF",
    ),
    "refusals": Report(
        "SELECT position, refused_at, entry_point, code, rule, field, type, event_id, "
        "decision_id, sha256 FROM refusals WHERE {period} ORDER BY position DESC{limit}",
        "the refusal journal, newest first: every refused event, from every entry point "
        "(never its content: the SHA-256 of what was submitted)",
        period="refused_at",
    ),
    "attribution": Report(
        "SELECT decision_id, gate_type, automation_level, target_ref, status, "
        "CASE WHEN signed_at IS NOT NULL AND signed_by IS NULL THEN 'auto_signature' "
        "ELSE 'human_step' END AS unattributed, signed_by AS model_id, "
        "human_user_id AS user_id, applied_at, policy_version "
        "FROM decisions WHERE applied_at IS NOT NULL AND ("
        "(signed_at IS NOT NULL AND signed_by IS NULL) "
        "OR (human_decided_at IS NOT NULL AND NOT human_attributed)) AND {period} "
        "ORDER BY applied_at, decision_id{limit}",
        "decisions closed by an auto-signature that names no model, or by a human step that "
        "names no human (a 005 without user_id, or whose actor is not human)",
        period="applied_at",
    ),
    "models": Report(
        "SELECT model_id, count(*) AS decisions, "
        f"count(*) FILTER (WHERE status IN {_APPROVED}) AS approved, "
        f"round(count(*) FILTER (WHERE status IN {_APPROVED}) / count(*), 4) AS approval_rate, "
        "round(avg(confidence), 4) AS mean_confidence, "
        "count(human_decision) AS human_answered, "
        f"count(*) FILTER (WHERE {_OVERRIDDEN}) AS overridden, "
        f"round(count(*) FILTER (WHERE {_OVERRIDDEN}) / nullif(count(human_decision), 0), 4) "
        "AS override_rate "
        "FROM decisions WHERE {period} GROUP BY model_id ORDER BY model_id NULLS LAST{limit}",
        "per model_id: decisions, approved (auto or human) and its rate, mean confidence, "
        "decisions a human answered and how often the human overrode the model",
        period="created_at",
    ),
}


def run_report(
    con: duckdb.DuckDBPyConnection,
    name: str,
    argument: str | None = None,
    *,
    now: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> Result:
    """
    Run one of ``REPORTS``: rows whose ``period`` column is in [since, until), at most
    ``limit`` of them; ``now`` is the moment ``pending`` measures waits against.
    """
    report = REPORTS[name]
    params: dict[str, Any] = {}
    if report.argument is not None:
        if argument is None:
            msg = f"audit {name} needs {report.argument}"
            raise ValueError(msg)
        params["target"] = argument
    if "$now" in report.sql:
        params["now"] = _time.utc_text(now)
    period, bounds = period_clause(report.period, since, until)
    params.update(bounds)
    shown = ""
    if limit is not None:
        shown = " LIMIT $limit"
        params["limit"] = limit
    sql = report.sql.format(period=period, limit=shown)
    return _fetch(con, sql, params)


def period_clause(
    column: str, since: datetime | None, until: datetime | None
) -> tuple[str, dict[str, str]]:
    """
    The SQL condition that ``column`` is in [since, until) (either bound may be open), and
    its DuckDB named parameters ``$since`` / ``$until``.
    """
    parts, params = [], {}
    if since is not None:
        parts.append(f"{column} >= CAST($since AS TIMESTAMPTZ)")
        params["since"] = _time.utc_text(since)
    if until is not None:
        parts.append(f"{column} < CAST($until AS TIMESTAMPTZ)")
        params["until"] = _time.utc_text(until)
    return " AND ".join(parts) or "TRUE", params


#: Statement kinds a read-only query may run.
_READS: Final = frozenset({"SELECT", "EXPLAIN"})


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """
    One read-only statement (SELECT, WITH ... SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).
    """
    import duckdb  # noqa: PLC0415

    try:
        statements = con.extract_statements(sql)
    except duckdb.ParserException as exc:
        raise _sql_mistake(exc) from None
    if len(statements) != 1:
        raise ReadOnlyQueryError(
            f"query runs exactly one statement; got {len(statements)}", rule="sql"
        )
    kind = statements[0].type.name
    if kind not in _READS:
        raise ReadOnlyQueryError(
            f"query is read-only: a {kind} statement would change the projection or the "
            "files around it and is refused; use SELECT (the projection is rebuilt from "
            "the store, never edited)",
            rule="read_only",
        )
    try:
        return _fetch(con, sql, [])
    except duckdb.PermissionException as exc:
        raise ReadOnlyQueryError(
            f"query reads only the projection: {_first_line(exc)} (files, the network and "
            "extensions are out of reach)",
            rule="sandbox",
        ) from None
    except duckdb.Error as exc:
        if "extension" in str(exc).lower():
            raise ReadOnlyQueryError(
                f"query reads only the projection: {_first_line(exc)} (extensions are neither "
                "installed nor loaded)",
                rule="sandbox",
            ) from None
        raise _sql_mistake(exc) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sql_mistake(exc: Exception) -> QuerySqlError:
    """
    A SQL mistake: the first line as the message, DuckDB's statement and caret as detail.
    """
    text = str(exc).strip()
    lines = text.splitlines()
    caret = [line for line in lines[1:] if line.strip()]
    where = ""
    for line in caret:
        if line.startswith("LINE "):
            where = f" ({line.strip()})"
    return QuerySqlError(
        f"query SQL: {lines[0] if lines else text}{where}", rule="sql", detail="\n".join(caret)
    )


#: ``decisions_by_status``: what a list of decisions shows of each (the server, MCP, pending).
_BY_STATUS = (
    "SELECT created_position AS position, decision_id, gate_type, target_ref, "
    "automation_level, status, model_decision, confidence, threshold, model_id, created_at, "
    "awaiting_since, "
    "CASE WHEN awaiting_since IS NULL THEN NULL "
    "ELSE round(epoch(CAST(? AS TIMESTAMPTZ)) - epoch(awaiting_since), 3) END AS waited_seconds "
    "FROM decisions WHERE status = ? AND created_position > ? "
    "ORDER BY created_position LIMIT ?"
)


def decisions_by_status(
    con: duckdb.DuckDBPyConnection,
    status: str,
    *,
    after: int = 0,
    limit: int = 100,
    now: datetime | None = None,
) -> Result:
    """
    Decisions whose status is ``status``, oldest first (in the order they were created),
    from store position ``after`` on: a page of at most ``limit``.

    ``position`` (the store position of the decision's 001) is the page cursor: pass
    the last one seen as ``after`` for the next page. Waits are measured against ``now``.
    """
    return _fetch(con, _BY_STATUS, [_time.utc_text(now), status, after, limit])


def _fetch(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> Result:
    cursor = con.execute(sql, params if isinstance(params, Mapping) else list(params))
    columns = tuple(d[0] for d in cursor.description or ())
    return Result(columns, cursor.fetchall())


def export_parquet(con: duckdb.DuckDBPyConnection, directory: str | Path) -> dict[str, int]:
    """
    Write each projection table to ``directory/<table>.parquet``; returns rows per table.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    # Each table in a fixed order, so exports are byte-for-byte repeatable.
    for name, table in TABLES.items():
        target = str(out / f"{name}.parquet").replace("'", "''")
        con.execute(
            f"COPY (SELECT * FROM {name} ORDER BY {table.order_by}) TO '{target}' (FORMAT parquet)"
        )
        row = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        counts[name] = int(row[0]) if row else 0
    return counts
