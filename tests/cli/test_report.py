"""govledger report: the oversight report, checked number by number against the projection.

Issue 14 section 1. A known workload (two weeks of history, pending decisions of known
ages, the demo, a refusal journal, a signed checkpoint with events after it) is
projected, the report is generated through the CLI, and every ``data-metric`` in the
HTML is compared with what this module computes itself from plain SELECTs on the
projection (and, for the verification section, from the store). A real Chromium
opens the file: no console error, no request but the file, and a screenshot.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.trust import CheckpointStore
from projections import report
from tests.cli._report_workload import PENDING_AGES, add_refusal_journal, record

ROOT = Path(__file__).resolve().parents[2]
STATUSES = [
    "auto_approved",
    "human_approved",
    "rejected",
    "human_rejected",
    "deferred",
    "halted",
    "awaiting_human",
    "open",
]


# --- the workload --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    """
    Store + projection with the known workload, sealed, then 3 events more (unsealed).
    """
    d = tmp_path_factory.mktemp("report")
    paths = {"store": str(d / "ledger.db"), "projection": str(d / "audit.duckdb")}
    now = datetime.now(UTC).replace(microsecond=0)
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        record(app, now)
    assert main(["--store", paths["store"], "keygen"]) == 0
    assert main(["--store", paths["store"], "seal"]) == 0
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        app.evaluate_gate(
            "SpecApproval",
            "WP-late/MT-01",
            "HYBRID",
            "approve",
            0.91,
            model_id="local/llama-3.3-70b",
        )
    assert run(paths, "project") == 0
    con = duckdb.connect(paths["projection"])
    add_refusal_journal(con, now)
    con.close()
    return {**paths, "now": now, "dir": d}


def run(paths, *args):
    return main(["--store", paths["store"], "--projection", paths["projection"], *args])


def generate(paths, out: Path, *args) -> str:
    assert run(paths, "report", "--out", str(out), *args) == 0
    return out.read_text(encoding="utf-8")


def copy_projection(workload, tmp_path) -> Path:
    target = tmp_path / "copy.duckdb"
    shutil.copy(workload["projection"], target)
    return target


# --- reading the page ---------------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metrics: dict[tuple[str, tuple], set[str]] = {}
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]
        a = dict(attrs)
        if "data-metric" in a:
            key = tuple(json.loads(a["data-key"])) if "data-key" in a else ()
            self.metrics.setdefault((a["data-metric"], key), set()).add(a["data-value"])

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def metrics(html: str) -> dict[tuple[str, tuple], str]:
    """
    (metric, row key) -> the exact value; a number shown twice must be the same both times.
    """
    found = parse(html).metrics
    assert all(len(values) == 1 for values in found.values()), {
        k: v for k, v in found.items() if len(v) > 1
    }
    return {key: next(iter(values)) for key, values in found.items()}


def same(shown: str, expected: Any) -> bool:
    if expected is None:
        return shown == ""
    if isinstance(expected, datetime):
        return datetime.fromisoformat(shown) == expected
    if isinstance(expected, int):
        return shown == str(expected)
    if isinstance(expected, float):
        return float(shown) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    return shown == str(expected)


# --- what the numbers must be, computed here ---------------------------------------------


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def where(column: str, since: datetime | None, until: datetime | None) -> str:
    parts = ["TRUE"]
    if since is not None:
        parts.append(f"{column} >= TIMESTAMPTZ '{since.isoformat()}'")
    if until is not None:
        parts.append(f"{column} < TIMESTAMPTZ '{until.isoformat()}'")
    return " AND ".join(parts)


def floor(moment: datetime, unit: str) -> str:
    moment = moment.astimezone(UTC)
    if unit == "hour":
        start = moment.replace(minute=0, second=0, microsecond=0)
    else:
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if unit == "week":
            start -= timedelta(days=start.weekday())
        elif unit == "month":
            start = start.replace(day=1)
    return start.isoformat().replace("+00:00", "Z")


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


WAIT_BOUNDS = [
    (3600, "under 1h"),
    (4 * 3600, "1h to 4h"),
    (12 * 3600, "4h to 12h"),
    (86400, "12h to 1d"),
    (3 * 86400, "1d to 3d"),
    (7 * 86400, "3d to 7d"),
]


class Expected:
    """
    Every number the report should show, from plain SELECTs and Python: one method per
    section, each writing (metric, row key) -> value into ``out``.
    """

    #: Metrics whose absent rows mean 0 (a time-bin table lists every column of a bin).
    ZERO_WHEN_ABSENT = frozenset(
        {"decisions_over_time.decisions", "halts_over_time.halts", "refusals_over_time.refusals"}
    )

    def __init__(self, con, *, since, until, now, unit) -> None:
        self.con, self.since, self.until, self.now, self.unit = con, since, until, now, unit
        self.out: dict[tuple[str, tuple], Any] = {}
        self.columns = {
            f"{t}.{c}"
            for t, c in rows(con, "SELECT table_name, column_name FROM information_schema.columns")
        }
        self.decisions = rows(
            con,
            "SELECT decision_id, status, created_at, model_id, confidence, threshold, "
            "model_decision, human_decision, gate_type, automation_level "
            f"FROM decisions WHERE {self.within('created_at')}",
        )

    def within(self, column: str) -> str:
        return where(column, self.since, self.until)

    def count(self, metric: str, key: tuple) -> None:
        self.out[metric, key] = self.out.get((metric, key), 0) + 1

    def all(self) -> dict[tuple[str, tuple], Any]:
        for section in (
            self.statuses,
            self.waits,
            self.pending,
            self.models,
            self.cells,
            self.halts,
            self.refusals,
            self.attribution,
            self.projection,
        ):
            section()
        return self.out

    def statuses(self) -> None:
        out, statuses = self.out, [d[1] for d in self.decisions]
        out["period.decisions", ()] = len(self.decisions)
        out["period.first_created", ()] = min((d[2] for d in self.decisions), default=None)
        out["period.last_created", ()] = max((d[2] for d in self.decisions), default=None)
        for status in STATUSES:
            out["status_totals.decisions", (status,)] = statuses.count(status)
        approved = sum(s in ("auto_approved", "human_approved") for s in statuses)
        closed = sum(s not in ("open", "awaiting_human") for s in statuses)
        out["approval.approved", ()] = approved
        out["approval.auto_approved", ()] = statuses.count("auto_approved")
        out["approval.human_approved", ()] = statuses.count("human_approved")
        out["approval.closed", ()] = closed
        out["approval.not_closed", ()] = len(statuses) - closed
        out["approval.approval_rate", ()] = rate(approved, closed)
        for d in self.decisions:
            self.count("decisions_over_time.decisions", (floor(d[2], self.unit), d[1]))

    def waits(self) -> None:
        out = self.out
        waits = sorted(
            w
            for (w,) in rows(
                self.con,
                "SELECT epoch(received_at) - epoch(requested_at) FROM human_interventions "
                f"WHERE received_at IS NOT NULL AND {self.within('requested_at')}",
            )
        )
        out["waits.answered", ()] = len(waits)
        out["waits.p50_seconds", ()] = statistics.median(waits) if waits else None
        # The 90th percentile by linear interpolation between closest ranks.
        out["waits.p90_seconds", ()] = (
            statistics.quantiles(waits, n=10, method="inclusive")[8]
            if len(waits) > 1
            else max(waits, default=None)
        )
        out["waits.max_seconds", ()] = max(waits, default=None)
        for _, label in [*WAIT_BOUNDS, (None, "7d or more")]:
            out["wait_buckets.answered", (label,)] = 0
        for w in waits:
            label = next((label for bound, label in WAIT_BOUNDS if w < bound), "7d or more")
            out["wait_buckets.answered", (label,)] += 1

    def pending(self) -> None:
        out = self.out
        pending = rows(
            self.con,
            "SELECT awaiting_since, decision_id FROM decisions WHERE status = 'awaiting_human' "
            f"AND {self.within('awaiting_since')} ORDER BY awaiting_since, decision_id",
        )
        waited = {decision_id: (self.now - at).total_seconds() for at, decision_id in pending}
        out["pending.pending", ()] = len(pending)
        for days in (1, 3, 7):
            out[f"pending.older_{days}d", ()] = sum(w > days * 86400 for w in waited.values())
        out["pending.oldest_seconds", ()] = max(waited.values(), default=None)
        for _, decision_id in pending[:10]:
            out["oldest_pending.waited_seconds", (decision_id,)] = waited[decision_id]

    def models(self) -> None:
        out, models = self.out, {}
        for d in self.decisions:
            models.setdefault(d[3], []).append(d)
        for model, ds in models.items():
            key = (model,)
            auto = sum(d[1] == "auto_approved" for d in ds)
            answered = [d for d in ds if d[7] is not None]
            overridden = sum(d[7] != d[6] for d in answered)
            confidences = [d[4] for d in ds if d[4] is not None]
            out["models.decisions", key] = len(ds)
            out["models.auto_approved", key] = auto
            out["models.auto_approval_rate", key] = rate(auto, len(ds))
            out["models.mean_confidence", key] = (
                statistics.fmean(confidences) if confidences else None
            )
            out["models.human_answered", key] = len(answered)
            out["models.overridden", key] = overridden
            out["models.override_rate", key] = rate(overridden, len(answered))

    def cells(self) -> None:
        out, cells = self.out, {}
        for d in self.decisions:
            cells.setdefault((d[8], d[9]), []).append(d)
        for key, ds in cells.items():
            confidences = sorted(d[4] for d in ds if d[4] is not None)
            thresholds = {d[5] for d in ds if d[5] is not None}
            judged = [d for d in ds if d[5] is not None and d[4] is not None]
            out["gate_cells.decisions", key] = len(ds)
            if thresholds and max(thresholds) != min(thresholds):
                out["gate_cells.threshold_max", key] = max(thresholds)
            if thresholds:
                out["gate_cells.threshold", key] = min(thresholds)
            # A cell without a threshold has nothing to be at or above.
            out["gate_cells.at_or_above", key] = (
                sum(d[4] >= d[5] for d in judged) if thresholds else None
            )
            out["gate_cells.below", key] = sum(d[4] < d[5] for d in judged) if thresholds else None
            out["gate_cells.confidence_min", key] = min(confidences, default=None)
            out["gate_cells.confidence_p50", key] = (
                statistics.median(confidences) if confidences else None
            )
            out["gate_cells.confidence_max", key] = max(confidences, default=None)

    def halts(self) -> None:
        halts = rows(
            self.con,
            f"SELECT gate_type, rule, halted_at FROM locked_halts WHERE {self.within('halted_at')}",
        )
        self.out["halts.halts", ()] = len(halts)
        for gate, rule, at in halts:
            self.count("halts_by_gate.halts", (gate, rule))
            self.count("halts_over_time.halts", (floor(at, self.unit),))

    def refusals(self) -> None:
        if "refusals.code" not in self.columns:
            return
        refusals = rows(
            self.con,
            f"SELECT code, entry_point, refused_at FROM refusals WHERE {self.within('refused_at')}",
        )
        self.out["refusals.refusals", ()] = len(refusals)
        self.out["refusals.entry_points", ()] = len({r[1] for r in refusals if r[1] is not None})
        for code, _, at in refusals:
            self.count("refusals_by_code.refusals", (code,))
            self.count("refusals_over_time.refusals", (floor(at, self.unit), code))

    def attribution(self) -> None:
        out = self.out
        if "decisions.human_attributed" in self.columns:
            steps = rows(
                self.con,
                "SELECT human_attributed FROM decisions WHERE human_decided_at IS NOT NULL "
                f"AND {self.within('human_decided_at')}",
            )
            name, named = "attribution_humans_recorded", sum(bool(a) for (a,) in steps)
        else:
            steps = rows(
                self.con,
                "SELECT user_id FROM human_interventions WHERE received_at IS NOT NULL "
                f"AND {self.within('received_at')}",
            )
            name, named = "attribution_humans", sum(u is not None for (u,) in steps)
        out[f"{name}.human_steps", ()] = len(steps)
        out[f"{name}.attributed", ()] = named
        out[f"{name}.share", ()] = rate(named, len(steps))
        if "auto_signatures.model_attributed" in self.columns:
            signed = rows(
                self.con,
                f"SELECT model_attributed FROM auto_signatures WHERE {self.within('created_at')}",
            )
            name, named = "attribution_signatures_recorded", sum(bool(a) for (a,) in signed)
        else:
            signed = rows(
                self.con,
                f"SELECT model_id FROM auto_signatures WHERE {self.within('created_at')}",
            )
            name, named = "attribution_signatures", sum(m is not None for (m,) in signed)
        out[f"{name}.signatures", ()] = len(signed)
        out[f"{name}.attributed", ()] = named
        out[f"{name}.share", ()] = rate(named, len(signed))
        if {"decisions.policy_version", "decisions.policy_digest"} <= self.columns:
            for version, digest in rows(
                self.con,
                "SELECT policy_version, policy_digest FROM decisions "
                f"WHERE {self.within('created_at')}",
            ):
                self.count("policy_versions.decisions", (version, digest))

    def projection(self) -> None:
        self.out["projection.events", ()] = rows(self.con, "SELECT count(*) FROM events")[0][0]
        self.out["projection.position", ()] = rows(self.con, "SELECT max(position) FROM events")[0][
            0
        ]


def verification_metrics(store: str) -> dict:
    """
    The sealing numbers, read from the store (the report gets them from the CLI).
    """
    with GovernanceLedger(LedgerConfig(store=store)) as app:
        latest = CheckpointStore.of(app).latest()
        events = app.max_position()
    return {
        ("verification.checkpoint_size", ()): latest.tree_size,
        ("verification.events", ()): events,
        ("verification.coverage", ()): latest.tree_size / events,
        ("verification.unsealed", ()): events - latest.tree_size,
        ("verification.checkpoint_time", ()): datetime.fromisoformat(latest.sealed_at),
    }


def check_every_number(
    html: str, projection: str, *, since=None, until=None, extra: dict | None = None
) -> dict:
    """
    Each data-metric equals the number computed here; each number computed here is shown.
    """
    everything = metrics(html)
    shown = dict(everything)
    now = datetime.fromisoformat(shown.pop(("generated_at", ())))
    unit = shown.pop(("bins", ()))
    con = duckdb.connect(projection, read_only=True)
    try:
        expected = Expected(con, since=since, until=until, now=now, unit=unit).all()
    finally:
        con.close()
    zero_when_absent = Expected.ZERO_WHEN_ABSENT
    expected.update(extra or {})
    wrong = {
        key: (value, expected.get(key, 0 if key[0] in zero_when_absent else "(not expected)"))
        for key, value in shown.items()
        if not same(value, expected.get(key, 0 if key[0] in zero_when_absent else object()))
    }
    assert not wrong, wrong
    missing = {k: v for k, v in expected.items() if k not in shown and v not in (0, None)}
    assert not missing, missing
    return everything


# --- tests -------------------------------------------------------------------------------


def test_every_number_in_the_report_equals_an_independent_query(workload, tmp_path, capsys):
    """
    Issue 14 §1: each number in the report (data-metric) is what the projection says,
    computed independently here; the verification numbers are what the store says.
    """
    html = generate(workload, tmp_path / "report.html")
    assert "report: wrote" in capsys.readouterr().err
    shown = check_every_number(
        html, workload["projection"], extra=verification_metrics(workload["store"])
    )
    # The known parts of the workload, stated outright.
    assert shown["pending.older_1d", ()] == "3"
    assert shown["pending.older_3d", ()] == "2"
    assert shown["pending.older_7d", ()] == "1"
    assert {k[1][0] for k in shown if k[0] == "oldest_pending.waited_seconds"} >= set(PENDING_AGES)
    assert int(shown["verification.unsealed", ()]) == 3
    # 60 written into the journal by the fixture, plus what the ledger itself refused.
    assert int(shown["refusals.refusals", ()]) > 60
    assert 0 < float(shown["attribution_humans_recorded.share", ()]) < 1
    assert int(shown["halts.halts", ()]) > 0
    assert "8d" in html
    assert "5h" in html


def test_since_and_until_restrict_every_figure_to_the_period(workload, tmp_path):
    """
    --since (inclusive) and --until (exclusive) restrict every figure and table; the
    page states the period.
    """
    now = workload["now"]
    since = (now - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    until = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0)
    stamp = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    html = generate(
        workload, tmp_path / "period.html", "--since", stamp(since), "--until", stamp(until)
    )
    shown = check_every_number(
        html,
        workload["projection"],
        since=since,
        until=until,
        extra=verification_metrics(workload["store"]),
    )
    full = metrics(generate(workload, tmp_path / "full.html"))
    for name in (
        "period.decisions",
        "halts.halts",
        "refusals.refusals",
        "waits.answered",
        "attribution_humans_recorded.human_steps",
        "attribution_signatures_recorded.signatures",
    ):
        assert 0 < int(shown[name, ()]) < int(full[name, ()]), name
    assert shown["bins", ()] == "day"
    bins = [
        datetime.fromisoformat(k[1][0])
        for k in shown
        if k[0].endswith("_over_time.decisions")
        or k[0].endswith("_over_time.halts")
        or k[0].endswith("_over_time.refusals")
    ]
    assert bins
    assert all(since <= b < until for b in bins)
    waiting = {k[1][0] for k in shown if k[0] == "oldest_pending.waited_seconds"}
    assert waiting == {"pending-8d", "pending-4d"}  # 2d and 5h are after the period
    assert f"{since:%Y-%m-%d %H:%M} UTC to {until:%Y-%m-%d %H:%M} UTC" in html


def test_a_projection_without_a_refusal_journal_says_so(workload, tmp_path):
    """
    The refusals table is newer than some projections: its section says there is no
    journal rather than failing, and every other number is still right.
    """
    projection = copy_projection(workload, tmp_path)
    con = duckdb.connect(str(projection))
    con.execute("DROP TABLE refusals")
    con.close()
    # Built from the file as it is (the CLI would catch it up, creating the table).
    con = duckdb.connect(str(projection), read_only=True)
    html = report.build_report(con, now=workload["now"] + timedelta(hours=1))
    con.close()
    assert "No refusal journal in this projection" in html
    shown = check_every_number(html, str(projection))
    assert not [k for k in shown if k[0].startswith("refusals")]


def test_attribution_prefers_the_recorded_columns_and_shows_policy_versions(workload, tmp_path):
    """
    When the projection has decisions.human_attributed, auto_signatures.model_attributed
    and the policy columns, the report uses them instead of deriving attribution.
    """
    projection = copy_projection(workload, tmp_path)
    con = duckdb.connect(str(projection))
    # Deliberately unlike the derivation: only alice's steps count as attributed here.
    con.execute(
        "UPDATE decisions SET human_attributed = (human_user_id = 'alice') "
        "WHERE human_decided_at IS NOT NULL"
    )
    con.execute("UPDATE auto_signatures SET model_attributed = (model_id LIKE '%qwen%')")
    con.execute(
        "UPDATE decisions SET policy_version = CASE WHEN created_position < 300 "
        "THEN '2.6.8.12.2+ops-1' ELSE '2.6.8.12.2+ops-2' END, "
        "policy_digest = CASE WHEN created_position < 300 THEN 'sha256:aa11' "
        "ELSE 'sha256:bb22' END"
    )
    con.close()
    con = duckdb.connect(str(projection), read_only=True)
    html = report.build_report(con, now=workload["now"] + timedelta(hours=1))
    con.close()
    shown = check_every_number(html, str(projection))
    assert "attribution_humans_recorded.share" in {k[0] for k in shown}
    assert "attribution_humans.share" not in {k[0] for k in shown}
    assert float(shown["attribution_signatures_recorded.share", ()]) < 1
    assert {k[1] for k in shown if k[0] == "policy_versions.decisions"} == {
        ("2.6.8.12.2+ops-1", "sha256:aa11"),
        ("2.6.8.12.2+ops-2", "sha256:bb22"),
    }
    assert "Policy versions in force" in html


HOSTILE = {
    "decision_id": '<script>alert("d")</script>',
    "model_id": "m'\"><img src=x onerror=alert(1)>\u202egnp.exe",
    "gate_type": '"><svg onload=alert(2)>',
    "target_ref": "\u2066WP-1\u2069 </td></tr></table><!--",
    "user_id": "<b onmouseover=alert(3)>",
    "code": "<iframe src=//evil.example>\u200f",
}
ALLOWED_TAGS = {
    "html",
    "head",
    "meta",
    "title",
    "style",
    "body",
    "header",
    "h1",
    "h2",
    "h3",
    "p",
    "strong",
    "span",
    "div",
    "section",
    "figure",
    "figcaption",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "ul",
    "li",
    "bdi",
    "svg",
    "g",
    "path",
    "rect",
    "line",
    "text",
    "defs",
    "lineargradient",
    "stop",
    "clippath",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """
    A store whose ids, model, gate, target, user and refusal code are attack strings, and
    two decisions whose emitter stamped them in year 1 and year 9999.
    """
    d = tmp_path_factory.mktemp("hostile")
    paths = {"store": str(d / "ledger.db"), "projection": str(d / "audit.duckdb")}
    # Gate types are tokens since issue 10 (no markup can reach one through the ledger):
    # the hostile gate name is written into the projection below, as a forged row would be.
    h = {**HOSTILE, "gate_type": "HostileGate"}
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        app.evaluate_gate(
            h["gate_type"],
            h["target_ref"],
            "HYBRID",
            "approve",
            0.5,
            model_id=h["model_id"],
            decision_id=h["decision_id"],
        )
        answered = app.evaluate_gate(
            h["gate_type"], h["target_ref"], "FULL_HUMAN", "approve", 0.7, model_id=h["model_id"]
        )
        app.record_human_decision(answered.decision_id, h["user_id"], "reject")
        app.evaluate_gate(
            h["gate_type"], h["target_ref"], "AUTONOMOUS", "approve", 0.99, model_id=h["model_id"]
        )
        for n, stamp in enumerate(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]):
            base = {
                "decision_id": f"stray-{n}",
                "gate_type": "SpecApproval",
                "target_ref": "WP-stray",
                "automation_level": "AUTONOMOUS",
                "timestamp": stamp,
            }
            results = app.append(
                [
                    {
                        **base,
                        "type": "gov_decision_created",
                        "event_id": str(uuid.uuid4()),
                        "actor": "agent",
                        "decision": "reject",
                        "confidence": 0.3,
                    },
                    {
                        **base,
                        "type": "gov_decision_applied",
                        "event_id": str(uuid.uuid4()),
                        "actor": "system",
                        "decision": "reject",
                    },
                ]
            )
            assert [r.error for r in results] == [None, None]
    assert run(paths, "project") == 0
    con = duckdb.connect(paths["projection"])
    add_refusal_journal(con, datetime.now(UTC))
    con.execute("UPDATE refusals SET code = ?", [HOSTILE["code"]])
    for table in ("decisions", "auto_signatures", "human_interventions", "locked_halts"):
        con.execute(
            f"UPDATE {table} SET gate_type = ? WHERE gate_type = 'HostileGate'",
            [HOSTILE["gate_type"]],
        )
    con.close()
    return paths


def test_hostile_ids_are_escaped(hostile, tmp_path):
    """
    Ledger text is attacker-controlled: markup is escaped, bidi and other invisible
    characters are shown by code point (never written raw), and no element or attribute
    comes from the data, while data-key still carries the exact original value.
    """
    html = generate(hostile, tmp_path / "hostile.html")
    page = parse(html)
    assert page.tags <= ALLOWED_TAGS, page.tags - ALLOWED_TAGS
    assert not [a for a in page.attributes if a[1].startswith("on")]
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "<iframe" not in html.lower()
    assert "<!--" not in html
    invisible = {ch for ch in html if unicodedata.category(ch) in ("Cf", "Cc") and ch != "\n"}
    assert not invisible, [f"U+{ord(ch):04X}" for ch in invisible]
    assert "&lt;script&gt;alert(&quot;d&quot;)&lt;/script&gt;" in html
    assert "U+202E" in html
    assert "U+2066" in html
    assert "U+200F" in html
    text = "".join(page.text)
    assert HOSTILE["decision_id"] in text  # shown as text, exactly
    keys = {k for (_, k) in page.metrics}
    assert (HOSTILE["model_id"],) in keys
    assert (HOSTILE["decision_id"],) in keys
    assert (HOSTILE["gate_type"], "HYBRID") in keys
    # Stray years do not make a chart of 10,000 bins: only bins with records are listed.
    shown = metrics(html)
    assert shown["bins", ()] == "year"
    years = {k[1][0][:4] for k in shown if k[0] == "decisions_over_time.decisions"}
    assert {"0001", "9999"} <= years
    assert len(years) <= 3
    assert "only years with records are shown, so the axis is not to scale" in html
    assert (HOSTILE["code"],) in keys


def test_the_charts_reference_nothing_outside_the_file(workload, tmp_path):
    """
    No script, no remote style, font or image: every href is a fragment, every url() too,
    and the page forbids loading anything (Content-Security-Policy default-src 'none').
    """
    html = generate(workload, tmp_path / "report.html")
    page = parse(html)
    assert "svg" in page.tags
    assert html.count("<svg") == 6  # one per chart
    for tag, name, value in page.attributes:
        if name in ("href", "src", "xlink:href", "srcset", "action", "poster"):
            assert (value or "").startswith("#"), (tag, name, value)
        if name == "xmlns" or name.startswith("xmlns:"):
            assert value.startswith("http://www.w3.org/"), value
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<link" not in lowered
    assert "@import" not in lowered
    assert "@font-face" not in lowered
    assert "<image" not in lowered
    assert lowered.count("url(") == lowered.count("url(#")
    assert "https://" not in lowered
    assert "default-src 'none'" in html


def test_a_bad_moment_is_a_usage_error_in_one_line(workload, tmp_path, capsys):
    """
    --since/--until take RFC 3339 with a time zone: anything else exits 2 with one line,
    and no file is written.
    """
    out = tmp_path / "r.html"
    for args, needle in (
        (["--since", "yesterday"], "--since: not an RFC 3339 moment"),
        (["--until", "2026-02-19T15:00:00"], "--until: '2026-02-19T15:00:00' has no time zone"),
        (
            ["--since", "2026-02-20T00:00:00Z", "--until", "2026-02-19T00:00:00Z"],
            "--since must be before --until",
        ),
    ):
        capsys.readouterr()
        assert run(workload, "report", "--out", str(out), *args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert needle in err, err
    assert not out.exists()


def test_the_file_is_replaced_atomically(workload, tmp_path, capsys):
    """
    The report is written beside its target and renamed: the old file is replaced whole,
    keeps its mode, and no temporary file is left; a refused run leaves it untouched.
    """
    out = tmp_path / "r.html"
    out.write_text("old report")
    out.chmod(0o640)
    generate(workload, out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert (out.stat().st_mode & 0o777) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]
    before = out.read_text()
    assert run(workload, "report", "--out", str(out), "--since", "soon") == 2
    assert out.read_text() == before


def test_an_empty_unsealed_store_gives_a_report_that_says_so(tmp_path):
    """
    Nothing recorded and nothing sealed: the report still renders, with zeros, no charts
    of time, and a verification section that says the store is not sealed.
    """
    paths = {"store": str(tmp_path / "empty.db"), "projection": str(tmp_path / "e.duckdb")}
    GovernanceLedger(LedgerConfig(store=paths["store"])).close()  # report never creates one
    html = generate(paths, tmp_path / "r.html")
    shown = metrics(html)
    assert shown["period.decisions", ()] == "0"
    assert shown["approval.approval_rate", ()] == ""
    assert "No signed checkpoint for this store" in html
    assert "govledger verify --key PUBLIC_KEY_FILE" in html
    assert not [k for k in shown if k[0].startswith("verification")]


def test_format_duration_reads_like_a_person_writes():
    """
    Durations use the two largest units: 5d 20h, not 504000 seconds.
    """
    assert report.format_duration(5 * 86400 + 20 * 3600 + 59) == "5d 20h"
    assert report.format_duration(3 * 3600 + 12 * 60) == "3h 12m"
    assert report.format_duration(250) == "4m 10s"
    assert report.format_duration(12.4) == "12s"
    assert report.format_duration(7 * 86400) == "7d"
    assert report.format_duration(0) == "0s"
    assert report.format_duration(None) == "\u2013"


# --- in a real browser ---------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces: even a request that slipped through could not resolve a host.
    "--host-resolver-rules=MAP * ~NOTFOUND",
]


def _chromium() -> str | None:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    """
    Debian's chromium driven by Playwright (never a downloaded browser); skips with a
    reason when there is none, unless GOVLEDGER_REQUIRE_BROWSER=1.
    """
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        why = "no chromium at /usr/bin/chromium" if executable is None else "no playwright"
        if os.environ.get("GOVLEDGER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"GOVLEDGER_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(
            f"{why} (apt-get install chromium; set GOVLEDGER_REQUIRE_BROWSER=1 to fail instead)"
        )
    with sync_playwright() as p:
        # launch() gives every run a fresh, empty profile directory of its own.
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


def open_in(browser, path: Path, *, height: int = 900):
    """
    Load ``path``; returns (page, console errors, page errors, dialogs, requested URLs).
    """
    context = browser.new_context(
        viewport={"width": 1120, "height": height}, service_workers="block"
    )
    page = context.new_page()
    seen = {"console": [], "errors": [], "dialogs": [], "requests": []}
    page.on(
        "console",
        lambda m: m.type in ("error", "warning") and seen["console"].append(f"{m.type}: {m.text}"),
    )
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(200)  # let any late request or console message arrive
    return page, seen


def test_the_report_loads_in_chromium_with_no_error_and_no_request(workload, browser, tmp_path):
    """
    Headless Chromium opens the file with no console error and no request but the file
    itself; every chart is drawn; the screenshot goes to docs/report.png when
    GOVLEDGER_WRITE_SCREENSHOT=1 (the README's), else to tmp_path.
    """
    since = (workload["now"] - timedelta(days=14)).replace(hour=0, minute=0, second=0)
    path = tmp_path / "report.html"
    generate(workload, path, "--since", since.isoformat().replace("+00:00", "Z"))
    page, seen = open_in(browser, path, height=1600)
    try:
        assert seen["console"] == []
        assert seen["errors"] == []
        assert seen["dialogs"] == []
        assert seen["requests"] == [path.as_uri()]
        boxes = [svg.bounding_box() for svg in page.locator("figure svg").all()]
        assert len(boxes) == 6
        assert all(b and b["width"] > 300 and b["height"] > 100 for b in boxes)
        assert page.locator("h2").count() == 8
        assert page.evaluate("document.scripts.length") == 0
        if os.environ.get("GOVLEDGER_WRITE_SCREENSHOT") == "1":
            target = ROOT / "docs" / "report.png"
            target.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(target))  # the first screenful, for the README
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert (tmp_path / "report.png").stat().st_size > 50_000
    finally:
        page.context.close()


def test_hostile_text_runs_nothing_in_the_browser(hostile, browser, tmp_path):
    """
    The hostile report opens with no dialog, no script error and no request but itself.
    """
    path = tmp_path / "hostile.html"
    generate(hostile, path)
    page, seen = open_in(browser, path)
    try:
        assert seen == {"console": [], "errors": [], "dialogs": [], "requests": [path.as_uri()]}
        assert page.locator("img, iframe, script").count() == 0
    finally:
        page.context.close()
