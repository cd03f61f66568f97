# ruff: noqa: SLF001 - the help test walks argparse's own parser tree
"""A CLI that fits people and pipelines (issue 14 section 4).

Pipelines (stdout not a terminal) get exactly what they got before: JSON Lines results
and JSON errors. People at a terminal get the refused lines and a summary, a progress
bar that knows the input's size, one readable error line that says what to do. The
terminal is either given to ``main(terminal=True)`` (in-process) or real (a
pseudo-terminal, for the progress bar): never mocked.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import build_parser, main
from ledger.config import LedgerConfig
from tests.cli._terminal import on_a_terminal

ROOT = Path(__file__).resolve().parents[2]


def event(decision_id: str, event_type: str = "gov_decision_created", **fields) -> dict:
    base = {
        "type": event_type,
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-02-19T10:00:00Z",
        "actor": "agent" if event_type == "gov_decision_created" else "system",
        "decision_id": decision_id,
        "gate_type": "ScopeChange",
        "target_ref": f"wp://{decision_id}",
        "automation_level": "HYBRID",
        "decision": "defer",
    }
    return {**base, **fields}


def jsonl(tmp_path: Path, n: int = 20, *, bad: bool = True) -> Path:
    lines = [orjson.dumps(event(f"dec-{i}")) for i in range(n)]
    if bad:
        lines += [lines[0], b"not json", b'{"type": "governance_decision"}']
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


# --- results: JSON Lines for pipelines, refused lines for people -------------------------


def test_a_pipeline_gets_one_json_line_per_input_line_as_before(tmp_path, capsys):
    """
    Issue 14 §4: when stdout is not a terminal the default stays JSON Lines, one result per
    input line, in order, with the summary on stderr.
    """
    status = main(["--store", str(tmp_path / "l.db"), "ingest", str(jsonl(tmp_path))])
    out, err = capsys.readouterr()
    results = [orjson.loads(line) for line in out.splitlines()]
    assert status == 1
    assert [r["line"] for r in results] == list(range(1, 24))
    assert [r["status"] for r in results[-3:]] == ["duplicate", "rejected", "rejected"]
    assert err.splitlines()[-1].startswith("govledger ingest: 23 lines, 20 accepted")


def test_a_terminal_shows_the_refused_lines_readable_and_a_summary(tmp_path, capsys):
    """
    Issue 14 §4: on a terminal, ingest shows the refused lines (one readable line each)
    and a summary, not one JSON line per accepted event.
    """
    status = main(
        ["--store", str(tmp_path / "l.db"), "ingest", str(jsonl(tmp_path))], terminal=True
    )
    out, err = capsys.readouterr()
    assert status == 1
    first, second = out.splitlines()
    assert first.startswith("line 22: rejected invalid_schema: line is not valid JSON: ")
    assert second.startswith("line 23: rejected unknown_event_type (type): ")
    assert "{" not in out
    assert "23 lines, 20 accepted, 1 duplicate, 2 rejected" in err


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize(
    ("option", "shown"),
    [
        (["--results", "all"], 23),
        (["--results", "refused"], 2),
        (["--results", "none"], 0),
        (["--no-results"], 0),
    ],
)
def test_results_chooses_which_lines_are_printed(tmp_path, capsys, terminal, option, shown):
    """
    Issue 14 §4: --results all|refused|none chooses, on a terminal and on a pipe alike;
    --no-results still works, as --results none.
    """
    path = jsonl(tmp_path)
    main(["--store", str(tmp_path / "l.db"), "ingest", *option, str(path)], terminal=terminal)
    out = capsys.readouterr().out
    assert len(out.splitlines()) == shown
    if not terminal:
        assert all(orjson.loads(line)["line"] for line in out.splitlines())


def test_format_chooses_how_results_are_written(tmp_path, capsys):
    """
    -f json on a terminal gives JSON Lines (every line); -f csv a header and rows.
    """
    path = jsonl(tmp_path)
    main(["--store", str(tmp_path / "a.db"), "ingest", "-f", "json", str(path)], terminal=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 23
    assert orjson.loads(lines[0])["status"] == "accepted"
    main(["validate", "-f", "csv", "--results", "refused", str(path)])
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "line,event_id,status,code,field,message"
    assert len(rows) == 3


def test_validate_on_a_terminal_has_a_summary_and_on_a_pipe_does_not(tmp_path, capsys):
    """
    Issue 14 §4: validate shows the refused lines and a summary on a terminal; a pipeline
    gets its JSON Lines and nothing on stderr, as before.
    """
    path = jsonl(tmp_path)
    assert main(["validate", str(path)], terminal=True) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2  # the duplicate is not a duplicate without a store
    assert "govledger validate: 23 lines, 21 accepted, 0 duplicate, 2 rejected" in err
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 23
    assert err == ""


# --- errors ----------------------------------------------------------------------------------


def test_an_error_on_a_terminal_is_one_readable_line_that_says_what_to_do(tmp_path, capsys):
    """
    Issue 14 §4: on a terminal an error is one line: what, which input, what to do; JSON
    when stdout is not a terminal, or with --format json.
    """
    missing = str(tmp_path / "typo.db")
    assert main(["--store", missing, "events"], terminal=True) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("govledger events: no event store at ")
    assert "typo.db" in err
    assert "[store_unavailable" in err
    assert "govledger ingest or demo creates one" in err
    assert "{" not in err
    assert main(["--store", missing, "events", "-f", "json"], terminal=True) == 3
    assert orjson.loads(capsys.readouterr().err)["error"]["code"] == "store_unavailable"
    assert main(["--store", missing, "events"]) == 3
    assert orjson.loads(capsys.readouterr().err)["error"]["code"] == "store_unavailable"
    assert not Path(missing).exists()


def test_a_usage_error_is_one_json_line_for_programs_and_one_line_for_people(capsys):
    """
    Issue 14 §4: a malformed command line is exit 2 with one error line like any other:
    JSON (configuration_error naming the option) for programs, readable for people.
    """
    assert main(["ingest", "--results", "most"]) == 2
    error = orjson.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "configuration_error"
    assert error["field"] == "results"
    assert error["rule"] == "usage"
    assert "invalid choice: 'most'" in error["message"]
    assert main(["ingest", "--results", "most"], terminal=True) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("govledger: argument --results: invalid choice: 'most'")
    assert "see govledger ingest --help" in err
    assert main(["no-such-command"], terminal=True) == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err
    assert main(["replay", "--to", "x.duckdb", "--as-of", "yesterday", "-f", "json"]) == 2
    assert orjson.loads(capsys.readouterr().err)["error"]["field"] == "as_of"


def test_quiet_silences_warnings_but_never_errors(tmp_path, capsys):
    """
    Issue 14 §4: -q silences warnings too (an unsealed store, a self-checked verify);
    errors still print.
    """
    store = str(tmp_path / "l.db")
    path = jsonl(tmp_path, bad=False)
    main(["--store", store, "ingest", str(path)])
    assert "no signing key" in capsys.readouterr().err
    main(["--store", str(tmp_path / "m.db"), "ingest", "-q", str(path)])
    assert capsys.readouterr().err == ""
    assert main(["--store", store, "keygen"]) == 0
    assert main(["--store", store, "seal"]) == 0
    capsys.readouterr()
    assert main(["--store", store, "verify"]) == 0
    assert "checked with the key kept beside the store" in capsys.readouterr().err
    assert main(["--store", store, "verify", "-q"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["--store", str(tmp_path / "none.db"), "-q", "events"]) == 3
    assert "store_unavailable" in capsys.readouterr().err


# --- options -------------------------------------------------------------------------------


def test_global_options_work_after_the_verb_as_before_it(tmp_path, capsys):
    """
    Issue 14 §4: --store, --projection, --policy, -f and -q are accepted after the verb
    (and after a report's name) as well as before it; after wins.
    """
    store, projection = str(tmp_path / "l.db"), str(tmp_path / "p.duckdb")
    assert main(["--store", store, "ingest", "-q", str(jsonl(tmp_path))]) == 1
    capsys.readouterr()
    before = main(["--store", store, "--projection", projection, "-f", "json", "audit", "summary"])
    first = capsys.readouterr().out
    after = main(["audit", "summary", "--store", store, "--projection", projection, "-f", "json"])
    second = capsys.readouterr().out
    middle = main(
        ["audit", "--format", "json", "summary", "--store", store, "--projection", projection]
    )
    third = capsys.readouterr().out
    assert (before, after, middle) == (0, 0, 0)
    assert first == second == third
    assert orjson.loads(first)
    assert (
        main(
            [
                "--store",
                str(tmp_path / "nowhere.db"),
                "audit",
                "summary",
                "--store",
                store,
                "--projection",
                projection,
                "-q",
            ]
        )
        == 0
    )


def test_version_prints_the_installed_version():
    """
    Issue 14 §4: --version.
    """
    done = subprocess.run(
        [sys.executable, "-m", "ledger", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"govledger {metadata.version('govledger')}"


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def test_every_option_has_help_and_every_command_an_example():
    """
    Issue 14 §4: help text for every option (and argument), and an example per verb in
    its --help; short flags for the common options.
    """
    missing_help, missing_example = [], []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction) or action.dest == "help":
                continue
            if not action.help:
                missing_help.append((path, action.dest))
        commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if path and not commands:
            epilog = parser.epilog or ""
            if not re.search(r"^examples?:\n  govledger ", epilog, flags=re.MULTILINE):
                missing_example.append(path)
    assert not missing_help, missing_help
    assert not missing_example, missing_example
    shorts = {s for _, p in _parsers(build_parser()) for a in p._actions for s in a.option_strings}
    assert {"-q", "-f", "-o"} <= shorts


def test_help_of_a_verb_shows_its_example(capsys):
    """
    The example is in the verb's --help as written (not reflowed into one line).
    """
    assert main(["ingest", "--help"]) == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n  govledger ingest events.jsonl\n" in out


# --- progress, on a real terminal ----------------------------------------------------------


def _on_a_terminal(tmp_path: Path, *args: str) -> str:
    """
    ``govledger`` with stdout and stderr on one pseudo-terminal; what the terminal showed.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
    env["PYTHONPATH"] = str(ROOT)
    return on_a_terminal(
        [sys.executable, "-m", "ledger", "--store", str(tmp_path / "t.db"), *args],
        cwd=tmp_path,
        env=env,
        columns=160,
        stdout_too=True,
        timeout=120,
    )


def test_the_progress_bar_knows_the_size_of_a_file_and_warnings_print_above_it(tmp_path):
    """
    Issue 14 §4: the bar shows the input's total size, the percent done, the rate and the
    time left; refused lines and warnings are written above the bar, whole, never into it.
    """
    lines = [orjson.dumps(event(f"dec-{i}")) for i in range(3000)]
    lines.insert(1500, b"not json at all")
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    size = path.stat().st_size
    shown = _on_a_terminal(tmp_path, "ingest", "--batch-size", "100", str(path))
    pieces = [p.strip() for p in re.split(r"[\r\n]", shown) if p.strip()]
    bars = [p for p in pieces if "%|" in p]
    assert bars, shown
    final = bars[-1]
    assert final.startswith("100%|")
    assert f"{size / 1024:.0f}k" in final or f"{size / 1024:.1f}k" in final, final  # total
    assert "B/s" in final  # the rate of the file
    assert "<" in final  # elapsed<remaining
    assert "3,001 events" in final  # every line judged
    assert "events/s" in final
    refused = "line 1501: rejected invalid_schema: line is not valid JSON"
    assert any(p.startswith(refused) and "%|" not in p for p in pieces), pieces
    warning = "govledger ingest: no signing key, the store is not sealed"
    assert any(p.startswith(warning) for p in pieces)
    assert pieces[-1].startswith("govledger ingest: 3001 lines, 3000 accepted")


def test_quiet_keeps_a_terminal_free_of_the_bar_and_the_summary(tmp_path):
    """
    Issue 14 §4: -q: no bar, no summary, no warning; the refused lines still show.
    """
    path = jsonl(tmp_path)
    shown = _on_a_terminal(tmp_path, "ingest", "-q", str(path))
    assert "%|" not in shown
    assert "accepted" not in shown
    assert "no signing key" not in shown
    assert "line 22: rejected invalid_schema" in shown


# --- demo ------------------------------------------------------------------------------------


def test_demo_writes_into_a_new_store_and_says_what_to_run_next(tmp_path, capsys):
    """
    Issue 14 §4: demo into a new store (or one holding only earlier demo data), ending
    with what to run next: status, audit summary, report.
    """
    store = str(tmp_path / "demo.db")
    assert main(["--store", store, "demo", "--work-packets", "2"]) == 0
    out = capsys.readouterr().out
    tail = out.split("\nnext:\n", 1)[1]
    for command in ("status", "audit summary", "report -o report.html"):
        assert f"govledger --store {store} {command}" in tail
    assert main(["--store", store, "demo", "--work-packets", "2", "--seed", "3"]) == 0


def test_demo_refuses_a_store_that_holds_real_data(tmp_path, capsys):
    """
    Issue 14 §4: demo never mixes demo data into a real ledger: a store holding events the
    demo did not write (before it, or after an earlier demo) or API tokens is refused, exit
    2, naming the store and --store as the way out; nothing is written.
    """
    real = str(tmp_path / "real.db")
    assert main(["--store", real, "ingest", "-q", str(jsonl(tmp_path, 3, bad=False))]) == 0
    before = sqlite3.connect(real).execute("SELECT count(*) FROM stored_events").fetchone()
    capsys.readouterr()
    assert main(["--store", real, "demo"]) == 2
    error = orjson.loads(capsys.readouterr().err)["error"]
    assert (error["code"], error["field"], error["rule"]) == (
        "configuration_error",
        "store",
        "not_demo",
    )
    assert real in error["message"]
    assert "--store" in error["message"]
    after = sqlite3.connect(real).execute("SELECT count(*) FROM stored_events").fetchone()
    assert after == before
    # Demo data, then a real event: no more demo.
    mixed = str(tmp_path / "mixed.db")
    assert main(["--store", mixed, "demo", "--work-packets", "1"]) == 0
    with GovernanceLedger(LedgerConfig(store=mixed)) as app:
        app.evaluate_gate("SpecApproval", "WP-real", "AUTONOMOUS", "approve", 0.99, model_id="m")
    capsys.readouterr()
    assert main(["--store", mixed, "demo", "--work-packets", "1"]) == 2
    # A store set up for a server (a token) is real too, even before its first event.
    served = str(tmp_path / "served.db")
    assert (
        main(["--store", served, "token", "add", "orchestrator-1", "--role", "orchestrator"]) == 0
    )
    capsys.readouterr()
    assert main(["--store", served, "demo", "--work-packets", "1"]) == 2
    assert "API token" in capsys.readouterr().err


def test_demo_runs_after_keygen_made_the_store(tmp_path):
    """
    A store keygen made holds nothing yet: it counts as new.
    """
    store = str(tmp_path / "k.db")
    assert main(["--store", store, "keygen"]) == 0
    assert main(["--store", store, "demo", "--work-packets", "1"]) == 0


# --- replay and events ------------------------------------------------------------------------


def test_replay_takes_the_event_time_by_default(tmp_path, capsys):
    """
    Issue 14 §4: replay --as-of uses the events' own time by default (--by commit-time for
    the store's): events ingested today about yesterday are replayed as of yesterday, and
    each decision is folded only up to its last event stamped by then.
    """
    store, projection = str(tmp_path / "l.db"), str(tmp_path / "p.duckdb")
    t0 = datetime(2026, 2, 19, 10, 0, tzinfo=UTC)
    stamp = lambda t: t.isoformat().replace("+00:00", "Z")  # noqa: E731
    early = event("early", timestamp=stamp(t0), decision="defer")
    asked = event(
        "early",
        "gov_human_intervention_requested",
        timestamp=stamp(t0 + timedelta(seconds=1)),
        rationale="Human cell",
    )
    answered = event(
        "early",
        "gov_human_intervention_received",
        timestamp=stamp(t0 + timedelta(hours=5)),
        actor="human",
        user_id="alice",
        decision="approve",
    )
    late = event("late", timestamp=stamp(t0 + timedelta(hours=6)))
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in (early, asked, answered, late)) + b"\n")
    assert main(["--store", store, "ingest", "-q", str(path)]) == 0
    capsys.readouterr()
    then = tmp_path / "then.duckdb"
    as_of = stamp(t0 + timedelta(hours=2))
    assert main(["--store", store, "replay", "--as-of", as_of, "--to", str(then)]) == 0
    assert "2 of the events stored up to position 4" in capsys.readouterr().out
    rows = _query(store, then, "SELECT decision_id, status FROM decisions ORDER BY 1", capsys)
    assert rows == [{"decision_id": "early", "status": "awaiting_human"}]
    by_commit = tmp_path / "commit.duckdb"
    args = ["--store", store, "replay", "--as-of", as_of, "--by", "commit-time"]
    assert main([*args, "--to", str(by_commit)]) == 0
    assert "the store had recorded 0 events" in capsys.readouterr().out
    assert projection  # the live projection is not involved


