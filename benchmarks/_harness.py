"""The one harness every benchmark shares: warm-up, repeats, median, ratio to a raw baseline.

A benchmark hands the harness two callables doing the same work on the same
input: ``subject`` (govledger) and ``raw`` (the baseline without the framework).
Each takes a fresh ``setup()`` value (for example an empty store) that is
prepared outside the timing. The two run alternately (raw, subject, raw,
subject, ...) so that a noisy neighbour on a shared machine hurts both alike;
the harness prints the median events/s of each and the ratio subject/raw.

Nothing here asserts anything about time: benchmarks print figures, people judge them.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Result", "compare", "machine", "record"]

RESULTS = Path(os.environ.get("GOVLEDGER_BENCH_RESULTS", "benchmarks/.results.jsonl"))


@dataclass(frozen=True)
class Result:
    """
    One benchmark's figures.
    """

    name: str
    events: int
    subject_s: list[float]
    raw_s: list[float]

    @property
    def subject_rate(self) -> float:
        return self.events / statistics.median(self.subject_s)

    @property
    def raw_rate(self) -> float:
        return self.events / statistics.median(self.raw_s)

    @property
    def ratio(self) -> float:
        return self.subject_rate / self.raw_rate

    def line(self) -> str:
        return (
            f"{self.name:<8} {self.events:>9,} events  govledger {self.subject_rate:>9,.0f} ev/s  "
            f"raw {self.raw_rate:>9,.0f} ev/s  ratio {self.ratio:.2f}  "
            f"(median of {len(self.subject_s)}; runs {_fmt(self.subject_s)} vs {_fmt(self.raw_s)})"
        )


def _fmt(times: list[float]) -> str:
    return "/".join(f"{t:.2f}s" for t in times)


def _timed(run: Callable[[Any], Any], setup: Callable[[], Any]) -> float:
    prepared = setup()
    gc.collect()
    started = time.perf_counter()
    run(prepared)
    return time.perf_counter() - started


def compare(
    name: str,
    *,
    events: int,
    subject: Callable[[Any], Any],
    raw: Callable[[Any], Any],
    setup: Callable[[], Any],
    warmup: Callable[[], None] | None = None,
    repeats: int = 3,
) -> Result:
    """
    Warm up, then time ``raw`` and ``subject`` alternately ``repeats`` times each.
    """
    if warmup is not None:
        warmup()
    subject_s: list[float] = []
    raw_s: list[float] = []
    for _ in range(repeats):
        raw_s.append(_timed(raw, setup))
        subject_s.append(_timed(subject, setup))
    result = Result(name, events, subject_s, raw_s)
    print(result.line(), flush=True)
    record(name, {"events": events, "events_per_s": round(result.subject_rate),
                  "raw_events_per_s": round(result.raw_rate), "ratio": round(result.ratio, 3),
                  "subject_s": subject_s, "raw_s": raw_s})
    return result


def machine() -> str:
    """
    One line about where the figures came from.
    """
    import sqlite3

    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}"
    )


def record(name: str, figures: dict[str, Any]) -> None:
    """
    Append one benchmark's figures to ``benchmarks/.results.jsonl`` (for the README table).
    """
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("ab") as out:
        out.write(orjson.dumps({"name": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime()), **figures}) + b"\n")
