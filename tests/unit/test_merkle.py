"""The Merkle tree and signed checkpoints, checked against the RFC definitions themselves."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import CheckpointError
from ledger.trust.checkpoint import (
    Checkpoint,
    SigningKey,
    VerifierKey,
    open_note,
    sign,
)
from ledger.trust.merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 MTH, written exactly as the RFC defines it (the reference)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


# RFC 6962 test vectors as used by certificate-transparency implementations.
_CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
_CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _tree(n: int) -> tuple[list[bytes], MerkleTree]:
    data = [f"event-{i}".encode() for i in range(n)]
    return data, MerkleTree([leaf_hash(d) for d in data])


def test_leaf_and_node_hashes_use_the_rfc6962_domain_separation_prefixes():
    """RFC 6962 2.1: leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right)."""
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()
    )
    assert MerkleTree([]).root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


@pytest.mark.parametrize("size", range(1, len(_CT_LEAVES) + 1))
def test_roots_match_the_published_rfc6962_test_vectors(size):
    """RFC 6962: the tree heads of the reference leaves are the published ones."""
    tree = MerkleTree([leaf_hash(d) for d in _CT_LEAVES])
    assert tree.root(size).hex() == _CT_ROOTS[size - 1]
    assert _mth(_CT_LEAVES[:size]).hex() == _CT_ROOTS[size - 1]


@given(st.lists(st.binary(max_size=8), max_size=70))
def test_every_prefix_root_and_the_streaming_frontier_equal_the_rfc_definition(data):
    """RFC 6962 2.1: MTH of every prefix; the frontier extends a checkpoint without old leaves."""
    tree = MerkleTree([leaf_hash(d) for d in data])
    frontier = Frontier()
    for size in range(len(data) + 1):
        assert tree.root(size) == _mth(data[:size])
        assert frontier.root() == tree.root(size)
        restored = Frontier.from_bytes(frontier.size, frontier.to_bytes())
        assert restored.root() == frontier.root()
        if size < len(data):
            frontier.append(leaf_hash(data[size]))


@given(st.integers(0, 80), st.integers(0, 150))
def test_extending_a_frontier_in_one_call_equals_appending_leaf_by_leaf(start, count):
    """RFC 6962 2.1: the level-by-level extend builds the same tree edge as append."""
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(start + count)]
    one_by_one = Frontier()
    for leaf in leaves:
        one_by_one.append(leaf)
    at_once = Frontier()
    for leaf in leaves[:start]:
        at_once.append(leaf)
    at_once.extend(leaves[start:])
    assert (at_once.size, at_once.to_bytes()) == (one_by_one.size, one_by_one.to_bytes())
    assert at_once.root() == MerkleTree(leaves).root(len(leaves))


@pytest.mark.parametrize("size", [*range(1, 34), 100, 127, 128, 129])
def test_every_inclusion_proof_verifies_and_no_other_leaf_or_index_does(size):
    """RFC 9162 2.1.3: PATH(m, D[n]) verifies for leaf m only."""
    data, tree = _tree(size)
    root = tree.root()
    for index in range(size):
        proof = tree.inclusion_proof(index)
        assert verify_inclusion(index, size, leaf_hash(data[index]), proof, root)
        assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)
        if size > 1:
            assert not verify_inclusion(
                (index + 1) % size, size, leaf_hash(data[index]), proof, root
            )
        if proof:
            bent = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
            assert not verify_inclusion(index, size, leaf_hash(data[index]), bent, root)


@pytest.mark.parametrize("new_size", [*range(1, 34), 64, 65, 100])
def test_every_consistency_proof_verifies_and_a_rewritten_history_does_not(new_size):
    """RFC 9162 2.1.4: PROOF(m, D[n]) shows the old tree is a prefix of the new one."""
    data, tree = _tree(new_size)
    for old_size in range(new_size + 1):
        proof = tree.consistency_proof(old_size)
        assert verify_consistency(old_size, new_size, tree.root(old_size), tree.root(), proof)
        if 0 < old_size < new_size:
            forked = MerkleTree([leaf_hash(b"rewritten"), *(leaf_hash(d) for d in data[1:])])
            assert not verify_consistency(
                old_size, new_size, tree.root(old_size), forked.root(), proof
            )
            assert not verify_consistency(
                old_size, new_size, forked.root(old_size), tree.root(), proof
            )
    assert not verify_consistency(new_size, new_size - 1, tree.root(), tree.root(new_size - 1), [])


# --- checkpoints ----------------------------------------------------------------------------


def test_a_checkpoint_is_a_c2sp_signed_note_with_the_recommended_key_id():
    """C2SP signed-note: text, blank line, '— <name> base64(keyID || Ed25519 sig)'."""
    key = SigningKey.generate("example.com/ledger")
    root = hashlib.sha256(b"x").digest()
    note = sign(Checkpoint("example.com/ledger", 42, root, "2026-01-02T03:04:05.000000Z"), key)
    text, signatures = note.split("\n\n")
    assert text.split("\n") == [
        "example.com/ledger",
        "42",
        base64.b64encode(root).decode(),
        "time 2026-01-02T03:04:05.000000Z",
    ]
    dash, name, encoded = signatures.rstrip("\n").split(" ")
    assert (dash, name) == ("\u2014", "example.com/ledger")
    raw = base64.b64decode(encoded)
    public = key.verifier.public
    expected_id = hashlib.sha256(b"example.com/ledger\n\x01" + public).digest()[:4]
    assert raw[:4] == expected_id
    assert key.verifier.verify((text + "\n").encode(), raw[4:])
    assert open_note(note, key.verifier) == Checkpoint(
        "example.com/ledger", 42, root, "2026-01-02T03:04:05.000000Z"
    )


def test_keys_round_trip_through_their_text_forms():
    """Keys are written in the text form Go's sumdb/note uses, and read back identically."""
    key = SigningKey.generate("govledger/test")
    assert SigningKey.from_text(key.to_text()) == key
    assert VerifierKey.from_text(key.verifier.to_text()) == key.verifier
    assert key.to_text().startswith("PRIVATE+KEY+govledger/test+")
    with pytest.raises(CheckpointError):
        VerifierKey.from_text(key.verifier.to_text().replace("+", "+0", 1))


def test_a_note_signed_by_another_key_or_altered_after_signing_is_refused():
    """C2SP signed-note: unknown signers are ignored, so only the trusted key's signature counts."""
    key, other = SigningKey.generate("a.example/log"), SigningKey.generate("a.example/log")
    note = sign(Checkpoint("a.example/log", 3, b"\x01" * 32), key)
    with pytest.raises(CheckpointError, match="not signed by the trusted key"):
        open_note(note, other.verifier)
    altered = note.replace("\n3\n", "\n4\n", 1)
    with pytest.raises(CheckpointError, match="does not verify"):
        open_note(altered, key.verifier)
    cosigned = note + sign(Checkpoint("a.example/log", 3, b"\x01" * 32), other).split("\n\n")[1]
    assert open_note(cosigned, key.verifier).tree_size == 3
    assert open_note(cosigned, other.verifier).tree_size == 3


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_is_never_accepted_as_a_checkpoint(text):
    """A verifier refuses anything the trusted key did not sign, without crashing."""
    key = SigningKey.generate("a.example/log")
    with pytest.raises(CheckpointError):
        open_note(text, key.verifier)
