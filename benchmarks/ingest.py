"""Bulk ingestion against the raw floor: whole processes on the same input file.

govledger: ``python -m ledger --store DB ingest --quiet --no-results FILE`` in a
fresh process on a fresh SQLite file, default batch of 1,000 events per
transaction, WAL and synchronous=FULL, no signing key; timed as a whole process
(start-up included), with its default ingest worker (``--workers 1``: lines are
parsed and judged alone in a second process) and with ``--workers 0`` (one
process, as the floor).

Raw floor (issue 13): exactly ``../shared/bench/raw_floor.py FILE DB`` in a
fresh process: ``orjson.loads`` each line, one compiled fastjsonschema validator
of the closed 11.5.7 shape (no credential scan), legacy levels normalised, a
per-decision version counter, ``sqlite3`` ``executemany`` of 1,000 events per
transaction into one table with ``UNIQUE(stream_id, version)``, WAL,
synchronous=FULL. Found at ``$GOVLEDGER_RAW_FLOOR``, else ``../shared/bench/``
beside the checkout.

The runs alternate (floor, govledger, govledger --workers 0, floor, ...) and the
medians are compared. ``python -m benchmarks.ingest [--events N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import _harness, _workload

__all__ = ["ingest_govledger", "main", "raw_floor", "workload"]

WORKDIR = Path(tempfile.gettempdir()) / "govledger-bench"
_ROOT = Path(__file__).resolve().parent.parent


def raw_floor() -> Path:
    """
    The issue's raw floor script.
    """
    for candidate in (
        os.environ.get("GOVLEDGER_RAW_FLOOR"),
        _ROOT.parent / "shared" / "bench" / "raw_floor.py",
        Path("/work/shared/bench/raw_floor.py"),
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    msg = "raw_floor.py not found: set GOVLEDGER_RAW_FLOOR to its path"
    raise SystemExit(msg)


def _fresh() -> Path:
    # One directory per process: a benchmark running elsewhere keeps its store.
    target = WORKDIR / f"store-{os.getpid()}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target / "ledger.db"


def workload(events: int) -> Path:
    """
    The generated input file (kept between runs; regenerated if its size changed).
    """
    WORKDIR.mkdir(parents=True, exist_ok=True)
    path = WORKDIR / f"workload-{events}.jsonl"
    _workload.write(path, events)
    return path


def ingest_govledger(source: Path, store: Path) -> int:
    """
    ``govledger ingest --quiet --no-results`` in this process (the CLI's ``main``, with its
    default worker); its exit status. The HTTP benchmark's in-process baseline.
    """
    from ledger.cli import main as main_cli

    return main_cli(["--store", str(store), "ingest", "--quiet", "--no-results", str(source)])


def _run(argv: list[str]) -> float:
    """
    Wall seconds of ``argv`` as a whole process (exit 0, or 1 for refused lines).
    """
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    env = {k: v for k, v in env.items() if k != "GOVLEDGER_SIGNING_KEY"}
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[:4]} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return seconds


def ledger_argv(source: Path, store: Path, workers: int) -> list[str]:
    """
    ``govledger ingest`` as the benchmark runs it.
    """
    return [
        sys.executable,
        "-m",
        "ledger",
        "--store",
        str(store),
        "ingest",
        "--quiet",
        "--no-results",
        "--workers",
        str(workers),
        str(source),
    ]


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    source = workload(args.events)
    floor = raw_floor()
    subjects = {
        "raw floor": lambda store: [sys.executable, str(floor), str(source), str(store)],
        "govledger --workers 1": lambda store: ledger_argv(source, store, 1),
        "govledger --workers 0": lambda store: ledger_argv(source, store, 0),
    }
    times: dict[str, list[float]] = {name: [] for name in subjects}
    load = os.getloadavg()
    small = workload(5_000)
    _run([sys.executable, str(floor), str(small), str(_fresh())])  # warm the page cache
    _run(ledger_argv(small, _fresh(), 1))
    for _ in range(args.repeats):
        for name, make in subjects.items():
            times[name].append(_run(make(_fresh())))
    floor_s = statistics.median(times["raw floor"])
    ratios: dict[str, float] = {}
    for name, runs in times.items():
        median = statistics.median(runs)
        ratios[name] = floor_s / median
        per = median / args.events * 1e6
        runs_text = "/".join(f"{t:.2f}" for t in runs)
        print(
            f"ingest   {args.events:>9,} events  {name:<22} {args.events / median:>8,.0f} ev/s "
            f"{per:6.1f} us/event  ratio {ratios[name]:.2f}  (runs {runs_text} s)",
            flush=True,
        )
    print(
        f"ingest   load average before/after: {load[0]:.2f} / {os.getloadavg()[0]:.2f}", flush=True
    )
    _harness.record(
        "ingest",
        {
            "events": args.events,
            "load": round(load[0], 2),
            **{f"{name} s": runs for name, runs in times.items()},
            **{f"{name} ratio": round(r, 3) for name, r in ratios.items()},
        },
    )
    return ratios


if __name__ == "__main__":
    main()
