"""Ingestion with a worker process: the same results, rules and durability as in one process.

Issue 13 ("both cores"): lines are parsed and judged alone (shape, bounds, the credential
guard) in a second process while the ingesting process judges events against their
decisions and stores them, one writer, in input order. Nothing about the outcome may
differ: every per-line result, every stored byte, every refusal journal row; a SIGKILL
loses nothing acknowledged and leaves nothing half-written; a worker that dies costs
nothing but time.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.ingest import ingest_lines
from ledger.trust.checkpoint import SigningKey
from ledger.trust.seal import verify
from tests.integration.test_faults import _check_store, _env, _results, _wait_for_results
from tests.strategies import byte_mutations, valid_event_lines

ROOT = Path(__file__).resolve().parents[2]


def _mixed_lines(count: int, seed: int) -> list[bytes | str]:
    """
    Valid lifecycles with hostile lines, changed and identical re-sends, and text lines.
    """
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix
    good = valid_event_lines(count, seed=seed)
    bad = byte_mutations(seed, count // 10)
    lines: list[bytes | str] = []
    for line in good:
        lines.append(line)
        roll = rng.random()
        if roll < 0.1:
            lines.append(bad[rng.randrange(len(bad))])
        elif roll < 0.13:
            lines.append(rng.choice(good))  # a re-send: duplicate, or a sequence violation
        elif roll < 0.15:
            lines.append(line.decode("utf-8", "surrogatepass"))  # the same line as text
    return lines


def _outcome(
    ledger: GovernanceLedger, lines: list[bytes | str], workers: int, *, read_ahead: bool = False
) -> tuple:
    results = list(
        ingest_lines(ledger, lines, batch_size=97, workers=workers, read_ahead=read_ahead)
    )
    stored = [state for _, state in ledger.stored_events(limit=100_000)]
    journal = [record._replace(refused_at="") for _, record in ledger.refusals(limit=100_000)]
    return results, stored, journal


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_a_worker_process_changes_no_result_no_stored_byte_and_no_journal_row(
    store_config, tmp_path, workers
):
    """
    Issue 13: results in input order, every rule, the per-line results and the refusal
    journal exactly as when every line is judged in one process, batch after batch (many
    batches, hostile lines, re-sends across batches, text and bytes lines), on either
    store; with 0 workers, only the next batch is judged while one commits.
    """
    lines = _mixed_lines(1500, seed=13 + workers)
    with GovernanceLedger(LedgerConfig(store=str(tmp_path / "alone.db"))) as ledger:
        alone = _outcome(ledger, lines, workers=0)
    with GovernanceLedger(store_config) as ledger:
        pooled = _outcome(ledger, lines, workers=workers, read_ahead=True)
    assert len(alone[0]) == len(lines)
    assert {r.status for r in alone[0]} == {"accepted", "rejected", "duplicate"}
    assert pooled == alone


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")  # a zombie has ended: only its exit status is left


def _ingest(store: Path, source: Path, out: Path, env: dict[str, str]) -> subprocess.Popen:
    with out.open("wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "ledger", "--store", str(store), "ingest", str(source),
             "--quiet", "--workers", "1"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.PIPE,
        )  # fmt: skip


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc for the worker")
def test_sigkill_of_the_multi_process_pipeline_loses_nothing_acknowledged(tmp_path):
    """
    Issue 13 (rules of the work): SIGKILL of ``govledger ingest --workers 1`` at random
    moments (by progress, not by the clock): every acknowledged event is stored once,
    nothing is half-written, the store verifies, the worker does not outlive its parent,
    and a re-run finishes the work.
    """
    lines = valid_event_lines(30_000, seed=7)
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "ledger.db"
    key = SigningKey.generate("test.invalid/workers")
    key_file = tmp_path / "signing.key"
    key_file.write_text(key.to_text())
    env = _env(
        GOVLEDGER_SIGNING_KEY=str(key_file), GOVLEDGER_SEAL_EVERY="2500", GOVLEDGER_BATCH_SIZE="500"
    )
    rng = random.Random(13)  # noqa: S311 - reproducible kill points
    acknowledged: set[str] = set()
    seen: dict[bytes, str] = {}
    kills = had_worker = 0
    for run in range(8):
        out = tmp_path / f"run{run}.jsonl"
        proc = _ingest(store, source, out, env)
        _wait_for_results(proc, out, rng.randint(600, len(lines) - 3000))
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills += proc.returncode == -signal.SIGKILL
        had_worker += bool(workers)
        deadline = time.monotonic() + 30
        while not all(_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in workers), "the worker outlived the killed ingest"
        results = _results(out)
        assert all(r["status"] in ("accepted", "duplicate") for r in results)
        acknowledged |= {r["event_id"] for r in results if r["status"] == "accepted"}
        _check_store(store, acknowledged, key, seen)
    assert kills >= 6, "most runs must really be killed mid-flight (input too small?)"
    assert had_worker >= 6, "most runs were killed while their worker process was running"

    out = tmp_path / "final.jsonl"
    proc = _ingest(store, source, out, env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert len(_results(out)) == len(lines)
    assert len(_check_store(store, acknowledged, key, seen)) == len(lines)
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        assert verify(ledger, key.verifier).sealed == len(lines)


def test_a_worker_that_dies_costs_nothing_but_time(tmp_path):
    """
    Issue 13: if the worker process is killed mid-run, the ingesting process judges the
    remaining lines itself: every line gets its result, every valid event is stored.
    """
    lines = valid_event_lines(20_000, seed=3)
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "ledger.db"
    out = tmp_path / "out.jsonl"
    proc = _ingest(store, source, out, {**_env(), "GOVLEDGER_BATCH_SIZE": "250"})
    _wait_for_results(proc, out, 1000)
    workers = _children(proc.pid)
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert workers, "the ingest had a worker process"
    results = _results(out)
    assert [r["line"] for r in results] == list(range(1, len(lines) + 1))
    assert all(r["status"] == "accepted" for r in results)
    with sqlite3.connect(store) as con:
        assert con.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0] == len(lines)
    assert {r["event_id"] for r in results} == {orjson.loads(line)["event_id"] for line in lines}


def test_ctrl_c_during_a_file_ingest_with_a_worker_exits_130_without_a_traceback(tmp_path):
    """
    Issue 13 with issue 11 item 7: Ctrl-C (SIGINT to the process group, as a terminal
    sends it) while a worker judges ahead: exit 130, one note, no traceback from either
    process, and every line reported accepted is stored.
    """
    lines = valid_event_lines(20_000, seed=11)
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "ledger.db"
    out = tmp_path / "out.jsonl"
    with out.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "--store", str(store), "ingest", str(source),
             "--quiet", "--workers", "1", "--batch-size", "250"],
            cwd=ROOT, env=_env(), stdout=handle, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
    _wait_for_results(proc, out, 1000)
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "interrupted" in text.strip().splitlines()[-1]
    assert workers, "the ingest had a worker process"
    assert all(_gone(pid) for pid in workers) or _wait_gone(workers)
    accepted = {r["event_id"] for r in _results(out) if r["status"] == "accepted"}
    with sqlite3.connect(store) as con:
        stored = {
            orjson.loads(r[0])["event_id"] for r in con.execute("SELECT state FROM stored_events")
        }
    assert accepted <= stored


def _wait_gone(pids: set[int]) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_stopping_early_leaves_the_decisions_as_the_store_has_them(store_config):
    """
    Issue 13 (nothing acknowledged before its commit, nothing half-remembered): a caller
    that stops reading ``append_batches`` after the first batch has had the second judged
    ahead but never written; the ledger then judges those events afresh, as not stored.
    """
    from tests.integration.test_ingest_batches import auto_approved

    lifecycle = auto_approved("dec-stop-early")
    first, second = lifecycle[:1], lifecycle[1:]
    with GovernanceLedger(store_config) as ledger:
        stream = ledger.append_batches(iter([(first, [None]), (second, [None] * len(second))]))
        assert [r.status for r in next(stream)] == ["accepted"]
        stream.close()  # the second batch was judged ahead, never written
        assert ledger.max_position() == 1
        again = ledger.append(second)
        assert [r.status for r in again] == ["accepted"] * len(second)
        assert ledger.max_position() == 1 + len(second)
