"""The oversight report: one self-contained HTML page built from the DuckDB projection.

For auditors and operators: decisions over time by status and the approval rate,
how long humans take and who is still waiting, each model's record, each gate
cell's threshold against the confidences it saw, LOCKED halts and refusals, who
is named as having acted, and how much of the store a signed checkpoint covers.

Every number is computed by one of ``QUERIES`` (reports as data, as in
``projections.queries``) and is marked in the HTML with ``data-metric`` (the
query and column), ``data-key`` (the row, a JSON array) and ``data-value`` (the
exact value), so a test can recompute each one. The page needs no network and no
JavaScript: charts are inline SVG rendered here, styles are inline, and every
value from the ledger is escaped (ids and model names are whatever an emitter
sent). The builder reads only the projection; what the event store says about
sealing comes in as a ``VerificationState``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import orjson

from ledger import _time
from projections import _charts

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "QUERIES",
    "STATUSES",
    "WAIT_BUCKETS",
    "Query",
    "VerificationState",
    "build_report",
    "format_duration",
    "query_parameters",
]


@dataclass(frozen=True, slots=True)
class VerificationState:
    """
    What the event store says about sealing, read by the caller (the report never opens it).

    ``events`` is the number of events the store holds (counted: PostgreSQL positions can
    have gaps, so the last position is not a count).
    """

    events: int
    checkpoint_size: int
    checkpoint_time: datetime
    key_name: str
    #: The command an auditor runs to check what the report stands on.
    command: str = "govledger verify --key PUBLIC_KEY_FILE"
    #: Where these numbers come from, said under them.
    source: str = (
        "Read from the event store when the report was generated, not from the projection."
    )


@dataclass(frozen=True, slots=True)
class Query:
    """
    One named query behind the report's numbers.

    Parameters are DuckDB named parameters: ``$since``/``$until`` (the period, each
    TIMESTAMPTZ or NULL for open), ``$now`` (the moment waits are measured to) and
    ``$part`` (the ``date_trunc`` unit of time bins).
    """

    sql: str
    #: What it counts, over which rows of the period, and each rate's denominator.
    help: str
    #: The columns that identify a row (the rest are the numbers).
    keys: tuple[str, ...] = ()
    #: ``table`` or ``table.column`` names the projection must have for this query to run.
    needs: tuple[str, ...] = ()


#: Every status word of ``decisions.status``, in the order figures show them.
STATUSES: Final = (
    "auto_approved",
    "human_approved",
    "rejected",
    "human_rejected",
    "deferred",
    "halted",
    "awaiting_human",
    "open",
)
_STATUS_COLORS: Final = (
    "#2e7d32",
    "#8bc34a",
    "#c62828",
    "#ef9a9a",
    "#f9a825",
    "#6a1b9a",
    "#1565c0",
    "#90a4ae",
)
_APPROVED: Final = "('auto_approved', 'human_approved')"
_NOT_CLOSED: Final = "('open', 'awaiting_human')"

#: Human wait buckets for the histogram: (upper bound in seconds, exclusive; label).
WAIT_BUCKETS: Final = (
    (3_600, "under 1h"),
    (4 * 3_600, "1h to 4h"),
    (12 * 3_600, "4h to 12h"),
    (86_400, "12h to 1d"),
    (3 * 86_400, "1d to 3d"),
    (7 * 86_400, "3d to 7d"),
    (None, "7d or more"),
)
_BUCKET_SQL: Final = (
    "CASE "
    + " ".join(
        f"WHEN wait_seconds < {bound} THEN '{label}'" for bound, label in WAIT_BUCKETS if bound
    )
    + f" ELSE '{WAIT_BUCKETS[-1][1]}' END"
)
_MAX_BINS: Final = 400  # beyond this, a time axis shows only the bins that have records
_TOP: Final = 25  # rows of a per-model or per-cell table; the rest are counted, not listed
_OLDEST: Final = 10


def _within(column: str) -> str:
    # The period is half-open, [since, until); an open end is no bound.
    return (
        f"{column} >= coalesce(CAST($since AS TIMESTAMPTZ), '-infinity'::TIMESTAMPTZ) "
        f"AND {column} < coalesce(CAST($until AS TIMESTAMPTZ), 'infinity'::TIMESTAMPTZ)"
    )


def _bin(column: str) -> str:
    # Bins are UTC wall-clock units whatever the session's time zone.
    return f"date_trunc($part, {column} AT TIME ZONE 'UTC')"


_WAITED: Final = "epoch(CAST($now AS TIMESTAMPTZ)) - epoch(awaiting_since)"
_OVERRIDDEN: Final = "human_decision IS NOT NULL AND human_decision IS DISTINCT FROM model_decision"

#: The report's queries: name -> query. Each figure and table names the one it shows.
QUERIES: Final[Mapping[str, Query]] = {
    "period": Query(
        "SELECT count(*) AS decisions, min(created_at) AS first_created, "
        "max(created_at) AS last_created "
        f"FROM decisions WHERE {_within('created_at')}",
        "decisions created in the period (created_at in [since, until))",
    ),
    "status_totals": Query(
        "SELECT status, count(*) AS decisions "
        f"FROM decisions WHERE {_within('created_at')} GROUP BY status ORDER BY status",
        "decisions created in the period, by their status now",
        keys=("status",),
    ),
    "approval": Query(
        f"SELECT count(*) FILTER (WHERE status IN {_APPROVED}) AS approved, "
        "count(*) FILTER (WHERE status = 'auto_approved') AS auto_approved, "
        "count(*) FILTER (WHERE status = 'human_approved') AS human_approved, "
        f"count(*) FILTER (WHERE status NOT IN {_NOT_CLOSED}) AS closed, "
        f"count(*) FILTER (WHERE status IN {_NOT_CLOSED}) AS not_closed, "
        "approved / nullif(closed, 0) AS approval_rate "
        f"FROM decisions WHERE {_within('created_at')}",
        "approval rate = approved (auto or human) / decisions closed; decisions created in "
        "the period; open and awaiting_human ones are not in the denominator",
    ),
    "decisions_over_time": Query(
        f"SELECT {_bin('created_at')} AS bin, status, count(*) AS decisions "
        f"FROM decisions WHERE {_within('created_at')} GROUP BY ALL ORDER BY bin, status",
        "decisions created in each time bin of the period, by their status now",
        keys=("bin", "status"),
    ),
    "waits": Query(
        "SELECT count(*) AS answered, quantile_cont(wait_seconds, 0.5) AS p50_seconds, "
        "quantile_cont(wait_seconds, 0.9) AS p90_seconds, max(wait_seconds) AS max_seconds "
        "FROM human_interventions "
        f"WHERE received_event_id IS NOT NULL AND {_within('requested_at')}",
        "answered human requests (004 with its 005) requested in the period: seconds from "
        "request to answer; quantiles interpolate (quantile_cont)",
    ),
    "wait_buckets": Query(
        f"SELECT {_BUCKET_SQL} AS bucket, count(*) AS answered FROM human_interventions "
        f"WHERE received_event_id IS NOT NULL AND {_within('requested_at')} GROUP BY bucket",
        "answered human requests requested in the period, by how long the answer took",
        keys=("bucket",),
    ),
    "pending": Query(
        "SELECT count(*) AS pending, "
        f"count(*) FILTER (WHERE {_WAITED} > 86400) AS older_1d, "
        f"count(*) FILTER (WHERE {_WAITED} > 3 * 86400) AS older_3d, "
        f"count(*) FILTER (WHERE {_WAITED} > 7 * 86400) AS older_7d, "
        f"max({_WAITED}) AS oldest_seconds "
        f"FROM decisions WHERE status = 'awaiting_human' AND {_within('awaiting_since')}",
        "decisions awaiting a human now whose pending request was made in the period; "
        "waits measured to the report's generation time",
    ),
    "oldest_pending": Query(
        "SELECT decision_id, gate_type, automation_level, target_ref, model_id, "
        f"awaiting_since, {_WAITED} AS waited_seconds "
        f"FROM decisions WHERE status = 'awaiting_human' AND {_within('awaiting_since')} "
        f"ORDER BY awaiting_since, decision_id LIMIT {_OLDEST}",
        f"the {_OLDEST} decisions that have waited longest for a human (as 'pending')",
        keys=("decision_id",),
    ),
    "models_total": Query(
        "SELECT count(*) AS models FROM "
        f"(SELECT DISTINCT model_id FROM decisions WHERE {_within('created_at')})",
        "distinct model_id values (no model_id counts as one) on decisions created in the period",
    ),
    "models": Query(
        "SELECT model_id, count(*) AS decisions, "
        "count(*) FILTER (WHERE status = 'auto_approved') AS auto_approved, "
        "auto_approved / count(*) AS auto_approval_rate, "
        "avg(confidence) AS mean_confidence, "
        "count(human_decision) AS human_answered, "
        f"count(*) FILTER (WHERE {_OVERRIDDEN}) AS overridden, "
        "overridden / nullif(human_answered, 0) AS override_rate "
        f"FROM decisions WHERE {_within('created_at')} GROUP BY model_id "
        f"ORDER BY decisions DESC, model_id NULLS LAST LIMIT {_TOP}",
        "per model_id, decisions created in the period: auto-approval rate = auto_approved / "
        "decisions; override rate = decisions where the human's answer differed from the "
        "model's / decisions a human answered",
        keys=("model_id",),
    ),
    "gate_cells_total": Query(
        "SELECT count(*) AS cells FROM (SELECT DISTINCT gate_type, automation_level "
        f"FROM decisions WHERE {_within('created_at')})",
        "distinct gate type x automation level cells of decisions created in the period",
    ),
    "gate_cells": Query(
        "SELECT gate_type, automation_level, count(*) AS decisions, "
        "min(threshold) AS threshold, max(threshold) AS threshold_max, "
        "count(confidence) AS with_confidence, "
        # A cell without a threshold has nothing to be at or above: NULL, not 0.
        "CASE WHEN count(threshold) > 0 THEN count(*) FILTER (WHERE confidence >= threshold) "
        "END AS at_or_above, "
        "CASE WHEN count(threshold) > 0 THEN count(*) FILTER (WHERE confidence < threshold) "
        "END AS below, "
        "min(confidence) AS confidence_min, "
        "quantile_cont(confidence, 0.5) AS confidence_p50, "
        "max(confidence) AS confidence_max, "
        "string_agg(DISTINCT verdict, ', ' ORDER BY verdict) AS verdicts "
        f"FROM decisions WHERE {_within('created_at')} GROUP BY gate_type, automation_level "
        f"ORDER BY decisions DESC, gate_type, automation_level LIMIT {_TOP}",
        "per gate type x automation level, decisions created in the period: the gate "
        "table's threshold (2.6.8.12.2; inclusive) and the model confidences against it",
        keys=("gate_type", "automation_level"),
    ),
    "confidence_bins": Query(
        "SELECT gate_type, automation_level, "
        "least(floor(confidence * 20), 19) / 20 AS bin, count(*) AS decisions "
        f"FROM decisions WHERE confidence IS NOT NULL AND {_within('created_at')} "
        "GROUP BY ALL ORDER BY ALL",
        "decisions created in the period with a confidence, by cell and confidence bin of 0.05",
        keys=("gate_type", "automation_level", "bin"),
    ),
    "halts": Query(
        f"SELECT count(*) AS halts FROM locked_halts WHERE {_within('halted_at')}",
        "LOCKED halts (2.6.8.12.6.1) recorded in the period (halted_at)",
    ),
    "halts_by_gate": Query(
        "SELECT gate_type, rule, count(*) AS halts "
        f"FROM locked_halts WHERE {_within('halted_at')} GROUP BY ALL "
        f"ORDER BY halts DESC, gate_type, rule LIMIT {_TOP}",
        "LOCKED halts in the period by gate type and the rule that halted them",
        keys=("gate_type", "rule"),
    ),
    "halts_over_time": Query(
        f"SELECT {_bin('halted_at')} AS bin, count(*) AS halts "
        f"FROM locked_halts WHERE {_within('halted_at')} GROUP BY bin ORDER BY bin",
        "LOCKED halts in each time bin of the period",
        keys=("bin",),
    ),
    "refusals": Query(
        "SELECT count(*) AS refusals, count(DISTINCT entry_point) AS entry_points "
        f"FROM refusals WHERE {_within('refused_at')}",
        "events refused at an entry point in the period (the refusal journal)",
        needs=("refusals",),
    ),
    "refusals_span": Query(
        "SELECT min(refused_at) AS first_refused, max(refused_at) AS last_refused "
        f"FROM refusals WHERE {_within('refused_at')}",
        "the first and last refusal in the period (with the decisions', the time axes' span)",
        needs=("refusals",),
    ),
    "refusals_by_code": Query(
        "SELECT code, count(*) AS refusals, min(refused_at) AS first_refused, "
        "max(refused_at) AS last_refused "
        f"FROM refusals WHERE {_within('refused_at')} GROUP BY code "
        f"ORDER BY refusals DESC, code NULLS LAST LIMIT {_TOP}",
        "refusals in the period by error code",
        keys=("code",),
        needs=("refusals",),
    ),
    "refusals_over_time": Query(
        f"SELECT {_bin('refused_at')} AS bin, code, count(*) AS refusals "
        f"FROM refusals WHERE {_within('refused_at')} GROUP BY ALL ORDER BY bin, code",
        "refusals in each time bin of the period, by code",
        keys=("bin", "code"),
        needs=("refusals",),
    ),
    "attribution_humans": Query(
        "SELECT count(*) AS human_steps, count(user_id) AS attributed, "
        "attributed / nullif(human_steps, 0) AS share FROM human_interventions "
        f"WHERE received_event_id IS NOT NULL AND {_within('received_at')}",
        "human answers (005) received in the period; attributed = it names a user_id",
    ),
    "attribution_humans_recorded": Query(
        "SELECT count(*) AS human_steps, count(*) FILTER (WHERE human_attributed) AS attributed, "
        "attributed / nullif(human_steps, 0) AS share FROM decisions "
        f"WHERE human_decided_at IS NOT NULL AND {_within('human_decided_at')}",
        "decisions a human answered in the period (human_decided_at); attributed = the "
        "projection's decisions.human_attributed (a 005 with a user_id and actor human)",
        needs=("decisions.human_attributed",),
    ),
    "attribution_signatures": Query(
        "SELECT count(*) AS signatures, count(model_id) AS attributed, "
        "attributed / nullif(signatures, 0) AS share "
        f"FROM auto_signatures WHERE {_within('created_at')}",
        "auto-signatures (003) made in the period; attributed = it names a model_id",
    ),
    "attribution_signatures_recorded": Query(
        "SELECT count(*) AS signatures, count(*) FILTER (WHERE model_attributed) AS attributed, "
        "attributed / nullif(signatures, 0) AS share "
        f"FROM auto_signatures WHERE {_within('created_at')}",
        "auto-signatures made in the period; attributed = the projection's "
        "auto_signatures.model_attributed",
        needs=("auto_signatures.model_attributed",),
    ),
    "policy_versions": Query(
        "SELECT policy_version, policy_digest, count(*) AS decisions, "
        "min(created_at) AS first_created, max(created_at) AS last_created "
        f"FROM decisions WHERE {_within('created_at')} GROUP BY ALL "
        f"ORDER BY first_created, policy_version NULLS FIRST LIMIT {_TOP}",
        "the policy versions in force for decisions created in the period",
        keys=("policy_version", "policy_digest"),
        needs=("decisions.policy_version", "decisions.policy_digest"),
    ),
    "projection": Query(
        "SELECT (SELECT count(*) FROM events) AS events, "
        "(SELECT coalesce(max(notification_id), 0) FROM tracking "
        "WHERE source = 'govledger') AS position",
        "the whole projection, whatever the period: events it holds, store position reached",
    ),
}

_PARAMETER: Final = re.compile(r"\$([a-z_]+)")


def query_parameters(name: str, **values: Any) -> dict[str, Any]:
    """
    The named parameters query ``name`` uses, taken from ``values`` (since, until, now, part).

    DuckDB refuses parameters a statement does not use, so each gets only its own.
    """
    return {p: values[p] for p in dict.fromkeys(_PARAMETER.findall(QUERIES[name].sql))}


# --- formatting --------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """
    A duration for reading: the two largest units, ``5d 20h``, ``3h 12m``, ``4m 10s``, ``12s``.
    """
    return "\u2013" if seconds is None else _time.duration(seconds)


def _utc(value: datetime) -> datetime:
    # TIMESTAMPTZ comes back zone-aware; date_trunc bins (UTC wall clock) come back naive.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat().replace("+00:00", "Z")


def _when(value: datetime | None) -> str:
    # isoformat pads the year (strftime writes year 1 as "1").
    return "\u2013" if value is None else _utc(value).isoformat(" ", "minutes")[:16] + " UTC"


def _count(value: Any) -> str:
    return "\u2013" if value is None else f"{int(value):,}"


def _rate(value: Any) -> str:
    return "\u2013" if value is None else f"{100 * float(value):.1f}%"


def _confidence(value: Any) -> str:
    return "\u2013" if value is None else f"{float(value):.3f}"


def _machine(value: Any) -> str:
    """
    The exact value for ``data-value``: numbers as Python writes them, times as RFC 3339.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


