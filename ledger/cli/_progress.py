"""A progress bar for long ingests, only on a terminal: size, percent, rate and ETA.

When the input is a file of known size the bar counts its bytes (total, percent,
MB/s, time left) and names the events judged and their rate; on a pipe it counts
events. While the bar is drawn, every line for people (warnings, refused lines)
is written above it (``tqdm.write``), never into it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeVar

from ledger.cli import output

__all__ = ["progress"]

T = TypeVar("T")

#: Seconds between redraws: a terminal needs no more, and each costs a little.
_EVERY: Final = 0.5


def progress(
    items: Iterator[T],
    *,
    enabled: bool,
    total: int | None = None,
    done: Callable[[], int] | None = None,
) -> Iterator[T]:
    """
    ``items`` unchanged; draws a tqdm bar on stderr when ``enabled``.

    ``total`` and ``done``: the input's size in bytes and how many were read so far
    (a file); without them the bar counts items.
    """
    if not enabled:
        yield from items
        return
    from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: PLC0415 - terminals only

    def write(text: str, stream: Any) -> None:
        tqdm.write(text, file=stream)

    if total is None or done is None:
        with (
            tqdm(unit=" events", unit_scale=True, mininterval=_EVERY, smoothing=0.1) as bar,
            output.above(write),
        ):
            for item in items:
                bar.update(1)
                yield item
        return
    bar_format = (
        "{percentage:3.0f}%|{bar}| {n_fmt}B/{total_fmt}B "
        "[{elapsed}<{remaining}, {rate_fmt}{postfix}]"
    )
    started = time.monotonic()
    count = 0
    with (
        tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            mininterval=_EVERY,
            smoothing=0.1,
            bar_format=bar_format,
        ) as bar,
        output.above(write),
    ):
        due = started
        for item in items:
            count += 1
            now = time.monotonic()
            if now >= due:
                rate = count / max(now - started, 1e-9)
                bar.set_postfix_str(f"{count:,} events, {rate:,.0f} events/s", refresh=False)
                bar.update(min(done(), total) - bar.n)
                due = now + _EVERY
            yield item
        rate = count / max(time.monotonic() - started, 1e-9)
        bar.set_postfix_str(f"{count:,} events, {rate:,.0f} events/s", refresh=False)
        bar.update(total - bar.n)
