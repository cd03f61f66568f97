"""Streaming memory: peak RSS of ingesting 2,000,000 events from a file.

The events are generated to a file first (``benchmarks._workload``, reused
between runs); then ``python -m ledger ingest --quiet --no-results FILE`` runs in
a subprocess on a fresh SQLite store, and its peak RSS is read from the kernel
(``getrusage(RUSAGE_CHILDREN).ru_maxrss``). Goal: under 300 MiB.

For scale, the same is measured for a process that only reads and parses the
file (the raw baseline's memory floor), and events/s of the whole ingest are
printed. Only one run: it takes minutes.

``python -m benchmarks.memory [--events N]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import _harness
from benchmarks.ingest import _fresh, workload

__all__ = ["main", "peak_rss_mib"]

GOAL_MIB = 300
_ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(argv: list[str]) -> tuple[float, float]:
    """
    (peak RSS in MiB, seconds) of ``argv`` run alone in a fresh subprocess.

    A wrapper process runs it and reports its child's ``ru_maxrss``, so that
    earlier children of this process cannot inflate the figure.
    """
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "assert code in (0, 1), code  # 1: some lines were refused, as the workload wants\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv], check=True, capture_output=True, text=True,
        cwd=_ROOT, env=env,
    ).stdout.split()
    return int(out[0]) / 1024, float(out[1])


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    source = workload(args.events)
    store = _fresh()
    floor, _ = peak_rss_mib(
        [sys.executable, "-c",
         ("import orjson, sys\n"
         "for line in open(sys.argv[1], 'rb'):\n"
         "    try: orjson.loads(line)\n"
         "    except orjson.JSONDecodeError: pass\n"), str(source)]
    )
    peak, seconds = peak_rss_mib(
        [sys.executable, "-m", "ledger", "--store", str(store), "ingest", "--quiet",
         "--no-results", str(source)]
    )
    verdict = "under" if peak < GOAL_MIB else "OVER"
    print(
        f"memory   {args.events:>9,} events  peak RSS {peak:,.0f} MiB ({verdict} the "
        f"{GOAL_MIB} MiB goal; parse-only floor {floor:,.0f} MiB)  "
        f"{args.events / seconds:,.0f} ev/s end to end",
        flush=True,
    )
    _harness.record("memory", {"events": args.events, "peak_rss_mib": round(peak, 1),
                               "floor_rss_mib": round(floor, 1), "seconds": round(seconds, 1)})
    return peak


if __name__ == "__main__":
    main()
