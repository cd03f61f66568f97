"""Fault tolerance: crashes, and a store that cannot be written.

Issue 5: whatever happens to ``govledger ingest``, an event reported ``accepted``
is stored exactly once, nothing half-written is visible, the store still
verifies, and re-running the same input finishes the work. A store that cannot
be written fails loudly (exit 3, naming the store) and acknowledges nothing.
"""

from __future__ import annotations

import ctypes
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.events import canonical_bytes
from ledger.trust.checkpoint import SigningKey
from ledger.trust.seal import verify
from ledger.validation import normalise
from tests.strategies import valid_event_lines

ROOT = Path(__file__).resolve().parents[2]
EXIT_STORE = 3


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _ingest(store: Path, source: Path, out: Path, env: dict[str, str], **popen) -> subprocess.Popen:
    with out.open("wb") as handle:  # the child keeps its own copy
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ledger",
                "--store",
                str(store),
                "ingest",
                str(source),
                "--quiet",
            ],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.PIPE,
            **popen,
        )


def _wait_for_results(proc: subprocess.Popen, out: Path, lines: int, timeout: float = 120) -> None:
    """
    Return once ``out`` holds at least ``lines`` result lines, or the process ended.
    """
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= lines:
            return
        time.sleep(0.01)


def _results(out: Path) -> list[dict]:
    # Only whole lines were written: a line cut by the kill was never acknowledged.
    data = out.read_bytes()
    return [orjson.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def _stored(store: Path) -> list[bytes]:
    with sqlite3.connect(store) as con:
        return [bytes(r[0]) for r in con.execute("SELECT state FROM stored_events ORDER BY rowid")]


def _check_store(
    store: Path, acknowledged: set[str], key: SigningKey, seen: dict[bytes, str] | None = None
) -> set[str]:
    """Every acknowledged event stored once; every stored event whole and valid; verify passes."""
    seen = {} if seen is None else seen  # events already re-validated by an earlier check
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        index_rows = con.execute("SELECT COUNT(*) FROM govledger_event_index").fetchone()[0]
    states = _stored(store)
    ids = Counter()
    for state in states:
        if state not in seen:
            fr = normalise(orjson.loads(state))
            assert canonical_bytes(fr) == state
            seen[state] = fr["event_id"]
        ids[seen[state]] += 1
    assert [i for i, n in ids.items() if n > 1] == []
    assert index_rows == len(states), "the event_id index and the events commit together"
    assert acknowledged <= set(ids), "an event reported accepted is missing from the store"
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        report = verify(ledger, key.verifier)
    assert report.ok, report.to_json()
    return set(ids)


def test_sigkill_at_20_random_moments_loses_nothing_acknowledged(tmp_path):
    """Issue 5 (crashes): SIGKILL during ingest at 20 random moments; re-runs finish the work."""
    lines = valid_event_lines(40_000, seed=5)
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    store = tmp_path / "ledger.db"
    key = SigningKey.generate("test.invalid/crash")
    key_file = tmp_path / "signing.key"
    key_file.write_text(key.to_text())
    # Small seals and batches, so that kills also land inside a seal and between batches.
    env = _env(
        GOVLEDGER_SIGNING_KEY=str(key_file), GOVLEDGER_SEAL_EVERY="2500", GOVLEDGER_BATCH_SIZE="500"
    )
    rng = random.Random(20)  # noqa: S311 - reproducible kill times
    acknowledged: set[str] = set()
    stored: set[str] = set()
    seen: dict[bytes, str] = {}
    kills = 0
    for run in range(20):
        out = tmp_path / f"run{run}.jsonl"
        proc = _ingest(store, source, out, env)
        # A random moment of the run, by progress rather than by the clock (so a faster
        # machine still kills mid-flight): once a random share of the lines is reported.
        _wait_for_results(proc, out, rng.randint(1, len(lines) - 1))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        kills += proc.returncode == -signal.SIGKILL
        results = _results(out)
        for result in results:
            assert result["status"] in ("accepted", "duplicate"), result
            if result["event_id"] in stored:
                # Re-running the same input: what was already stored comes back as a duplicate.
                assert result["status"] == "duplicate", result
        acknowledged |= {r["event_id"] for r in results if r["status"] == "accepted"}
        stored = _check_store(store, acknowledged, key, seen)
    assert kills >= 15, "most runs must really be killed mid-flight (input too small?)"

    out = tmp_path / "final.jsonl"
    proc = _ingest(store, source, out, env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    results = _results(out)
    assert len(results) == len(lines)
    assert {r["event_id"] for r in results if r["status"] == "duplicate"} == stored
    assert all(r["status"] == "accepted" for r in results if r["event_id"] not in stored)
    final = _check_store(store, acknowledged, key, seen)
    assert len(final) == len(lines)
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        assert verify(ledger, key.verifier).sealed == len(lines)


# --- a store that cannot be written ----------------------------------------------------------


def _without_root_overrides() -> None:
    # The tests may run as root, who ignores file modes: drop the capabilities that do that.
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop = 24
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _seeded_store(tmp_path: Path, events: int = 300) -> tuple[Path, Path, SigningKey]:
    store = tmp_path / "ro" / "ledger.db"
    store.parent.mkdir()
    key = SigningKey.generate("test.invalid/faults")
    key_file = tmp_path / "signing.key"
    key_file.write_text(key.to_text())
    source = tmp_path / "seed.jsonl"
    source.write_bytes(b"\n".join(valid_event_lines(events, seed=1)[:events]) + b"\n")
    proc = _ingest(store, source, tmp_path / "seed.out", _env(GOVLEDGER_SIGNING_KEY=str(key_file)))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return store, key_file, key


@pytest.mark.parametrize("what", ["file", "file and directory"])
def test_a_read_only_store_fails_with_exit_3_naming_it_and_acknowledges_nothing(tmp_path, what):
    """Issue 5: a read-only store: a clear error naming the store, exit 3, nothing accepted."""
    store, key_file, key = _seeded_store(tmp_path)
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        # A few events stored after the last seal, so that sealing has something to write.
        unsealed = valid_event_lines(3, seed=9)[:3]
        assert {r.status for r in ledger.append(orjson.loads(x) for x in unsealed)} == {"accepted"}
    before = _stored(store)
    source = tmp_path / "more.jsonl"
    source.write_bytes(b"\n".join(valid_event_lines(200, seed=2)) + b"\n")
    store.chmod(0o444)
    if what == "file and directory":
        store.parent.chmod(0o555)
    try:
        env = _env(GOVLEDGER_SIGNING_KEY=str(key_file))
        out = tmp_path / "more.out"
        proc = _ingest(store, source, out, env, preexec_fn=_without_root_overrides)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == EXIT_STORE, err
        message = orjson.loads(err.decode().strip().splitlines()[-1])["error"]
        assert message["code"] == "store_unavailable"
        assert str(store) in message["message"]
        assert [r for r in _results(out) if r["status"] == "accepted"] == []

        sealing = subprocess.run(
            [sys.executable, "-m", "ledger", "--store", str(store), "seal"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            preexec_fn=_without_root_overrides,
            check=False,
        )
        assert sealing.returncode == EXIT_STORE, sealing.stderr
        assert str(store).encode() in sealing.stderr

        # Reading still works: an auditor can verify a store they may not write.
        checking = subprocess.run(
            [sys.executable, "-m", "ledger", "--store", str(store), "verify"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            preexec_fn=_without_root_overrides,
            check=False,
        )
        assert checking.returncode == 0, checking.stderr
        assert orjson.loads(checking.stdout)["unsealed"] == 3
    finally:
        store.parent.chmod(0o755)
        store.chmod(0o644)
    assert _stored(store) == before
    _check_store(store, set(), key)


def _file_size_limit(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        # A write past the limit must fail with EFBIG, not kill the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


@pytest.mark.parametrize("headroom", [4096, 64 * 1024, 512 * 1024])
def test_a_full_disk_fails_with_exit_3_and_acknowledges_only_what_was_stored(tmp_path, headroom):
    """Issue 5: a full disk (RLIMIT_FSIZE): exit 3 naming the store; every accepted event stored."""
    store, key_file, key = _seeded_store(tmp_path)
    limit = max(store.stat().st_size, 1) + headroom
    source = tmp_path / "more.jsonl"
    lines = valid_event_lines(6000, seed=3)
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "more.out"
    env = _env(GOVLEDGER_SIGNING_KEY=str(key_file), GOVLEDGER_BATCH_SIZE="250")
    proc = _ingest(store, source, out, env, preexec_fn=_file_size_limit(limit))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_STORE, err
    assert str(store) in err.decode()
    assert b"Traceback" not in err
    results = _results(out)
    assert len(results) < len(lines)
    accepted = {r["event_id"] for r in results if r["status"] == "accepted"}
    stored = _check_store(store, accepted, key)
    seeded = {orjson.loads(x)["event_id"] for x in valid_event_lines(300, seed=1)[:300]}
    assert stored - seeded == accepted, (
        "stored events beyond the seed are exactly the accepted ones"
    )
