"""audit REPORT --since/--until/--limit, and numbers formatted for reading (issue 14 §4).

Two weeks of history (the oversight report's workload): each report restricted to a
period returns exactly the rows whose own time column is in it, by an independent
query; --limit keeps the first N rows of the same order; a table shows durations as
``5d 20h`` and rates as percentages, while JSON and CSV keep the exact values.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from projections import REPORTS
from tests.cli._report_workload import record


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    d = tmp_path_factory.mktemp("periods")
    paths = {"store": str(d / "ledger.db"), "projection": str(d / "audit.duckdb")}
    now = datetime.now(UTC).replace(microsecond=0)
    with GovernanceLedger(LedgerConfig(store=paths["store"])) as app:
        record(app, now)
    assert main(["--store", paths["store"], "--projection", paths["projection"], "project"]) == 0
    since = (now - timedelta(days=9)).replace(hour=0, minute=0, second=0)
    until = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0)
    return {**paths, "now": now, "since": since, "until": until}


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def audit(history, capsys, *args: str) -> list[dict]:
    capsys.readouterr()
    base = ["--store", history["store"], "--projection", history["projection"]]
    assert main([*base, "audit", *args, "-f", "json"]) == 0
    return orjson.loads(capsys.readouterr().out)


def select(history, sql: str) -> list[tuple]:
    con = duckdb.connect(history["projection"], read_only=True)
    try:
        params = {"since": history["since"], "until": history["until"]}
        return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).fetchall()
    finally:
        con.close()


IN = "{col} >= $since AND {col} < $until"
#: report -> (independent SQL over the period, the output column it is compared with)
EXPECTED = {
    "summary": (
        (
            "SELECT gate_type, automation_level, status, count(*) FROM decisions "
            f"WHERE {IN.format(col='created_at')} GROUP BY ALL"
        ),
        ("gate_type", "automation_level", "status", "count"),
    ),
    "auto-approvals": (
        (
            "SELECT decision_id FROM decisions WHERE status = 'auto_approved' "
            f"AND {IN.format(col='created_at')}"
        ),
        ("decision_id",),
    ),
    "pending": (
        (
            "SELECT decision_id FROM decisions WHERE status = 'awaiting_human' "
            f"AND {IN.format(col='awaiting_since')}"
        ),
        ("decision_id",),
    ),
    "halts": (
        f"SELECT decision_id FROM locked_halts WHERE {IN.format(col='halted_at')}",
        ("decision_id",),
    ),
    "overrides": (
        (
            "SELECT decision_id FROM decisions WHERE human_decision <> model_decision "
            f"AND {IN.format(col='human_decided_at')}"
        ),
        ("decision_id",),
    ),
    "refusals": (
        f"SELECT position FROM refusals WHERE {IN.format(col='refused_at')}",
        ("position",),
    ),
    "attribution": (
        (
            "SELECT decision_id FROM decisions WHERE applied_at IS NOT NULL AND "
            "((signed_at IS NOT NULL AND signed_by IS NULL) OR "
            "(human_decided_at IS NOT NULL AND NOT human_attributed)) "
            f"AND {IN.format(col='applied_at')}"
        ),
        ("decision_id",),
    ),
    "models": (
        (
            "SELECT model_id, count(*) FROM decisions "
            f"WHERE {IN.format(col='created_at')} GROUP BY ALL"
        ),
        ("model_id", "decisions"),
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_since_and_until_restrict_each_report_by_its_own_time(history, capsys, name):
    """
    Issue 14 §4: audit reports take --since (inclusive) and --until (exclusive), on the
    time column each report is about (its --help names it).
    """
    period = ["--since", stamp(history["since"]), "--until", stamp(history["until"])]
    rows = audit(history, capsys, name, *period)
    sql, columns = EXPECTED[name]
    expected = sorted(select(history, sql), key=str)
    shown = sorted((tuple(r[c] for c in columns) for r in rows), key=str)
    assert shown == expected
    everything = audit(history, capsys, name)
    counted = {"summary": "count", "models": "decisions"}.get(name)
    if counted:  # the period holds some of the decisions, not all
        assert 0 < sum(r[counted] for r in rows) < sum(r[counted] for r in everything)
    elif name in ("auto-approvals", "overrides"):
        assert 0 < len(rows) < len(everything)


def test_target_is_restricted_by_the_events_own_time(history, capsys):
    """
    audit target REF --since/--until: the target's events stamped in the period.
    """
    (target,) = select(
        history,
        "SELECT target_ref FROM decisions WHERE decision_id = 'hist-0003'",
    )[0:1]
    period = ["--since", stamp(history["since"]), "--until", stamp(history["now"])]
    rows = audit(history, capsys, "target", target[0], *period)
    expected = select(
        history,
        "SELECT e.position FROM events e JOIN decisions d USING (decision_id) "
        f"WHERE d.target_ref = '{target[0]}' AND e.timestamp >= $since "
        "AND e.timestamp < TIMESTAMPTZ '" + history["now"].isoformat() + "' ORDER BY 1",
    )
    assert [r["position"] for r in rows] == [p for (p,) in expected]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_limit_keeps_the_first_rows_of_the_same_order(history, capsys, name):
    """
    Issue 14 §4: --limit N: the first N rows the report would list.
    """
    args = [name, "WP-H000/MT-00"] if REPORTS[name].argument else [name]

    def timeless(rows: list[dict]) -> list[dict]:  # waits grow between two runs
        return [{k: v for k, v in r.items() if k != "waited_seconds"} for r in rows]

    everything = audit(history, capsys, *args)
    limited = audit(history, capsys, *args, "--limit", "2")
    assert timeless(limited) == timeless(everything[:2])
    assert len(limited) == min(2, len(everything))


def test_a_bad_period_or_limit_is_a_usage_error(history, capsys):
    """
    --since after --until, a moment without a time zone, a limit below 1: exit 2, one line.
    """
    base = ["--store", history["store"], "--projection", history["projection"], "audit"]
    cases = [
        ["summary", "--since", "2026-02-02T00:00:00Z", "--until", "2026-02-01T00:00:00Z"],
        ["summary", "--since", "2026-02-02T00:00:00"],
        ["pending", "--limit", "0"],
    ]
    for args in cases:
        capsys.readouterr()
        assert main([*base, *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert orjson.loads(err)["error"]["code"] == "configuration_error"


def test_tables_show_numbers_for_reading_and_json_keeps_them_exact(history, capsys):
    """
    Issue 14 §4: in a table, durations read 5d 20h (not 21,107,983 seconds), rates read as
    percentages and counts have separators; JSON and CSV keep the exact numbers.
    """
    base = ["--store", history["store"], "--projection", history["projection"], "audit"]
    capsys.readouterr()
    assert main([*base, "pending"]) == 0
    table = capsys.readouterr().out.splitlines()
    header = table[0].split()
    assert header[-1] == "waited"  # waited_seconds, read as a duration
    oldest = table[2]
    assert oldest.startswith("pending-8d")
    assert oldest.rstrip().endswith(("8d", "8d 1h", "8d 0h")) or " 8d" in oldest
    rows = audit(history, capsys, "pending")
    assert rows[0]["waited_seconds"] > 8 * 86400  # exact seconds in JSON
    assert main([*base, "pending", "-f", "csv"]) == 0
    (first,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[:1]
    assert float(first["waited_seconds"]) == pytest.approx(rows[0]["waited_seconds"], abs=5)
    assert main([*base, "models"]) == 0
    models = capsys.readouterr().out
    assert "%" in models.splitlines()[2]  # approval_rate, override_rate
