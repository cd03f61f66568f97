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
from benchmarks.ingest import _fresh, ledger_argv, workload

__all__ = ["main", "peak_rss_mib"]

GOAL_MIB = 300
_ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(argv: list[str]) -> tuple[float, float, float]:
    """
    (peak RSS in MiB of the largest process, peak RSS in MiB of the whole process tree,
    seconds) of ``argv`` run alone in a fresh subprocess.

    A wrapper process runs it and reports its child's ``ru_maxrss`` (the largest single
    process among its waited-for descendants, so earlier children of this process cannot
    inflate it), and samples the proportional set size (PSS: a page shared by a forked
    worker and its parent counts half in each) of the process and all its descendants
    (the ingest worker) every 20 ms from ``/proc``: their sum is the memory the whole
    ingest holds.
    """
    probe = (
        "import os, resource, subprocess, sys, time\n"
        "def tree(pid):\n"
        "    found = [pid]\n"
        "    for p in found:\n"
        "        try:\n"
        "            for task in os.listdir(f'/proc/{p}/task'):\n"
        "                kids = open(f'/proc/{p}/task/{task}/children').read()\n"
        "                found += [int(c) for c in kids.split()]\n"
        "        except OSError:\n"
        "            pass\n"
        "    return found\n"
        "def rss(pid):\n"
        "    try:\n"
        "        for line in open(f'/proc/{pid}/smaps_rollup'):\n"
        "            if line.startswith('Pss:'):\n"
        "                return int(line.split()[1])\n"
        "    except OSError:\n"
        "        pass\n"
        "    return 0\n"
        "t = time.perf_counter()\n"
        "proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "peak = 0\n"
        "while proc.poll() is None:\n"
        "    peak = max(peak, sum(rss(p) for p in tree(proc.pid)))\n"
        "    time.sleep(0.02)\n"
        "assert proc.returncode in (0, 1), proc.returncode  # 1: refused lines, as wanted\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, peak,\n"
        "      time.perf_counter() - t)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        check=True,
        capture_output=True,
        text=True,
        cwd=_ROOT,
        env=env,
    ).stdout.split()
    return int(out[0]) / 1024, int(out[1]) / 1024, float(out[2])


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=1, help="govledger ingest --workers")
    args = parser.parse_args(argv)
    source = workload(args.events)
    store = _fresh()
    floor, _, _ = peak_rss_mib(
        [
            sys.executable,
            "-c",
            (
                "import orjson, sys\n"
                "for line in open(sys.argv[1], 'rb'):\n"
                "    try: orjson.loads(line)\n"
                "    except orjson.JSONDecodeError: pass\n"
            ),
            str(source),
        ]
    )
    peak, tree, seconds = peak_rss_mib(ledger_argv(source, store, args.workers))
    verdict = "under" if max(peak, tree) < GOAL_MIB else "OVER"
    print(
        f"memory   {args.events:>9,} events  peak RSS {peak:,.0f} MiB (largest process), "
        f"{tree:,.0f} MiB PSS of ingest + its worker (sampled) ({verdict} the {GOAL_MIB} MiB goal; "
        f"parse-only floor {floor:,.0f} MiB)  {args.events / seconds:,.0f} ev/s end to end",
        flush=True,
    )
    _harness.record(
        "memory",
        {
            "events": args.events,
            "workers": args.workers,
            "peak_rss_mib": round(peak, 1),
            "tree_rss_mib": round(tree, 1),
            "floor_rss_mib": round(floor, 1),
            "seconds": round(seconds, 1),
        },
    )
    return max(peak, tree)


if __name__ == "__main__":
    main()
