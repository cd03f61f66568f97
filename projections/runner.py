"""Catch-up, rebuild, as-of replay and follow: moving the projection along the store.

The SQLite store has no push notifications, so catch-up pulls the notification
log in batches (``GovernanceLedger.stored_events``). Each batch's rows and the
position it reached commit in one DuckDB transaction, so a projector stopped at
any point, ``kill -9`` included, resumes from its position with no row lost or
doubled. Each batch is checked against the signed checkpoints before it is
folded (``projections._evidence``): a forged event stops the catch-up with
``tamper_detected`` and nothing of its batch is written.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from ledger import _time
from ledger.policy import GatePolicy
from ledger.stores import EventStore
from projections import _duckdb
from projections._errors import ProjectionBusyError, ProjectionError
from projections._evidence import Evidence, Verified
from projections.views import Carried, fold, refusals_table

if TYPE_CHECKING:
    import duckdb

    from ledger.trust import VerifierKey

__all__ = [
    "DEFAULT_BATCH",
    "CatchUp",
    "NotificationLog",
    "Replay",
    "Wakeups",
    "catch_up",
    "follow",
    "rebuild",
    "replay_as_of",
]

#: Events per DuckDB transaction: large enough that Arrow inserts dominate, small enough
#: that a stopped projector redoes little.
DEFAULT_BATCH: Final = 10_000


class NotificationLog(Protocol):
    """
    What the read side needs from the ledger (``GovernanceLedger`` provides it).

    The read side depends on this shape, not on the write side's application.
    """

    @property
    def store(self) -> EventStore: ...

    def stored_events(
        self, *, start: int = 1, limit: int = 1000, stop: int | None = None
    ) -> Iterator[tuple[int, bytes]]: ...

    def position_at(self, moment: datetime) -> int: ...

    def creation_policies(self, start: int, stop: int) -> Callable[[int], GatePolicy]: ...

    def refusals(self, *, start: int = 1, limit: int = 1000) -> list[tuple[int, Any]]: ...

    def max_position(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CatchUp:
    """
    What one catch-up did: positions before and after, and the events it applied.
    """

    start: int
    end: int
    events: int


@dataclass(frozen=True, slots=True)
class Replay:
    """
    The cut of an as-of replay: the moment, the last position at it, the events projected.
    """

    as_of: datetime
    position: int
    events: int


def _never() -> bool:
    return False


def _batches(
    ledger: NotificationLog, start: int, stop: int, size: int
) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for item in ledger.stored_events(start=start, limit=size, stop=stop):
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _recorded(store: EventStore, batch: Sequence[tuple[int, bytes]]) -> list[str | None]:
    """
    When the store committed each event of ``batch`` (its commit's ``recorded_at``).
    """
    times = store.commit_times(batch[0][0], batch[-1][0])
    out: list[str | None] = []
    i = 0
    for position, _ in batch:
        while i < len(times) and times[i][0] < position:
            i += 1
        out.append(times[i][1] if i < len(times) else None)
    return out


def catch_up(  # noqa: C901 - one loop; the checks around it are each one line
    ledger: NotificationLog,
    con: duckdb.DuckDBPyConnection,
    *,
    batch_size: int = DEFAULT_BATCH,
    stop: int | None = None,
    should_stop: Callable[[], bool] = _never,
    allow_cut: bool = False,
    refused_until: str | None = None,
    key: VerifierKey | None = None,
    label: str = "the event store",
) -> CatchUp:
    """
    Apply every stored event after the projection's position (up to ``stop``, inclusive),
    and every refusal in the journal (up to ``refused_until``, a UTC time text).

    ``should_stop`` is asked between batches, so a follower exits on a committed batch.
    Every event is checked against the signed checkpoints (by ``key``; without one, the
    roots only) before its batch is written; see ``projections._evidence``.
    """
    if not allow_cut and _duckdb.cut(con) is not None:
        raise ProjectionError(
            "this projection is an as-of replay (see its replay_cut table); it is frozen at "
            "its cut and is not caught up",
            rule="replay",
        )
    # The checkpoints first, then the last position: every checkpoint read is then within it.
    evidence = Evidence(ledger, key, Verified.from_meta(_duckdb.read_meta(con)), label)
    start = _duckdb.position(con)
    target = ledger.max_position() if stop is None else stop
    # The refusal journal first: it is small, and each page commits with its position.
    _catch_up_refusals(ledger, con, batch_size, refused_until)
    end, applied = start, 0
    if evidence.active and start > evidence.verified.position:
        _seal_projected(ledger, con, evidence, start, batch_size)
    if target <= start:
        if stop is None:
            evidence.finish()
        return CatchUp(start, start, 0)

    # The rows the previous batch wrote: most decisions a batch continues were created in
    # the batch just before, and this process is the file's only writer while it runs.
    recent: dict[str, Carried] = {}
    # Reads go through their own connection: they see committed batches only, while the
    # writer thread may hold ``con`` in the middle of the previous batch's transaction.
    reader = con.cursor()

    def load(ids: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {i: recent[i] for i in ids if i in recent}
        missing = [i for i in ids if i not in found]
        if missing:
            found.update(_duckdb.load_decisions(reader, missing))
        return found

    writer = _Writer(con)
    stopped = False
    try:
        for batch in _batches(ledger, start + 1, target, batch_size):
            sealed = evidence.check(batch)
            written: dict[str, Carried] = {}
            tables = fold(
                batch,
                load,
                written,
                ledger.creation_policies(batch[0][0], batch[-1][0]),
                sealed=sealed,
                recorded=_recorded(ledger.store, batch),
            )
            done = writer.submit(tables, batch[-1][0], len(batch), evidence.verified.to_meta())
            if done is not None:
                end, applied = done[0], applied + done[1]
            recent = written
            if should_stop():
                stopped = True
                break
    finally:
        # Whatever happens, the batch in flight commits or rolls back as a whole.
        done = writer.wait()
        reader.close()
    if done is not None:
        end, applied = done[0], applied + done[1]
    if stop is None and not stopped:
        evidence.finish()
    return CatchUp(start, end, applied)


def _catch_up_refusals(
    ledger: NotificationLog, con: duckdb.DuckDBPyConnection, limit: int, until: str | None
) -> None:
    """
    Project the refusal journal after its tracked position, a page per transaction.
    """
    while True:
        after = _duckdb.position(con, _duckdb.REFUSALS_SOURCE)
        page = ledger.refusals(start=after + 1, limit=limit)
        if until is not None:
            page = [(n, record) for n, record in page if record.refused_at <= until]
        if not page:
            return
        with _duckdb.transaction(con):
            _duckdb.write_tables(con, {"refusals": refusals_table(page)})
            _duckdb.record_position(con, page[-1][0], _duckdb.REFUSALS_SOURCE)


def _seal_projected(
    ledger: NotificationLog,
    con: duckdb.DuckDBPyConnection,
    evidence: Evidence,
    projected: int,
    batch_size: int,
) -> None:
    """
    Check the events projected before a checkpoint covered them, and mark them sealed.
    """
    first = evidence.verified.position + 1
    for batch in _batches(ledger, first, projected, batch_size):
        evidence.check(batch)
    with _duckdb.transaction(con):
        con.execute(
            "UPDATE events SET sealed = true WHERE position >= ? AND position <= ? AND NOT sealed",
            [first, evidence.verified.position],
        )
        _duckdb.write_meta(con, evidence.verified.to_meta())


class _Writer:
    """
    Writes one batch (its rows and its position, one transaction) in a second thread.

    DuckDB releases the GIL while it inserts and commits, so the next batch is read
    and folded meanwhile. Batches still commit one at a time and in order: ``submit``
    first waits for the batch before.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._pending: tuple[int, int] | None = None

    def _write(self, tables: dict[str, Any], position: int, meta: dict[str, str]) -> None:
        try:
            with _duckdb.transaction(self._con):
                _duckdb.write_tables(self._con, tables)
                _duckdb.record_position(self._con, position)
                _duckdb.write_meta(self._con, meta)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self._error = exc

    def wait(self) -> tuple[int, int] | None:
        """
        Wait for the batch in flight; (position, events) once committed, None if none.
        """
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        done, self._pending = self._pending, None
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return done

    def submit(
        self, tables: dict[str, Any], position: int, events: int, meta: dict[str, str]
    ) -> tuple[int, int] | None:
        """
        Start writing a batch after the previous one committed (returned as by ``wait``).
        """
        done = self.wait()
        self._pending = (position, events)
        self._thread = threading.Thread(
            target=self._write,
            args=(tables, position, meta),
            name="govledger-project",
            daemon=True,
        )
        self._thread.start()
        return done


def rebuild(
    ledger: NotificationLog,
    con: duckdb.DuckDBPyConnection,
    *,
    batch_size: int = DEFAULT_BATCH,
    stop: int | None = None,
    refused_until: str | None = None,
    key: VerifierKey | None = None,
    label: str = "the event store",
) -> CatchUp:
    """
    Drop every projection table and replay the store from its first event.

    The file is bound to the ledger's store anew (``projection_meta``).
    """
    _duckdb.drop_tables(con)
    _duckdb.create_tables(con, ledger.store.meta)
    return catch_up(
        ledger,
        con,
        batch_size=batch_size,
        stop=stop,
        refused_until=refused_until,
        key=key,
        label=label,
    )


def replay_as_of(
    ledger: NotificationLog,
    path: str | Path,
    moment: datetime,
    *,
    batch_size: int = DEFAULT_BATCH,
    key: VerifierKey | None = None,
    label: str = "the event store",
) -> Replay:
    """
    Build ``path`` from the events the store had recorded at ``moment`` (by store order).

    The cut is the last position whose ``recorded_at`` (commit time) is at or before
    ``moment``; the file records it in ``replay_cut`` and is never caught up afterwards.
    It is built in a temporary file beside ``path`` and renamed over it when complete,
    so a crash leaves the old file or the new one; a ``path`` that exists and is not a
    govledger projection is refused and left unchanged.
    """
    target = Path(path)
    kind, _ = _duckdb.inspect(target)
    if kind == "foreign":
        msg = (
            f"{target} is not a govledger projection (it has other tables); it was left "
            "unchanged: give another --to"
        )
        raise ProjectionError(msg, field="to", rule="foreign")
    at = ledger.position_at(moment)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    temporary.unlink()  # DuckDB makes the file itself
    try:
        con = _duckdb.connect(temporary, store=ledger.store.meta)
        try:
            done = catch_up(
                ledger,
                con,
                batch_size=batch_size,
                stop=at,
                refused_until=_time.utc_text(moment),
                key=key,
                label=label,
            )
            _duckdb.record_cut(con, _time.utc_text(moment), at, done.events)
        finally:
            con.close()
        # A write-ahead log left by the replaced file must not be replayed onto the new one.
        Path(f"{target}.wal").unlink(missing_ok=True)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
        Path(f"{temporary}.wal").unlink(missing_ok=True)
    return Replay(moment, at, done.events)


class Wakeups:
    """
    Wakes a follower when new events may exist: at once on a store that pushes, else by polling.

    A store that pushes (PostgreSQL's LISTEN/NOTIFY) wakes the follower as soon as
    something is committed; the SQLite store cannot, so the follower polls
    every ``interval`` seconds. Either way the follower then pulls the log itself, so
    both paths project through exactly the same code.
    """

    def __init__(self, ledger: NotificationLog, after: int) -> None:
        self._event = threading.Event()
        self._subscription: Any = None
        if not ledger.store.pushes:
            return
        self._subscription = ledger.store.subscribe(gt=after)
        threading.Thread(target=self._listen, name="govledger-follow", daemon=True).start()

    @property
    def pushed(self) -> bool:
        """
        Whether the store pushes (a subscription is open) rather than being polled.
        """
        return self._subscription is not None

    def _listen(self) -> None:
        try:
            for _ in self._subscription:
                self._event.set()
        except Exception:  # noqa: BLE001 - a lost subscription degrades to polling
            self._subscription = None

    def wait(self, interval: float) -> None:
        """
        Sleep until a push arrives or ``interval`` seconds pass.
        """
        self._event.wait(interval)
        self._event.clear()

    def wake(self) -> None:
        """
        End the current wait (used on SIGTERM/SIGINT).
        """
        self._event.set()

    def close(self) -> None:
        """
        Stop the subscription, if any.
        """
        if self._subscription is not None:
            self._subscription.stop()
            self._subscription = None


def follow(
    ledger: NotificationLog,
    open_projection: Callable[[], duckdb.DuckDBPyConnection],
    *,
    interval: float = 0.5,
    batch_size: int = DEFAULT_BATCH,
    should_stop: Callable[[], bool] = _never,
    on_progress: Callable[[CatchUp], None] = lambda _: None,
    wakeups: Wakeups | None = None,
    key: VerifierKey | None = None,
    label: str = "the event store",
) -> int:
    """
    Keep catching up until ``should_stop()``; return the number of events applied.

    The projection file is opened only while there is something to apply, so
    readers (``audit``, ``query``, ``export``) can open it between rounds.
    """
    con = open_projection()
    try:
        known = _duckdb.position(con)
        first = catch_up(
            ledger, con, batch_size=batch_size, should_stop=should_stop, key=key, label=label
        )
    finally:
        con.close()
    total = first.events
    known = max(known, first.end)
    if first.events:
        on_progress(first)
    owned = wakeups is None
    wakeups = wakeups or Wakeups(ledger, known)
    try:
        while not should_stop():
            if ledger.max_position() > known:
                try:
                    con = open_projection()
                except ProjectionBusyError:
                    # A reader holds the file (DuckDB: one writer or many readers); next round.
                    wakeups.wait(interval)
                    continue
                try:
                    done = catch_up(
                        ledger,
                        con,
                        batch_size=batch_size,
                        should_stop=should_stop,
                        key=key,
                        label=label,
                    )
                finally:
                    con.close()
                known = max(known, done.end)
                total += done.events
                if done.events:
                    on_progress(done)
                continue
            wakeups.wait(interval)
    finally:
        if owned:
            wakeups.close()
    return total