_INVISIBLE: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co"})


def _visible(text: str) -> list[tuple[bool, str]]:
    """
    ``text`` split into (is_control, piece); each control piece is one ``U+XXXX`` name.

    Controls, bidi overrides and other invisible characters would let a hostile id
    reorder or hide what an auditor reads, so the report shows them by code point.
    """
    out: list[tuple[bool, str]] = []
    run: list[str] = []
    for ch in text:
        if unicodedata.category(ch) in _INVISIBLE:
            if run:
                out.append((False, "".join(run)))
                run = []
            out.append((True, f"U+{ord(ch):04X}"))
        else:
            run.append(ch)
    if run:
        out.append((False, "".join(run)))
    return out


def _plain_label(value: Any, limit: int = 60) -> str:
    """
    A ledger value as chart text: invisible characters named, long values shortened.
    """
    if value is None:
        return "(none)"
    text = "".join(f"[{piece}]" if control else piece for control, piece in _visible(str(value)))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _e(value: Any) -> str:
    """
    A value from the ledger as HTML text: escaped, invisible characters named, isolated.
    """
    if value is None:
        return '<span class="none">(none)</span>'
    pieces = [
        f'<span class="ctl">{piece}</span>' if control else html.escape(piece, quote=True)
        for control, piece in _visible(str(value))
    ]
    # <bdi> keeps right-to-left text inside a value from reordering what surrounds it.
    return f"<bdi>{''.join(pieces)}</bdi>"


