"""``govledger ingest`` progress and summary (issue 4).

A progress bar with events/s on a terminal only; nothing on a pipe or with
``--quiet``; a final one-line summary (accepted, duplicate, rejected by code,
events/s) on stderr unless ``--quiet``.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import orjson

from ledger.cli import main
from tests.cli._terminal import on_a_terminal

ROOT = Path(__file__).resolve().parents[2]


def _events(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        decision_id = f"dec-progress-{i}"
        out.append(
            orjson.dumps(
                {
                    "type": "gov_decision_created",
                    "event_id": str(uuid.uuid4()),
                    "timestamp": "2026-02-19T10:00:00Z",
                    "actor": "agent",
                    "decision_id": decision_id,
                    "gate_type": "ScopeChange",
                    "target_ref": f"wp://{decision_id}",
                    "automation_level": "HYBRID",
                    "decision": "defer",
                }
            )
        )
    return out


def _input(tmp_path: Path, n: int = 20) -> Path:
    events = _events(n)
    lines = [*events, events[0], b"not json", b'{"type": "governance_decision"}']
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_summary_line_counts_every_outcome_on_stderr(tmp_path, capsys):
    """
    Issue 4: one summary line on stderr with accepted, duplicate, rejected by code and
    events/s; no progress bar, because stderr is not a terminal here.
    """
    status = main(["--store", str(tmp_path / "l.db"), "ingest", str(_input(tmp_path))])
    captured = capsys.readouterr()

    assert status == 1
    summaries = [line for line in captured.err.splitlines() if "events/s" in line]
    assert len(summaries) == 1
    summary = summaries[0]
    assert captured.err.splitlines()[-1] == summary  # the final line
    assert "20 accepted" in summary
    assert "1 duplicate" in summary
    assert "2 rejected (invalid_schema=1, unknown_event_type=1)" in summary
    assert summary.endswith("events/s")
    assert len(captured.out.splitlines()) == 23  # one result per line, still


def test_quiet_prints_nothing_on_stderr(tmp_path, capsys):
    """
    Issue 4: ``--quiet`` suppresses the progress bar and the summary; results still go out.
    (Since issue 14 it silences warnings too, such as an unsealed store.)
    """
    main(["--store", str(tmp_path / "l.db"), "ingest", "--quiet", str(_input(tmp_path))])
    captured = capsys.readouterr()

    assert "events/s" not in captured.err
    assert "accepted" not in captured.err
    assert len(captured.out.splitlines()) == 23


def _run_on_terminal(tmp_path: Path, *extra: str) -> str:
    """
    ``govledger ingest`` with stderr on a pseudo-terminal; what the terminal showed.
    """
    argv = [sys.executable, "-m", "ledger", "--store", str(tmp_path / "l.db"), "ingest"]
    return on_a_terminal(
        [*argv, "--no-results", *extra, str(_input(tmp_path, 2000))],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        columns=100,
        stdout_too=False,
        timeout=60,
    )


def test_a_terminal_gets_a_progress_bar_with_a_rate(tmp_path):
    """
    Issue 4: on a terminal, long ingests draw a progress bar with events/s (then the summary).
    """
    shown = _run_on_terminal(tmp_path)

    frames = [part for part in shown.split("\r") if "events/s" in part and "accepted" not in part]

    assert frames, shown  # the bar, redrawn in place, with a rate
    assert "2000 accepted" in shown.splitlines()[-1]  # then the summary


def test_quiet_keeps_a_terminal_silent(tmp_path):
    """
    Issue 4: ``--quiet`` wins over the terminal: no bar and no summary.
    """
    shown = _run_on_terminal(tmp_path, "--quiet")

    assert "events/s" not in shown
    assert "accepted" not in shown
