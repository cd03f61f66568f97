"""The read side checks what it projects: each event against the signed checkpoints it passes.

The store's checkpoints sign Merkle roots over the events in store order; the
leaf table beside them holds each sealed event's leaf hash. For the checkpoints
the projection has not passed yet, ``Evidence`` takes the recorded leaf hashes
between the last checkpoint it passed and the next one, and accepts them only
if, appended to the tree edge it kept, they reproduce that checkpoint's signed
root. Every event it then projects must hash to its authenticated leaf: a hash
per event, and the first one that does not is named exactly. Where the leaf
table was altered too, the events themselves are hashed up to the checkpoint;
if they do not reproduce its root either, the change is between the two
checkpoints, and that interval is what is named.

The tree edge, its size and the store position of its last leaf are kept in the
projection's ``projection_meta`` (committed with each batch), so a later run
resumes where this one stopped. Events after the last checkpoint are projected
with ``sealed = false``: nothing proves them yet; when a later checkpoint
covers them, a later catch-up hashes them and marks them sealed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.errors import CheckpointError, TamperDetectedError
from ledger.trust import (
    CheckpointRow,
    CheckpointStore,
    Frontier,
    VerifierKey,
    leaf_hash,
    open_note,
)

__all__ = ["Evidence", "Verified"]

_HASH: Final = 32


@dataclass(frozen=True, slots=True)
class Verified:
    """
    How far the events were checked: leaves, the tree edge over them, the last position.
    """

    size: int = 0
    frontier: bytes = b""
    position: int = 0

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> Verified:
        """
        Read back from ``projection_meta`` (nothing checked yet when absent).
        """
        if "verified_size" not in meta:
            return cls()
        return cls(
            int(meta["verified_size"]),
            bytes.fromhex(meta["verified_frontier"]),
            int(meta["verified_position"]),
        )

    def to_meta(self) -> dict[str, str]:
        """
        The ``projection_meta`` rows that record it.
        """
        return {
            "verified_size": str(self.size),
            "verified_frontier": self.frontier.hex(),
            "verified_position": str(self.position),
        }


def _tampered(message: str, position: int | None) -> TamperDetectedError:
    return TamperDetectedError(
        f"{message}; run govledger verify", position=position, field="position", rule="sealed"
    )


class Evidence:
    """
    Walks events in store order and checks each against the checkpoints not yet passed.
    """

    def __init__(
        self,
        log: Any,
        key: VerifierKey | None,
        verified: Verified,
        label: str,
    ) -> None:
        self._log = log
        self._store = CheckpointStore(log.store, label)
        self.verified = verified
        self._frontier = Frontier.from_bytes(verified.size, verified.frontier)
        self.pending = [row for row in self._store.checkpoints() if row.tree_size > verified.size]
        for row in self.pending:
            self._authenticate(row, key)
        self._index = verified.size
        self._expected: bytes = b""
        self._next: Frontier | None = None

    @property
    def active(self) -> bool:
        """
        Whether a checkpoint the projection has not passed yet exists.
        """
        return bool(self.pending)

    def _authenticate(self, row: CheckpointRow, key: VerifierKey | None) -> None:
        if key is None:
            return  # without a key only the roots are compared: still catches a lone edit
        try:
            cp = open_note(row.note, key)
        except CheckpointError as exc:
            raise _tampered(
                f"checkpoint #{row.seq} is not signed by the trusted key ({exc})", None
            ) from None
        if (cp.tree_size, cp.root_hash) != (row.tree_size, row.root_hash):
            raise _tampered(f"checkpoint #{row.seq}'s columns disagree with its signed note", None)

    def _load(self, row: CheckpointRow) -> None:
        """
        The authenticated leaf hashes from the last passed checkpoint up to ``row``.
        """
        want = row.tree_size - self._frontier.size
        hashes = self._store.leaf_hashes(self._frontier.size, want)
        if len(hashes) == want and self._reproduces(hashes, row):
            return
        # The leaf table does not authenticate: hash the events themselves up to ``row``.
        hashes = []
        for _, state in self._log.stored_events(
            start=self.verified.position + 1, limit=5000, stop=row.last_position
        ):
            hashes.append(leaf_hash(state))
            if len(hashes) == want:
                break
        if len(hashes) == want and self._reproduces(hashes, row):
            return
        first, last = self.verified.position + 1, row.last_position
        raise _tampered(
            f"the events at store positions {first} to {last} do not hash to checkpoint "
            f"#{row.seq}'s signed root and the sealed leaf hashes were altered too: the first "
            "changed event is in this interval (between the last checkpoint the events "
            "reproduce and the first they do not)",
            first,
        )

    def _reproduces(self, hashes: list[bytes], row: CheckpointRow) -> bool:
        edge = Frontier.from_bytes(self._frontier.size, self._frontier.to_bytes())
        edge.extend(hashes)
        if edge.root() != row.root_hash:
            return False
        self._expected = b"".join(hashes)
        self._next = edge
        return True

    def check(self, batch: Iterable[tuple[int, bytes]]) -> list[bool]:
        """
        Whether each event is sealed; ``TamperDetectedError`` at the first that is not
        what its checkpoint sealed (before anything of the batch is written).
        """
        events = list(batch)
        flags: list[bool] = []
        while len(flags) < len(events):
            if not self.pending:
                flags.extend([False] * (len(events) - len(flags)))
                break
            row = self.pending[0]
            if self._next is None:
                self._load(row)
            # The run of this batch that ``row`` seals, hashed and compared in one go (the
            # per-event loop cost more than the hashing); the first difference is named.
            run = events[len(flags) : len(flags) + row.tree_size - self._index]
            offset = (self._index - self._frontier.size) * _HASH
            expected = self._expected[offset : offset + len(run) * _HASH]
            if b"".join([leaf_hash(state) for _, state in run]) != expected:
                raise self._first_changed(run, expected, row)
            self._index += len(run)
            flags.extend([True] * len(run))
            if self._index == row.tree_size:
                assert self._next is not None  # noqa: S101 - set by _load
                self._frontier, self._next, self._expected = self._next, None, b""
                self.verified = Verified(self._frontier.size, self._frontier.to_bytes(), run[-1][0])
                self.pending.pop(0)
        return flags

    def _first_changed(
        self, run: list[tuple[int, bytes]], expected: bytes, row: CheckpointRow
    ) -> TamperDetectedError:
        """
        The error naming the first event of ``run`` whose leaf hash differs from ``expected``.
        """
        n = next(
            n
            for n, (_, state) in enumerate(run)
            if leaf_hash(state) != expected[n * _HASH : (n + 1) * _HASH]
        )
        position = run[n][0]
        return _tampered(
            f"the event at store position {position} is not the one checkpoint #{row.seq} "
            f"sealed as leaf {self._index + n + 1} (changed, removed, inserted or moved)",
            position,
        )

    def finish(self) -> None:
        """
        The walk reached the store's last event: a checkpoint covering more is a removal.
        """
        if self.pending:
            row = self.pending[0]
            raise _tampered(
                f"the store ends after {self._index} events but checkpoint #{row.seq} sealed "
                f"{row.tree_size}: events from the one after store position "
                f"{self.verified.position} on were removed",
                self.verified.position + 1,
            )