def _key(values: Sequence[Any]) -> str:
    # ASCII-only JSON: no raw bidi or control character reaches the file, even in attributes.
    plain = [_machine(v) if isinstance(v, datetime | float) else v for v in values]
    return orjson.dumps(plain).decode().encode("ascii", "backslashreplace").decode()


def _metric(
    name: str,
    value: Any,
    text: str,
    key: Sequence[Any] | None = None,
) -> str:
    """
    One number in the page, with the query.column it came from, its row and exact value.
    """
    attrs = f'data-metric="{html.escape(name)}"'
    if key is not None:
        attrs += f' data-key="{html.escape(_key(key), quote=True)}"'
    attrs += f' data-value="{html.escape(_machine(value), quote=True)}"'
    return f'<span class="num" {attrs}>{html.escape(text)}</span>'


# --- the period and time bins -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bins:
    part: str  # date_trunc unit
    label: str  # "hour", "day", ...

    def floor(self, moment: datetime) -> datetime:
        moment = _utc(moment)
        if self.part == "hour":
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.part == "day":
            return day
        if self.part == "week":  # ISO weeks, as date_trunc: Monday
            return day - timedelta(days=day.weekday())
        if self.part == "year":
            return day.replace(month=1, day=1)
        return day.replace(day=1)

    def next(self, moment: datetime) -> datetime:
        if self.part == "hour":
            return moment + timedelta(hours=1)
        if self.part == "day":
            return moment + timedelta(days=1)
        if self.part == "week":
            return moment + timedelta(days=7)
        if self.part == "year":
            return moment.replace(year=moment.year + 1)
        year, month = divmod(moment.month, 12)
        return moment.replace(year=moment.year + year, month=month + 1)

    def span(self, first: datetime, last: datetime, *, limit: int) -> list[datetime] | None:
        """
        Every bin from ``first`` to ``last``; None when there would be more than ``limit``.
        """
        out: list[datetime] = []
        bin_ = self.floor(first)
        while bin_ <= last:
            if len(out) == limit:
                return None
            out.append(bin_)
            try:
                bin_ = self.next(bin_)
            except (OverflowError, ValueError):  # past year 9999
                break
        return out

    def name(self, bin_: datetime, *, years: bool) -> str:
        if self.part == "hour":
            return bin_.strftime("%b %d %H:00")
        if self.part == "month":
            return bin_.isoformat()[:7]
        if self.part == "year":
            return f"{bin_.year:04d}"
        text = bin_.isoformat()[:10] if years else bin_.strftime("%b %d")
        return f"wk {text}" if self.part == "week" else text


