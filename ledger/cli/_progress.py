"""A progress bar with events/s for long ingests, only on a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

__all__ = ["progress"]

T = TypeVar("T")


def progress(items: Iterator[T], *, enabled: bool) -> Iterator[T]:
    """
    ``items`` unchanged; draws a tqdm bar on stderr when ``enabled``.
    """
    if not enabled:
        yield from items
        return
    from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: PLC0415 - terminals only

    with tqdm(unit=" events", unit_scale=True, mininterval=0.5, smoothing=0.1) as bar:
        for item in items:
            bar.update(1)
            yield item
