"""Tamper evidence: the store's events as an RFC 6962 Merkle tree, sealed by signed checkpoints.

``seal`` appends an Ed25519-signed C2SP checkpoint over the events stored so far;
``verify`` recomputes the tree and checks every checkpoint; ``prove`` builds
inclusion proofs of a decision's events that ``check_proof`` checks offline with
nothing but the proof, the events and the public key. Keys are read and written
by ``keys``; the checkpoint and leaf tables live in the ledger's own store.
"""

from ledger.trust.checkpoint import Checkpoint, SigningKey, VerifierKey, open_note, sign
from ledger.trust.keys import (
    KeyFiles,
    TrustedKey,
    load_signing_key,
    read_public_key,
    trusted,
    trusted_key,
    write_key_pair,
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
from ledger.trust.seal import (
    PROOF_FORMAT,
    Entries,
    Problem,
    VerifyReport,
    autoseal,
    check_proof,
    journal_entries,
    prove,
    seal,
    seal_all,
    verify,
    verify_all,
)
from ledger.trust.store import EVENTS, REFUSALS, CheckpointRow, CheckpointStore, LeafRow, Log

__all__ = [
    "EMPTY_ROOT",
    "EVENTS",
    "PROOF_FORMAT",
    "REFUSALS",
    "Checkpoint",
    "CheckpointRow",
    "CheckpointStore",
    "Entries",
    "Frontier",
    "KeyFiles",
    "LeafRow",
    "Log",
    "MerkleTree",
    "Problem",
    "SigningKey",
    "TrustedKey",
    "VerifierKey",
    "VerifyReport",
    "autoseal",
    "check_proof",
    "journal_entries",
    "leaf_hash",
    "load_signing_key",
    "node_hash",
    "open_note",
    "prove",
    "read_public_key",
    "seal",
    "seal_all",
    "sign",
    "trusted",
    "trusted_key",
    "verify",
    "verify_all",
    "verify_consistency",
    "verify_inclusion",
    "write_key_pair",
]