def _choose_bins(first: datetime | None, last: datetime | None) -> _Bins:
    if first is None or last is None:
        return _Bins("day", "day")
    span = last - first
    if span <= timedelta(days=2):
        return _Bins("hour", "hour")
    if span <= timedelta(days=62):
        return _Bins("day", "day")
    if span <= timedelta(days=730):
        return _Bins("week", "week (from Monday)")
    if span <= timedelta(days=20 * 366):
        return _Bins("month", "month")
    return _Bins("year", "year")


# --- running the queries ----------------------------------------------------------------


class _Results:
    """
    Runs each query once with its parameters; remembers which tables and columns exist.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> None:
        self._con = con
        self.params = params
        rows = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = current_schema()"
        ).fetchall()
        self.schema = {str(t) for t, _ in rows} | {f"{t}.{c}" for t, c in rows}
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def has(self, name: str) -> bool:
        return all(need in self.schema for need in QUERIES[name].needs)

    def rows(self, name: str) -> list[dict[str, Any]]:
        if name not in self._cache:
            cursor = self._con.execute(QUERIES[name].sql, query_parameters(name, **self.params))
            columns = [d[0] for d in cursor.description or ()]
            self._cache[name] = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
        return self._cache[name]

    def one(self, name: str) -> dict[str, Any]:
        return self.rows(name)[0]


# --- the page ---------------------------------------------------------------------------


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
    verification: VerificationState | None = None,
    cut: tuple[datetime, int, int] | None = None,
) -> str:
    """
    The oversight report as one HTML document (text).

    Args:
        since: start of the period (inclusive); None: from the first decision.
        until: end of the period (exclusive); None: up to the last decision.
        now: the moment waits are measured to and the report says it was generated.
        verification: the store's sealing state (None: not sealed, or not known).
        cut: (as_of, position, events) when the projection is an as-of replay.
    """
    moment = _utc(now or datetime.now(UTC))
    params: dict[str, Any] = {
        "since": None if since is None else _utc(since),
        "until": None if until is None else _utc(until),
        "now": moment,
        "part": "day",
    }
    results = _Results(con, params)
    period = results.one("period")
    # Every time axis spans the period: as given, else from the first to the last record.
    seen = [period["first_created"], period["last_created"]]
    if results.has("refusals_span"):
        seen += results.one("refusals_span").values()
    edges = [_utc(t) for t in seen if t is not None]
    first = params["since"] or (min(edges) if edges else None)
    last = params["until"] and params["until"] - timedelta(microseconds=1)
    last = last or (max(edges) if edges else None)
    bins = _choose_bins(first, last)
    params["part"] = bins.part
    page = _Page(
        results, bins, moment, since=params["since"], until=params["until"], span=(first, last)
    )
    body = [
        page.header(period, cut),
        page.decisions(),
        page.waits(),
        page.models(),
        page.gate_cells(),
        page.halts_and_refusals(),
        page.attribution(),
        page.verification(verification),
        page.appendix(),
    ]
    return _document("\n".join(body))


def _table(columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """
    A table from (header, kind) columns and rows of cell HTML (already escaped).

    Kinds: ``n`` a number (right-aligned), ``id`` ledger text that may be long, ``""`` text.
    """
    head = "".join(f'<th class="{k}">{h}</th>' if k else f"<th>{h}</th>" for h, k in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{k}">{c}</td>' if k else f"<td>{c}</td>"
            for c, (_, k) in zip(row, columns, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _header_text(value: Any) -> str:
    # Status words are ours; codes and other keys come from the ledger.
    return html.escape(value) if value in STATUSES else _e(value)


#: How a gate cell without a threshold decides, by its verdicts.
_NO_THRESHOLD: Final = {
    "human": "none: always a human",
    "auto": "none: auto at any confidence",
    "halt": "none: always halts (LOCKED)",
}


class _Page:
    """
    The sections, each from its queries.
    """

    def __init__(
        self,
        results: _Results,
        bins: _Bins,
        now: datetime,
        *,
        since: datetime | None,
        until: datetime | None,
        span: tuple[datetime | None, datetime | None],
    ) -> None:
        self.r = results
        self.bins = bins
        self.now = now
        self.since = since
        self.until = until
        self._charts = 0
        self._appendix: list[str] = []
        #: The first and last moment the time axes show.
        self.span = span
        #: Set when the span has too many bins to draw: axes list only bins with records.
        self.sparse = False

    # --- shared pieces -------------------------------------------------------------------

    def period_text(self) -> str:
        if self.until is None:
            return "everything recorded" if self.since is None else f"from {_when(self.since)} on"
        if self.since is None:
            return f"up to {_when(self.until)} (excluded)"
        return f"{_when(self.since)} to {_when(self.until)} (excluded)"

    def chart(self, spec: Mapping[str, Any], caption: str) -> str:
        self._charts += 1
        svg = _charts.render(spec, f"chart{self._charts}")
        return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"

    def caption(self, *names: str, extra: str = "") -> str:
        """
        A figure's statement: the period, what it counts and the denominators (its queries).
        """
        parts = [f"Period: {html.escape(self.period_text())}."]
        for name in names:
            text = QUERIES[name].help
            parts.append(
                f'{html.escape(text[0].upper() + text[1:])} <code class="q">[{name}]</code>.'
            )
        if extra:
            parts.append(html.escape(extra))
        if self.sparse and any(name.endswith("_over_time") for name in names):
            parts.append(
                f"The period spans more than {_MAX_BINS} {self.bins.part}s: only "
                f"{self.bins.part}s with records are shown, so the axis is not to scale."
            )
        return " ".join(parts)

    def over_time(
        self, name: str, column: str, key: str | None
    ) -> tuple[list[datetime], dict[tuple[datetime, Any], int]]:
        """
        Counts by (bin, key) from a time-bin query, and every bin of the period in order.

        Every over-time chart spans the same bins: the period's, or the first to the last
        decision or refusal when the period is open.
        """
        counts = {
            (_utc(row["bin"]), row[key] if key else None): int(row[column])
            for row in self.r.rows(name)
        }
        edges = [b for b, _ in counts] + [t for t in self.span if t is not None]
        if not edges:
            return [], counts
        every = self.bins.span(min(edges), max(edges), limit=_MAX_BINS)
        if every is not None:
            return every, counts
        # A stray timestamp (year 1, year 9999) must not make a chart of a million empty
        # bins: past the limit the axis shows the bins that have records, in order.
        self.sparse = True
        return sorted({b for b, _ in counts}), counts

    def bin_label(self, bin_: datetime, all_bins: Sequence[datetime]) -> str:
        years = len({b.year for b in all_bins}) > 1
        return self.bins.name(bin_, years=years)

    def stacked(
        self,
        title: str,
        all_bins: Sequence[datetime],
        counts: Mapping[tuple[datetime, Any], int],
        keys: Sequence[Any],
        labels: Sequence[str],
        *,
        y_title: str,
        color_title: str,
        colors: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        order = {b: i for i, b in enumerate(all_bins)}
        values = [
            {
                "label": self.bin_label(b, all_bins),
                "order": order[b],
                "key": labels[keys.index(k)],
                "stack": keys.index(k),
                "n": n,
            }
            for (b, k), n in counts.items()
            if k in keys
        ]
        # Bins with nothing in them still need their place on the axis.
        values += [
            {"label": self.bin_label(b, all_bins), "order": i, "key": labels[0], "stack": 0, "n": 0}
            for i, b in enumerate(all_bins)
        ]
        return _charts.stacked_bars(
            title,
            values,
            y_title=y_title,
            color_title=color_title,
            domain=labels,
            colors=colors,
        )

    def appendix_table(
        self,
        title: str,
        name: str,
        all_bins: Sequence[datetime],
        counts: Mapping[tuple[datetime, Any], int],
        keys: Sequence[Any],
        column: str,
    ) -> None:
        """
        The numbers behind one over-time chart, for the appendix (bins with nothing left out).
        """
        metric = f"{name}.{column}"
        used = [b for b in all_bins if any(counts.get((b, k)) for k in keys)]
        if not used:
            return
        columns = [(html.escape(self.bins.part), "")]
        columns += [(_header_text(k) if k is not None else html.escape(column), "n") for k in keys]
        rows = (
            [html.escape(self.bin_label(b, all_bins))]
            + [
                _metric(
                    metric,
                    counts.get((b, k), 0),
                    _count(counts.get((b, k), 0)),
                    [_iso(b), k] if k is not None else [_iso(b)],
                )
                for k in keys
            ]
            for b in used
        )
        self._appendix.append(
            f"<h3>{html.escape(title)}</h3>"
            f'<p class="src">{self.caption(name)} Each bin starts at the time shown (UTC); '
            "bins with nothing in them are left out.</p>" + _table(columns, rows, "bins")
        )

    # --- sections ------------------------------------------------------------------------

    def header(self, period: Mapping[str, Any], cut: tuple[datetime, int, int] | None) -> str:
        projection = self.r.one("projection")
        approval = self.r.one("approval")
        pending = self.r.one("pending")
        halts = self.r.one("halts")
        frozen = ""
        if cut is not None:
            frozen = (
                '<p class="warn">This projection is an as-of replay: the store as recorded at '
                f"{_when(cut[0])} (cut at position {cut[1]:,}, {cut[2]:,} events).</p>"
            )
        decisions = _metric("period.decisions", period["decisions"], _count(period["decisions"]))
        rate = _rate(approval["approval_rate"])
        cards = [
            ("decisions", decisions, "created in the period"),
            (
                "approval rate",
                _metric("approval.approval_rate", approval["approval_rate"], rate),
                _metric("approval.approved", approval["approved"], _count(approval["approved"]))
                + " of "
                + _metric("approval.closed", approval["closed"], _count(approval["closed"]))
                + " closed decisions",
            ),
            (
                "awaiting a human",
                _metric("pending.pending", pending["pending"], _count(pending["pending"])),
                "longest: "
                + _metric(
                    "pending.oldest_seconds",
                    pending["oldest_seconds"],
                    format_duration(pending["oldest_seconds"]),
                ),
            ),
            (
                "LOCKED halts",
                _metric("halts.halts", halts["halts"], _count(halts["halts"])),
                "fail-closed, 2.6.8.12.6.1",
            ),
        ]
        card_html = "".join(
            f'<div class="card"><div class="label">{label}</div><div class="big">{big}</div>'
            f'<div class="small">{small}</div></div>'
            for label, big, small in cards
        )
        first, last = period["first_created"], period["last_created"]
        meta = (
            f"Period: <strong>{html.escape(self.period_text())}</strong>"
            f" &middot; first decision {_metric('period.first_created', first, _when(first))}"
            f", last {_metric('period.last_created', last, _when(last))}"
            " &middot; generated "
            f'<span data-metric="generated_at" data-value="{_iso(self.now)}">'
            f"{_when(self.now)}</span> from a projection of "
            + _metric("projection.events", projection["events"], _count(projection["events"]))
            + " events (store position "
            + _metric("projection.position", projection["position"], _count(projection["position"]))
            + "). Times are UTC; time bins are one "
            + f'<span data-metric="bins" data-value="{self.bins.part}">'
            + f"{html.escape(self.bins.label)}</span>."
        )
        return (
            f'<header><h1>govledger oversight report</h1><p class="meta">{meta}</p>'
            f'{frozen}<div class="cards">{card_html}</div></header>'
        )

    def decisions(self) -> str:
        totals = {row["status"]: int(row["decisions"]) for row in self.r.rows("status_totals")}
        statuses = [*STATUSES, *sorted(s for s in totals if s not in STATUSES)]
        colors = [*_STATUS_COLORS, *["#bbbbbb"] * (len(statuses) - len(STATUSES))]
        all_bins, counts = self.over_time("decisions_over_time", "decisions", "status")
        figure = ""
        if all_bins:
            spec = self.stacked(
                f"Decisions created per {self.bins.part}, by status now",
                all_bins,
                counts,
                statuses,
                [_plain_label(s) for s in statuses],
                y_title="decisions",
                color_title="status",
                colors=colors,
            )
            figure = self.chart(spec, self.caption("decisions_over_time"))
        self.appendix_table(
            "Decisions per bin, by status now",
            "decisions_over_time",
            all_bins,
            counts,
            statuses,
            "decisions",
        )
        total = sum(totals.values())
        rows = (
            [
                f'<span class="swatch" style="background:{colors[i]}"></span>'
                + _header_text(status),
                _metric(
                    "status_totals.decisions",
                    totals.get(status, 0),
                    _count(totals.get(status, 0)),
                    [status],
                ),
                _rate(totals.get(status, 0) / total) if total else "&ndash;",
            ]
            for i, status in enumerate(statuses)
        )
        table = _table([("status now", ""), ("decisions", "n"), ("share", "n")], rows, "narrow")
        a = self.r.one("approval")

        def n(column: str) -> str:
            return _metric(f"approval.{column}", a[column], _count(a[column]))

        rate = (
            "<p>Approval rate: "
            + _metric("approval.approval_rate", a["approval_rate"], _rate(a["approval_rate"]))
            + f" = {n('approved')} approved ({n('auto_approved')} automatically, "
            f"{n('human_approved')} by a human) of {n('closed')} closed decisions; "
            f"{n('not_closed')} still open or awaiting a human are not counted.</p>"
            f'<p class="src">{self.caption("approval")}</p>'
        )
        return (
            '<section id="decisions"><h2>1. Decisions over time</h2>'
            f"{figure}{rate}{table}"
            f'<p class="src">{self.caption("status_totals")} All: {_count(total)}.</p></section>'
        )

    def waits(self) -> str:
        waits = self.r.one("waits")
        pending = self.r.one("pending")
        buckets = {row["bucket"]: int(row["answered"]) for row in self.r.rows("wait_buckets")}
        values = [
            {"label": label, "order": i, "n": buckets.get(label, 0)}
            for i, (_, label) in enumerate(WAIT_BUCKETS)
        ]
        figure = self.chart(
            _charts.ordered_bars(
                "Time from request to human answer",
                values,
                x_title=None,
                y_title="answers",
                width=560,
            ),
            self.caption("wait_buckets"),
        )
        side = _table(
            [("answered within", ""), ("answers", "n")],
            (
                [
                    html.escape(label),
                    _metric(
                        "wait_buckets.answered",
                        buckets.get(label, 0),
                        _count(buckets.get(label, 0)),
                        [label],
                    ),
                ]
                for _, label in WAIT_BUCKETS
            ),
            "side",
        )

        def dur(column: str) -> str:
            return _metric(f"waits.{column}", waits[column], format_duration(waits[column]))

        def count(column: str) -> str:
            return _metric(f"pending.{column}", pending[column], _count(pending[column]))

        stats = (
            f"<p>Of {_metric('waits.answered', waits['answered'], _count(waits['answered']))} "
            f"answered requests: median wait {dur('p50_seconds')}, 90th percentile "
            f"{dur('p90_seconds')}, longest {dur('max_seconds')}.</p>"
            f'<p class="src">{self.caption("waits")}</p>'
        )
        oldest = format_duration(pending["oldest_seconds"])
        waiting = (
            f"<p>Awaiting a human at {_when(self.now)}: {count('pending')} decisions; the "
            "longest has waited "
            f"{_metric('pending.oldest_seconds', pending['oldest_seconds'], oldest)}.</p>"
            f'<ul class="inline"><li>waiting more than 1 day: {count("older_1d")}</li>'
            f"<li>more than 3 days: {count('older_3d')}</li>"
            f"<li>more than 7 days: {count('older_7d')}</li></ul>"
        )
        rows = [
            [
                _e(row["decision_id"]),
                _e(row["gate_type"]),
                _e(row["automation_level"]),
                _e(row["target_ref"]),
                _e(row["model_id"]),
                _when(row["awaiting_since"]),
                _metric(
                    "oldest_pending.waited_seconds",
                    row["waited_seconds"],
                    format_duration(row["waited_seconds"]),
                    [row["decision_id"]],
                ),
            ]
            for row in self.r.rows("oldest_pending")
        ]
        listing = (
            _table(
                [
                    ("decision", "id"),
                    ("gate type", ""),
                    ("level", ""),
                    ("target", "id"),
                    ("model", "id"),
                    ("waiting since", ""),
                    ("waited", "n"),
                ],
                rows,
            )
            if rows
            else '<p class="empty">No decision is awaiting a human.</p>'
        )
        return (
            '<section id="waits"><h2>2. Human wait time</h2>'
            f'<div class="row">{figure}{side}</div>{stats}'
            f"<h3>Still waiting</h3>{waiting}{listing}"
            f'<p class="src">{self.caption("pending", "oldest_pending")}</p></section>'
        )

    def models(self) -> str:
        rows = self.r.rows("models")
        total = self.r.one("models_total")["models"]
        columns: Sequence[tuple[str, str, Any]] = (
            ("decisions", "decisions", _count),
            ("auto_approved", "auto-approved", _count),
            ("auto_approval_rate", "auto-approval rate", _rate),
            ("mean_confidence", "mean confidence", _confidence),
            ("human_answered", "answered by a human", _count),
            ("overridden", "human overrode", _count),
            ("override_rate", "override rate", _rate),
        )
        table = _table(
            [("model_id", "id"), *((header, "n") for _, header, _ in columns)],
            (
                [
                    _e(row["model_id"]),
                    *(
                        _metric(f"models.{col}", row[col], fmt(row[col]), [row["model_id"]])
                        for col, _, fmt in columns
                    ),
                ]
                for row in rows
            ),
        )
        note = ""
        if total > len(rows):
            note = (
                f'<p class="warn">Showing the {len(rows)} models with the most decisions of '
                f"{_metric('models_total.models', total, _count(total))}.</p>"
            )
        values = [
            {"label": _plain_label(row["model_id"]), "measure": measure, "rate": row[col] or 0.0}
            for row in rows
            for measure, col in (
                ("auto-approval rate (of its decisions)", "auto_approval_rate"),
                ("override rate (of those a human answered)", "override_rate"),
            )
        ]
        figure = ""
        if rows:
            figure = self.chart(
                _charts.grouped_rates("Auto-approval and human override, per model", values),
                f"Period: {html.escape(self.period_text())}. The numbers are in the table below.",
            )
        return (
            f'<section id="models"><h2>3. Per model</h2>{figure}{note}{table}'
            f'<p class="src">{self.caption("models")}</p></section>'
        )

    def gate_cells(self) -> str:
        levels = ["FULL_HUMAN", "HYBRID", "AUTONOMOUS", "LOCKED"]
        rows = sorted(
            self.r.rows("gate_cells"),
            key=lambda r: (
                str(r["gate_type"]),
                levels.index(r["automation_level"])
                if r["automation_level"] in levels
                else len(levels),
                str(r["automation_level"]),
            ),
        )
        total = self.r.one("gate_cells_total")["cells"]

        def cell(row: Mapping[str, Any]) -> str:
            gate = _plain_label(row["gate_type"], 32)
            return f"{gate} \u00d7 {_plain_label(row['automation_level'], 16)}"

        shown = {(r["gate_type"], r["automation_level"]) for r in rows}
        heat = [
            {
                "cell": cell(b),
                "start": float(b["bin"]),
                "end": float(b["bin"]) + 0.05,
                "n": int(b["decisions"]),
            }
            for b in self.r.rows("confidence_bins")
            if (b["gate_type"], b["automation_level"]) in shown
        ]
        marks = [{"cell": cell(r), "threshold": r["threshold"]} for r in rows]
        figure = ""
        if rows:
            figure = self.chart(
                _charts.confidence_heatmap(
                    "Model confidence per gate cell (red: the table's threshold)", heat, marks
                ),
                self.caption("confidence_bins"),
            )

        def threshold(row: Mapping[str, Any]) -> str:
            key = [row["gate_type"], row["automation_level"]]
            low, high = row["threshold"], row["threshold_max"]
            if low is None:
                verdicts = str(row["verdicts"] or "")
                text = _NO_THRESHOLD.get(verdicts, f"none: {verdicts}")
                return f'<span class="muted">{html.escape(text)}</span>'
            shown_low = _metric("gate_cells.threshold", low, f"{low:.2f}", key)
            if high == low:
                return shown_low
            return f"{shown_low} to {_metric('gate_cells.threshold_max', high, f'{high:.2f}', key)}"

        columns: Sequence[tuple[str, str, Any]] = (
            ("decisions", "decisions", _count),
            ("at_or_above", "at or above", _count),
            ("below", "below", _count),
            ("confidence_min", "min", _confidence),
            ("confidence_p50", "median", _confidence),
            ("confidence_max", "max", _confidence),
        )
        table = _table(
            [
                ("gate type", ""),
                ("level", ""),
                ("threshold", ""),
                *((header, "n") for _, header, _ in columns),
            ],
            (
                [
                    _e(row["gate_type"]),
                    _e(row["automation_level"]),
                    threshold(row),
                    *(
                        _metric(
                            f"gate_cells.{col}",
                            row[col],
                            fmt(row[col]),
                            [row["gate_type"], row["automation_level"]],
                        )
                        for col, _, fmt in columns
                    ),
                ]
                for row in rows
            ),
        )
        note = ""
        if total > len(rows):
            note = (
                f'<p class="warn">Showing the {len(rows)} cells with the most decisions of '
                f"{_metric('gate_cells_total.cells', total, _count(total))}.</p>"
            )
        extra = (
            "At or above and below compare the model's confidence with the threshold "
            "(thresholds are inclusive); min, median and max are model confidences."
        )
        return (
            '<section id="gates"><h2>4. Gate type &times; automation level</h2>'
            f'{figure}{note}{table}<p class="src">{self.caption("gate_cells", extra=extra)}</p>'
            "</section>"
        )

    def halts_and_refusals(self) -> str:
        all_bins, counts = self.over_time("halts_over_time", "halts", None)
        halts = self.r.one("halts")["halts"]
        parts = ['<section id="halts"><h2>5. LOCKED halts and refusals</h2>']
        if all_bins:
            values = [
                {"label": self.bin_label(b, all_bins), "order": i, "n": counts.get((b, None), 0)}
                for i, b in enumerate(all_bins)
            ]
            spec = _charts.ordered_bars(
                f"LOCKED halts per {self.bins.part}", values, x_title=None, y_title="halts"
            )
            parts.append(self.chart(spec, self.caption("halts_over_time")))
        self.appendix_table(
            "LOCKED halts per bin", "halts_over_time", all_bins, counts, [None], "halts"
        )
        parts.append(
            f"<p>{_metric('halts.halts', halts, _count(halts))} LOCKED halts: a reject or defer "
            "recorded where a human would have been needed and the run was LOCKED.</p>"
        )
        by_gate = [
            [
                _e(row["gate_type"]),
                _e(row["rule"]),
                _metric(
                    "halts_by_gate.halts",
                    row["halts"],
                    _count(row["halts"]),
                    [row["gate_type"], row["rule"]],
                ),
            ]
            for row in self.r.rows("halts_by_gate")
        ]
        if by_gate:
            parts.append(_table([("gate type", ""), ("rule", ""), ("halts", "n")], by_gate))
        parts.append(f'<p class="src">{self.caption("halts", "halts_by_gate")}</p>')
        parts.append("<h3>Refusals</h3>")
        if self.r.has("refusals"):
            parts.append(self.refusals())
        else:
            parts.append(
                '<p class="empty">No refusal journal in this projection: the events the ledger '
                "refused are not recorded in this file.</p>"
            )
        parts.append("</section>")
        return "".join(parts)

    def refusals(self) -> str:
        total = self.r.one("refusals")
        by_code = self.r.rows("refusals_by_code")
        codes = [row["code"] for row in by_code]
        all_bins, counts = self.over_time("refusals_over_time", "refusals", "code")
        out = []
        if codes and all_bins:
            spec = self.stacked(
                f"Refusals per {self.bins.part}, by code",
                all_bins,
                counts,
                codes,
                [_plain_label(c, 40) for c in codes],
                y_title="refusals",
                color_title="code",
            )
            out.append(self.chart(spec, self.caption("refusals_over_time")))
        self.appendix_table(
            "Refusals per bin, by code", "refusals_over_time", all_bins, counts, codes, "refusals"
        )
        refused = _metric("refusals.refusals", total["refusals"], _count(total["refusals"]))
        points = _metric(
            "refusals.entry_points", total["entry_points"], _count(total["entry_points"])
        )
        out.append(f"<p>{refused} events refused at {points} entry points.</p>")
        rows = [
            [
                _e(row["code"]),
                _metric(
                    "refusals_by_code.refusals",
                    row["refusals"],
                    _count(row["refusals"]),
                    [row["code"]],
                ),
                _when(row["first_refused"]),
                _when(row["last_refused"]),
            ]
            for row in by_code
        ]
        if rows:
            out.append(_table([("code", ""), ("refusals", "n"), ("first", ""), ("last", "")], rows))
        out.append(f'<p class="src">{self.caption("refusals", "refusals_by_code")}</p>')
        return "".join(out)

    def attribution(self) -> str:
        humans = "attribution_humans"
        if self.r.has("attribution_humans_recorded"):
            humans = "attribution_humans_recorded"
        signatures = "attribution_signatures"
        if self.r.has("attribution_signatures_recorded"):
            signatures = "attribution_signatures_recorded"

        def share(name: str, whole: str, what: str) -> list[str]:
            row = self.r.one(name)
            return [
                what,
                _metric(f"{name}.share", row["share"], _rate(row["share"])),
                _metric(f"{name}.attributed", row["attributed"], _count(row["attributed"])),
                _metric(f"{name}.{whole}", row[whole], _count(row[whole])),
                (
                    f'<span class="src">{html.escape(QUERIES[name].help)} '
                    f'<code class="q">[{name}]</code></span>'
                ),
            ]

        table = _table(
            [("", ""), ("named", "n"), ("", "n"), ("of", "n"), ("counted", "")],
            [
                share(humans, "human_steps", "human steps that name who acted"),
                share(signatures, "signatures", "auto-signatures that name the model"),
            ],
        )
        policy = ""
        if self.r.has("policy_versions"):
            rows = [
                [
                    _e(row["policy_version"]),
                    f'<span class="mono">{_e(row["policy_digest"])}</span>',
                    _metric(
                        "policy_versions.decisions",
                        row["decisions"],
                        _count(row["decisions"]),
                        [row["policy_version"], row["policy_digest"]],
                    ),
                    _when(row["first_created"]),
                    _when(row["last_created"]),
                ]
                for row in self.r.rows("policy_versions")
            ]
            policy = (
                "<h3>Policy versions in force</h3>"
                + _table(
                    [
                        ("policy version", "id"),
                        ("digest", "id"),
                        ("decisions", "n"),
                        ("first", ""),
                        ("last", ""),
                    ],
                    rows,
                )
                + f'<p class="src">{self.caption("policy_versions")}</p>'
            )
        return (
            f'<section id="attribution"><h2>6. Attribution</h2>{table}'
            f'<p class="src">Period: {html.escape(self.period_text())}.</p>{policy}</section>'
        )

    def verification(self, state: VerificationState | None) -> str:
        command = "govledger verify --key PUBLIC_KEY_FILE" if state is None else state.command
        head = '<section id="verification"><h2>7. Verification</h2>'
        if state is None:
            return (
                f'{head}<p class="warn">No signed checkpoint for this store (not sealed, or '
                "not known to the report): nothing here is tamper-evident yet. Run "
                "<code>govledger keygen</code> once and <code>govledger seal</code>; an "
                f"auditor then checks the store with <code>{command}</code>.</p></section>"
            )
        coverage = state.checkpoint_size / state.events if state.events else None
        unsealed = max(state.events - state.checkpoint_size, 0)
        size = state.checkpoint_size
        signed = state.checkpoint_time
        return (
            f"{head}<p>The last signed checkpoint covers "
            f"{_metric('verification.checkpoint_size', size, _count(size))} of the "
            f"{_metric('verification.events', state.events, _count(state.events))} events in "
            f"the store ({_metric('verification.coverage', coverage, _rate(coverage))}); it was "
            f"signed at {_metric('verification.checkpoint_time', signed, _when(signed))} by the "
            f"key {_e(state.key_name)}. "
            f"{_metric('verification.unsealed', unsealed, _count(unsealed))} events stored "
            "after it prove nothing until the next <code>govledger seal</code>.</p>"
            "<p>An auditor checks it against the public key they were given "
            "(recomputes the Merkle tree, checks every checkpoint's signature and that each "
            f'extends the one before) with:</p><pre class="cmd">{html.escape(command)}</pre>'
            f'<p class="src">{html.escape(state.source)} Add <code>--require-sealed</code> '
            "to <code>govledger verify</code> to also fail on events stored after the last "
            "checkpoint.</p></section>"
        )

    def appendix(self) -> str:
        if not self._appendix:
            return ""
        return (
            '<section id="appendix" class="appendix"><h2>Appendix: the numbers behind the '
            f"charts</h2>{''.join(self._appendix)}</section>"
        )


_CSS: Final = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: %(font)s; color: #1d1d1d; background: #fff; margin: 0 auto;
  max-width: 1060px; padding: 24px 32px 48px; font-size: 14px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 2px solid #1d1d1d; }
h3 { font-size: 15px; margin: 18px 0 6px; }
section { margin: 28px 0 0; }
.meta { color: #444; margin: 0 0 14px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: 10px 14px; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #555; }
.card .big { font-size: 26px; font-weight: bold; margin: 2px 0; }
.card .small { font-size: 12px; color: #444; }
figure { margin: 8px 0 4px; }
figure svg { max-width: 100%%; height: auto; display: block; }
figcaption, .src { font-size: 12px; color: #555; }
.row { display: flex; gap: 24px; align-items: flex-start; }
.row > figure { flex: 0 1 auto; max-width: 72%%; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 13px; }
th, td { padding: 3px 10px 3px 0; text-align: left; vertical-align: top;
  border-bottom: 1px solid #e2e2e2; }
th { border-bottom: 1px solid #888; font-weight: bold; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.n { padding-left: 10px; }
td.id { overflow-wrap: anywhere; min-width: 9em; max-width: 24em; }
table.side { margin-top: 34px; }
table.bins { font-size: 12px; }
table.bins td, table.bins th { padding: 1px 10px 1px 0; }
.mono, code, pre { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 12px; }
code.q { color: #777; }
pre.cmd { background: #f3f3f3; border: 1px solid #ddd; padding: 8px 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.ctl { color: #b00020; border: 1px solid #b00020; border-radius: 2px; font-size: 10px;
  padding: 0 2px; margin: 0 1px; }
.none, .muted { color: #777; }
.warn { background: #fff4e5; border-left: 4px solid #f0a030; padding: 6px 10px; }
.empty { color: #555; font-style: italic; }
ul.inline { list-style: none; padding: 0; margin: 4px 0; display: flex; gap: 24px; }
.num { font-variant-numeric: tabular-nums; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  .cards { gap: 6px; }
  section { break-inside: auto; }
  figure, table, .card { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .appendix { break-before: page; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
""" % {"font": _charts.FONT}  # noqa: UP031 - the CSS is full of braces


def _document(body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # Nothing may load: no scripts, no remote styles, fonts or images.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        "<title>govledger oversight report</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
