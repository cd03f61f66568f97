"""Tamper-evidence verbs: keygen, seal, verify, prove, verify-proof.

Keys come from the runtime (``ledger.trust.keys`` says which key signs and
which checks); every failure is a ``LedgerError`` the CLI prints as JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from ledger.bootstrap import Runtime
from ledger.cli import output
from ledger.errors import (
    CheckpointError,
    InputUnavailableError,
    KeyUnusableError,
    OutputUnavailableError,
)
from ledger.trust import (
    EVENTS,
    REFUSALS,
    CheckpointStore,
    check_proof,
    prove,
    read_public_key,
    seal_all,
    verify_all,
    write_key_pair,
)

__all__ = ["register"]

_EXIT_FAILED = 1


def register(sub: Any) -> None:
    """
    Add the tamper-evidence subcommands to ``sub``.
    """
    p = sub.add_parser("keygen", help="write an Ed25519 signing key for checkpoints")
    p.add_argument("--name", help="key name and checkpoint origin (default: govledger/<store>)")
    p.add_argument(
        "--out", help="private key file (default: $GOVLEDGER_SIGNING_KEY or <store>.key)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing key file")
    p.set_defaults(handler=_keygen)

    p = sub.add_parser("seal", help="append a signed checkpoint over the stored events")
    p.add_argument("--out", help="also write the checkpoint note to this file")
    p.set_defaults(handler=_seal)

    p = sub.add_parser("verify", help="recompute the Merkle tree and check every checkpoint")
    p.add_argument("--checkpoint", help="a checkpoint note the auditor kept")
    p.add_argument(
        "--key",
        help="your own copy of the public key (default: $GOVLEDGER_VERIFY_KEY, else the key "
        "beside the store, which proves nothing against someone who can write both)",
    )
    p.add_argument(
        "--require-sealed",
        action="store_true",
        help="also fail if any event is stored after the last checkpoint",
    )
    p.set_defaults(handler=_verify)

    p = sub.add_parser("prove", help="inclusion proofs of a decision's events")
    p.add_argument("decision_id")
    p.add_argument("--key", help="trusted public key file (default: the store's key)")
    p.set_defaults(handler=_prove)

    p = sub.add_parser("verify-proof", help="check a proof offline (proof + events + public key)")
    p.add_argument("proof", help="the JSON document `govledger prove` printed, or - for stdin")
    p.add_argument("--key", required=True, help="trusted public key file")
    p.add_argument(
        "--event",
        action="append",
        default=[],
        help="a JSON Lines file of events that must be among the proven ones (repeatable)",
    )
    p.set_defaults(handler=_verify_proof)


# --- handlers --------------------------------------------------------------------------------


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        msg = f"cannot read the {what} {path}: {exc.strerror}"
        raise InputUnavailableError(msg, field=what, rule="readable") from None


def _keygen(args: argparse.Namespace, runtime: Runtime) -> int:
    files = write_key_pair(runtime.config, args.out, args.name, force=args.force)
    if not runtime.config.is_memory:
        with runtime.ledger(create=True):
            pass  # the key belongs to a store: make it, if it is not there yet
    print(files.public_text)
    output.say(f"keygen: private key {files.private}, public key {files.public}")
    return 0


def _seal(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger(create=False) as ledger:
        key = runtime.signing_key()
        if key is None:
            msg = "seal: no signing key (run govledger keygen, or set GOVLEDGER_SIGNING_KEY)"
            raise KeyUnusableError(msg, field="key", rule="key")
        written = seal_all(ledger, key)
        latest = CheckpointStore.of(ledger).latest()
        journal = CheckpointStore.of(ledger, REFUSALS).latest()
    assert latest is not None  # noqa: S101 - seal always leaves one
    assert journal is not None  # noqa: S101 - and one of the refusal journal
    if written[EVENTS.name]:
        output.say(f"seal: checkpoint #{latest.seq}, tree size {latest.tree_size}")
    else:
        output.say(f"seal: nothing new since checkpoint #{latest.seq}")
    if written[REFUSALS.name]:
        output.say(
            f"seal: refusal journal checkpoint #{journal.seq}, tree size {journal.tree_size}"
        )
    sys.stdout.write(latest.note)
    if args.out:
        try:
            output.write_atomically(Path(args.out), latest.note)
        except OSError as exc:
            msg = f"seal: cannot write {args.out}: {exc.strerror or exc} (the checkpoint is stored)"
            raise OutputUnavailableError(msg, field="out", rule="writable") from None
    return 0


def _verify(args: argparse.Namespace, runtime: Runtime) -> int:
    external = None
    if args.checkpoint:
        try:
            external = _read(args.checkpoint, "checkpoint").decode("utf-8")
        except UnicodeDecodeError:
            msg = f"the checkpoint file {args.checkpoint} is not UTF-8 text"
            raise CheckpointError(msg, field="checkpoint", rule="utf-8") from None
    with runtime.ledger(create=False) as ledger:
        trusted = runtime.trusted(args.key)
        report = verify_all(ledger, trusted.key, external, require_sealed=args.require_sealed)
    report.trust, report.key_name, report.key_source = (
        trusted.trust,
        trusted.key.name,
        trusted.source,
    )
    sys.stdout.buffer.write(report.to_json() + b"\n")
    if trusted.trust == "self":
        output.say(
            f"verify: checked with the key kept beside the store ({trusted.source}); it proves "
            "nothing against someone who can write both: pass --key with your own copy of the "
            "public key (or set GOVLEDGER_VERIFY_KEY)"
        )
    found = report.first_problem
    if found is None:
        return 0
    log, first = found
    where = first.where()
    which = "" if log == EVENTS.name else f" (its {log} log)"
    output.say(
        f"verify: the store of {runtime.config.store_label}{which} disagrees"
        f"{' ' + where if where else ''}: {first.what}"
    )
    return _EXIT_FAILED


def _prove(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger(create=False) as ledger:
        key = runtime.trusted_key(args.key)
        document = prove(ledger, key, args.decision_id)
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def _verify_proof(args: argparse.Namespace, _runtime: Runtime) -> int:
    key = read_public_key(Path(args.key))
    raw = _read(args.proof, "proof")
    events = [
        line for name in args.event for line in _read(name, "event").splitlines() if line.strip()
    ]
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        msg = "verify-proof: the proof is not JSON"
        raise CheckpointError(msg, field="proof", rule="json") from None
    problems = check_proof(document, key, events)
    for problem in problems:
        print(f"govledger verify-proof: {problem}", file=sys.stderr)
    if problems:
        return _EXIT_FAILED
    count = len(document.get("proofs") or [])
    print(f"ok: {count} event(s) of decision {document.get('decision_id')!r} are in the signed log")
    return 0
