"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification (pure, no I/O).

Leaves are the store's events in store order. The leaf for an event is
``SHA-256(0x00 || canonical bytes)``, where the canonical bytes are exactly the
stored ``state`` of the event: the validated, normalised FR event as UTF-8 JSON
with sorted keys and no whitespace (``ledger.events.canonical_bytes``). Interior
nodes are ``SHA-256(0x01 || left || right)``; the root of the empty tree is
``SHA-256()``.

Proofs are built with the RFC 6962 section 2.1 definitions (PATH, PROOF) and
checked with the RFC 9162 section 2.1.3.2 / 2.1.4.2 verification algorithms,
so a verifier needs nothing from this module's tree to check them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Final

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


def leaf_hash(canonical: bytes) -> bytes:
    """
    ``SHA-256(0x00 || canonical)``: the leaf of one stored event.
    """
    return hashlib.sha256(_LEAF + canonical).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """
    ``SHA-256(0x01 || left || right)``.
    """
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """
    The largest power of two smaller than ``n`` (n >= 2).
    """
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """
    The right edge of a growing tree: one hash per full subtree, largest first.

    Appending a leaf and computing the root are O(log n), so a checkpoint can be
    extended from the previous one without reading its leaves again.
    """

    __slots__ = ("_hashes", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != size.bit_count():
            msg = f"a frontier of {size} leaves has {size.bit_count()} hashes, not {len(hashes)}"
            raise ValueError(msg)
        self.size = size
        self._hashes = list(hashes)

    @classmethod
    def from_bytes(cls, size: int, packed: bytes) -> Frontier:
        """
        The frontier stored as concatenated 32-byte hashes.
        """
        return cls(size, [packed[i : i + 32] for i in range(0, len(packed), 32)])

    def to_bytes(self) -> bytes:
        """
        The hashes concatenated, largest subtree first.
        """
        return b"".join(self._hashes)

    def append(self, leaf: bytes) -> None:
        """
        Add one leaf hash.
        """
        self._hashes.append(leaf)
        self.size += 1
        # Each trailing 1-bit of the old size is a full subtree the new leaf completes.
        merges = (self.size & -self.size).bit_length() - 1
        for _ in range(merges):
            right = self._hashes.pop()
            self._hashes[-1] = node_hash(self._hashes[-1], right)

    def extend(self, leaves: Iterable[bytes]) -> None:
        """
        Add many leaf hashes.

        Whole aligned subtrees are hashed level by level (one pass per level), which is
        the same tree as appending one leaf at a time, at about half the cost.
        """
        pending = list(leaves)
        start = 0
        while start < len(pending):
            left = len(pending) - start
            align = self.size & -self.size if self.size else 1 << left.bit_length()
            block = min(align, 1 << (left.bit_length() - 1))
            if block == 1:
                self.append(pending[start])
                start += 1
                continue
            level = pending[start : start + block]
            while len(level) > 1:
                level = [
                    hashlib.sha256(_NODE + a + b).digest()
                    for a, b in zip(level[::2], level[1::2], strict=True)
                ]
            self._hashes.append(level[0])
            self.size += block
            # As in append, counted in subtrees of this block's size.
            units = self.size // block
            for _ in range((units & -units).bit_length() - 1):
                right = self._hashes.pop()
                self._hashes[-1] = node_hash(self._hashes[-1], right)
            start += block

    def root(self) -> bytes:
        """
        The tree head of the leaves so far.
        """
        if not self._hashes:
            return EMPTY_ROOT
        root = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            root = node_hash(left, root)
        return root


class MerkleTree:
    """
    A tree over known leaf hashes: roots of any prefix, inclusion and consistency proofs.

    Full, aligned subtrees are hashed once and kept (about 2n hashes of memory).
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._levels: list[list[bytes]] = [list(leaves)]
        level = self._levels[0]
        while len(level) > 1:
            level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            self._levels.append(level)

    @property
    def size(self) -> int:
        """
        The number of leaves.
        """
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """
        The leaf hash at ``index`` (0-based).
        """
        return self._levels[0][index]

    def _hash(self, start: int, end: int) -> bytes:
        # MTH(D[start:end]); every range a proof asks for splits into aligned full subtrees.
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._hash(start, start + k), self._hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """
        MTH of the first ``size`` leaves (all leaves by default).
        """
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """
        PATH(index, D[0:size]) (RFC 6962 section 2.1.1).
        """
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            msg = f"leaf {index} is not in a tree of {size}"
            raise ValueError(msg)
        proof: list[bytes] = []
        start, end, m = 0, size, index
        while end - start > 1:
            k = _split(end - start)
            if m < k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m = start + k, m - k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """
        PROOF(old_size, D[0:new_size]) (RFC 6962 section 2.1.2).
        """
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            msg = f"no consistency proof from {old_size} to {new_size}"
            raise ValueError(msg)
        if old_size in (0, new_size):
            return []
        proof: list[bytes] = []
        start, end, m, complete = 0, new_size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start, m, complete = start + k, m - k, False
        if not complete:
            proof.append(self._hash(start, end))
        proof.reverse()
        return proof

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            msg = f"the tree has {self.size} leaves, not {size}"
            raise ValueError(msg)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """
    RFC 9162 section 2.1.3.2: is ``leaf`` at ``index`` of the tree of ``size`` with ``root``?
    """
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(  # noqa: C901 - the RFC 9162 algorithm, step by step
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """
    RFC 9162 section 2.1.4.2: is the tree of ``new_size`` an append-only extension of the old one?
    """
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        # Every tree extends the empty one; RFC 9162 defines no proof for it.
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
