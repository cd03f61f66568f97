"""Every projection table, declared once: its columns give the DDL, the Arrow schema of the
rows ``views`` hands over, the statement that writes them, and the order they are exported in.

Timestamps travel from Python as RFC 3339 text and become ``TIMESTAMPTZ`` in SQL; a
column with an ``expression`` is computed by DuckDB from what travelled (the
``events`` columns are extracted from the stored JSON, vectorised, which is
cheaper than building them in Python).

Keys (events.position, decisions.decision_id, ...) are unique by construction: a
batch and its position commit together, and a batch folds each decision to one
row. They carry no PRIMARY KEY index on purpose: maintaining the ART indexes (and
INSERT OR REPLACE through them) made a catch-up more than twice as slow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import pyarrow as pa  # type: ignore[import-untyped]

from ledger.events import FR_IDS

__all__ = [
    "BATCH_OPERATIONS",
    "BOOKKEEPING",
    "META",
    "TABLES",
    "WRITE_ORDER",
    "Column",
    "Table",
    "timestamp",
]

_ARROW: Final = {
    "VARCHAR": pa.string(),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "INTEGER": pa.int64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.string(),  # RFC 3339 text, cast in SQL
    "VARCHAR[]": pa.list_(pa.string()),
    "JSON": pa.string(),
}


def timestamp(expression: str) -> str:
    """
    SQL turning RFC 3339 text (``t``/``z`` allowed) into a ``TIMESTAMPTZ``.
    """
    return f"CAST(upper({expression}) AS TIMESTAMPTZ)"


@dataclass(frozen=True, slots=True)
class Column:
    """
    One column: its DuckDB type, whether it may be NULL, and how its value is written.

    ``expression`` (SQL over the batch) computes the value; without one, the column
    travels in the batch under its own name.
    """

    name: str
    sql_type: str
    nullable: bool = True
    expression: str | None = None

    @property
    def travels(self) -> bool:
        """
        Whether the value comes from Python (else DuckDB computes it).
        """
        return self.expression is None

    def select(self) -> str:
        """
        The SQL that produces this column from the batch.
        """
        if self.expression is not None:
            return self.expression
        if self.sql_type == "TIMESTAMPTZ":
            return timestamp(self.name)
        return self.name


@dataclass(frozen=True, slots=True)
class Table:
    """
    A projection table: columns in order, and the column exports are ordered by.
    """

    name: str
    columns: tuple[Column, ...]
    order_by: str
    #: What the columns select from (default: the Arrow batch itself).
    source: str = "batch"

    def ddl(self) -> str:
        """
        ``CREATE TABLE IF NOT EXISTS`` for this table.
        """
        lines = ",\n    ".join(
            f"{c.name} {c.sql_type}{'' if c.nullable else ' NOT NULL'}" for c in self.columns
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {lines}\n)"

    @property
    def arrow_schema(self) -> pa.Schema:
        """
        The Arrow columns ``views`` builds for this table.
        """
        travelling = [c for c in self.columns if c.travels]
        return pa.schema([(c.name, _ARROW[c.sql_type]) for c in travelling])

    def insert(self) -> str:
        """
        The statement writing an Arrow batch (named ``batch``) of this table's rows.
        """
        columns = ", ".join(c.name for c in self.columns)
        selected = ", ".join(c.select() for c in self.columns)
        return f"INSERT INTO {self.name} ({columns}) SELECT {selected} FROM {self.source}"


def _c(
    name: str, sql_type: str = "VARCHAR", *, null: bool = True, sql: str | None = None
) -> Column:
    return Column(name, sql_type, null, sql)


_FR_ID_CASES: Final = " ".join(f"WHEN '{t}' THEN '{i}'" for t, i in sorted(FR_IDS.items()))
_TS = "TIMESTAMPTZ"
#: The events' flat columns, extracted from the stored JSON in one pass per row.
_EXTRACTED: Final = ("event_id", "type", "decision_id", "timestamp", "actor")
_J = {name: f"j[{n}]" for n, name in enumerate(_EXTRACTED, start=1)}

_EVENTS = Table(
    "events",
    (
        _c("position", "BIGINT", null=False),
        _c("event_id", null=False, sql=_J["event_id"]),
        _c("type", null=False, sql=_J["type"]),
        _c("fr_id", null=False, sql=f"CASE {_J['type']} {_FR_ID_CASES} END"),
        _c("decision_id", null=False, sql=_J["decision_id"]),
        _c("timestamp", _TS, null=False, sql=timestamp(_J["timestamp"])),
        _c("actor", null=False, sql=_J["actor"]),
        _c("fr", "JSON", null=False),
        # Covered by a signed checkpoint the projection checked it against (a later catch-up
        # sets it once a new checkpoint covers it); when the store committed it.
        _c("sealed", "BOOLEAN", null=False),
        _c("recorded_at", _TS),
    ),
    order_by="position",
    source=(
        "(SELECT position, fr, sealed, recorded_at, json_extract_string(fr, ["
        + ", ".join(f"'$.{name}'" for name in _EXTRACTED)
        + "]) AS j FROM batch)"
    ),
)

_DECISIONS = Table(
    "decisions",
    (
        _c("decision_id", null=False),
        _c("gate_type", null=False),
        _c("target_ref", null=False),
        _c("automation_level", null=False),
        _c("model_decision"),
        _c("confidence", "DOUBLE"),
        _c("threshold", "DOUBLE"),
        _c("verdict", null=False),
        _c("reason", null=False),
        _c("effective_decision"),
        _c("status", null=False),
        _c("actor", null=False),
        _c("model_id"),
        _c("wp_id"),
        _c("mt_id"),
        _c("job_id"),
        _c("rationale"),
        _c("evidence_refs", "VARCHAR[]"),
        _c("created_at", _TS, null=False),
        _c("policy_version", null=False),
        _c("policy_digest", null=False),
        _c("signed_at", _TS),
        _c("signed_by"),
        _c("applied_at", _TS),
        _c("applied_decision"),
        _c("human_decision"),
        _c("human_user_id"),
        _c("human_attributed", "BOOLEAN"),
        _c("human_decided_at", _TS),
        _c("awaiting_since", _TS),
        _c("pending_request_id"),
        _c("created_position", "BIGINT", null=False),
        _c("last_position", "BIGINT", null=False),
        _c("event_count", "INTEGER", null=False),
    ),
    order_by="created_position",
)

_AUTO_SIGNATURES = Table(
    "auto_signatures",
    (
        _c("auto_signature_id", null=False),
        _c("schema_version", null=False),
        _c("decision_id", null=False),
        _c("gate_type", null=False),
        _c("target_ref", null=False),
        _c("created_at", _TS, null=False),
        _c("actor_kind", null=False),
        _c("model_id", null=False),
        _c("model_attributed", "BOOLEAN", null=False),
        _c("position", "BIGINT", null=False),
    ),
    order_by="position",
)

_WAIT = f"(epoch_us({timestamp('received_at')}) - epoch_us({timestamp('requested_at')})) / 1e6"

_HUMAN_INTERVENTIONS = Table(
    "human_interventions",
    (
        _c("request_event_id", null=False),
        _c("decision_id", null=False),
        _c("gate_type", null=False),
        _c("target_ref", null=False),
        _c("automation_level", null=False),
        _c("requested_at", _TS, null=False),
        _c("request_reason"),
        _c("received_event_id"),
        _c("received_at", _TS),
        _c("user_id"),
        _c("decision"),
        _c("rationale"),
        _c("wait_seconds", "DOUBLE", sql=_WAIT),
        _c("requested_position", "BIGINT", null=False),
        _c("received_position", "BIGINT"),
    ),
    order_by="requested_position",
)

_LOCKED_HALTS = Table(
    "locked_halts",
    (
        _c("decision_id", null=False),
        _c("gate_type", null=False),
        _c("target_ref", null=False),
        _c("decision", null=False),
        _c("confidence", "DOUBLE"),
        _c("threshold", "DOUBLE"),
        _c("model_id"),
        _c("halted_at", _TS, null=False),
        _c("rule", null=False),
        _c("reason", null=False),
        _c("position", "BIGINT", null=False),
    ),
    order_by="position",
)

_REFUSALS = Table(
    "refusals",
    (
        _c("position", "BIGINT", null=False),
        _c("refused_at", _TS, null=False),
        _c("entry_point", null=False),
        _c("event_id"),
        _c("decision_id"),
        _c("type"),
        _c("code", null=False),
        _c("rule"),
        _c("field"),
        _c("sha256", null=False),
    ),
    order_by="position",
)

#: The projection tables, in the README's order (and the order of a Parquet export).
TABLES: Final[Mapping[str, Table]] = {
    t.name: t
    for t in (
        _EVENTS,
        _DECISIONS,
        _AUTO_SIGNATURES,
        _HUMAN_INTERVENTIONS,
        _LOCKED_HALTS,
        _REFUSALS,
    )
}

#: Answers (005) to requests an earlier batch wrote: applied as an UPDATE.
_ANSWERS = Table(
    "human_interventions_answers",
    (
        _c("request_event_id"),
        _c("received_event_id"),
        _c("received_at", _TS),
        _c("user_id"),
        _c("decision"),
        _c("rationale"),
        _c("received_position", "BIGINT"),
    ),
    order_by="request_event_id",
)
#: Decisions an earlier batch wrote and this batch moved on: deleted, then re-inserted.
_REPLACED = Table("decisions_replaced", (_c("decision_id"),), order_by="decision_id")

#: Batch-only row sets and the statements that apply them (not tables of the projection).
BATCH_OPERATIONS: Final[Mapping[str, tuple[Table, str]]] = {
    "decisions_replaced": (
        _REPLACED,
        "DELETE FROM decisions WHERE decision_id IN (SELECT decision_id FROM batch)",
    ),
    "human_interventions_answers": (
        _ANSWERS,
        (
            "UPDATE human_interventions h SET received_event_id = b.received_event_id, "
            f"received_at = {timestamp('b.received_at')}, user_id = b.user_id, "
            "decision = b.decision, rationale = b.rationale, "
            "received_position = b.received_position, "
            f"wait_seconds = (epoch_us({timestamp('b.received_at')}) "
            "- epoch_us(h.requested_at)) / 1e6 "
            "FROM batch b WHERE h.request_event_id = b.request_event_id"
        ),
    ),
}

#: The order a batch is written in: deletes and updates go before the inserts.
WRITE_ORDER: Final = ("decisions_replaced", "human_interventions_answers", *TABLES)

#: The projection's binding to its store, and how far the checkpoints were checked.
META: Final = "projection_meta"

#: Tables that are not projected rows: the tracking position, an as-of file's cut, the binding.
BOOKKEEPING: Final[Mapping[str, str]] = {
    META: f"CREATE TABLE IF NOT EXISTS {META} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    # One row per committed batch; the PRIMARY KEY makes a replayed position a no-op.
    "tracking": (
        "CREATE TABLE IF NOT EXISTS tracking (source VARCHAR NOT NULL, "
        "notification_id BIGINT NOT NULL, PRIMARY KEY (source, notification_id))"
    ),
    # Present only in an as-of replay: the moment and the store position it was cut at.
    "replay_cut": (
        "CREATE TABLE IF NOT EXISTS replay_cut (as_of TIMESTAMPTZ NOT NULL, "
        "position BIGINT NOT NULL, events BIGINT NOT NULL)"
    ),
}
