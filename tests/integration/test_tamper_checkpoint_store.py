"""The checkpoint tables on both backends: the same rows, the same refusal of a second seal."""

from __future__ import annotations

import pytest

from ledger.errors import StaleSealError
from ledger.trust.store import CheckpointRow, CheckpointStore, LeafRow


@pytest.fixture
def checkpoints(ledger) -> CheckpointStore:
    """
    The checkpoint tables of a fresh store of each kind (a SQLite file, a PostgreSQL schema).
    """
    return CheckpointStore.of(ledger)


def test_checkpoints_and_leaves_round_trip_and_a_taken_seq_is_refused(checkpoints):
    """Sealing is append-only: a second checkpoint with a taken number is refused, not merged."""
    store = checkpoints
    assert (store.checkpoints(), store.latest(), store.leaves()) == ([], None, [])
    store.create_tables()
    first = CheckpointRow(1, 2, 2, b"r" * 32, b"f" * 32, "2026-01-01T00:00:00.000000Z", "note")
    leaves = [LeafRow(0, 1, b"a" * 32), LeafRow(1, 2, b"b" * 32)]
    store.append(first, leaves)
    assert store.latest() == first
    assert store.checkpoints() == [first]
    assert store.leaves() == leaves
    assert store.leaves(limit=1) == leaves[:1]
    with pytest.raises(StaleSealError):
        store.append(first, [])
    with pytest.raises(StaleSealError):
        store.append(CheckpointRow(2, 3, 3, b"s" * 32, b"", "t", "n"), [LeafRow(1, 3, b"c" * 32)])
    assert store.checkpoints() == [first], "a refused seal leaves nothing behind"
