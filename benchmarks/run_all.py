"""Run every benchmark once, in order, and print their figures.

``python -m benchmarks`` (or ``python -m benchmarks.run_all``). Each benchmark
also appends its figures to ``benchmarks/.results.jsonl``; the README's table is
copied from that output by hand, with the machine line printed first.

Options are passed through: ``--quick`` runs smaller sizes (for a smoke check,
not for the README).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

from benchmarks import _harness, command, guard, http, ingest, memory

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    args = parser.parse_args(argv)
    print(f"machine: {_harness.machine()}", flush=True)
    if args.quick:
        ingest.main(["--events", "20000", "--repeats", "1"])
        command.main(["--decisions", "200", "--repeats", "1"])
        memory.main(["--events", "100000"])
        guard.main(["--events", "5000", "--repeats", "1"])
        http.main(["--events", "20000", "--repeats", "1", "--calls", "200"])
    else:
        ingest.main([])
        command.main([])
        memory.main([])
        guard.main([])
        http.main([])
    # The read side's projection benchmark, once it has landed (issue 3).
    if importlib.util.find_spec("benchmarks.project") is not None:
        project = importlib.import_module("benchmarks.project")
        project.main(["--events", "20000" if args.quick else "200000"])


if __name__ == "__main__":
    main()