def _query(store: str, projection: Path, sql: str, capsys) -> list[dict]:
    capsys.readouterr()
    status = main(["--store", store, "--projection", str(projection), "query", sql, "-f", "json"])
    assert status == 0
    return orjson.loads(capsys.readouterr().out)


def test_events_can_show_positions_and_commit_times(tmp_path, capsys):
    """
    Issue 14 §4: events --positions: each line {"position", "recorded_at", "event"}, the
    event exactly the bytes `events` prints; with --decision-id too.
    """
    store = str(tmp_path / "l.db")
    assert main(["--store", store, "ingest", "-q", str(jsonl(tmp_path, 5, bad=False))]) == 0
    capsys.readouterr()
    assert main(["--store", store, "events"]) == 0
    plain = capsys.readouterr().out.splitlines()
    assert main(["--store", store, "events", "--positions"]) == 0
    wrapped = capsys.readouterr().out.splitlines()
    assert len(wrapped) == len(plain) == 5
    with sqlite3.connect(store) as con:
        times = dict(con.execute("SELECT position, recorded_at FROM govledger_commits"))
    for n, (line, raw) in enumerate(zip(wrapped, plain, strict=True), start=1):
        document = orjson.loads(line)
        assert list(document) == ["position", "recorded_at", "event"]
        assert document["position"] == n
        assert document["recorded_at"] == times[max(times)]  # one commit for the batch
        assert line.endswith(',"event":' + raw + "}")
    decision = orjson.loads(plain[2])["decision_id"]
    assert main(["--store", store, "events", "--decision-id", decision, "--positions"]) == 0
    (only,) = capsys.readouterr().out.splitlines()
    assert orjson.loads(only)["position"] == 3
