"""Tamper-evidence subcommands: keygen, seal, verify, prove, verify-proof; and ingest's auto-seal.

Which key signs: ``LedgerConfig.signing_key`` (``GOVLEDGER_SIGNING_KEY``: a key
file's path, or the key text itself), else ``<store>.key`` next to a SQLite
store if ``govledger keygen`` wrote one there. With no key, nothing is sealed:
``ingest`` says so once on stderr and stores events as usual, and ``seal``
refuses. Which key checks: ``--key FILE`` (a public key, the auditor's own
copy), else the public half of the signing key, else ``<store>.key.pub``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ledger._checkpoint import CheckpointError, SigningKey, VerifierKey
from ledger._seal import SealError, check_proof, prove, seal, verify
from ledger.application import ACCEPTED, GovernanceLedger
from ledger.config import LedgerConfig

__all__ = ["load_signing_key", "register", "sealing"]

_EXIT_FAILED = 1
_EXIT_USAGE = 2


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
    p.add_argument("--key", help="trusted public key file (default: the store's key)")
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


# --- keys ------------------------------------------------------------------------------------


def _default_key_path(config: LedgerConfig) -> Path | None:
    if config.is_memory or config.is_postgres:
        return None
    return Path(config.store + ".key")


def _configured_key_path(config: LedgerConfig) -> Path | None:
    raw = config.signing_key
    if raw and not raw.strip().startswith("PRIVATE+KEY+"):
        return Path(raw)
    return _default_key_path(config)


def load_signing_key(config: LedgerConfig) -> SigningKey | None:
    """
    The configured signing key, the one next to the store, or None.
    """
    raw = config.signing_key
    if raw and raw.strip().startswith("PRIVATE+KEY+"):
        return SigningKey.from_text(raw)
    path = _configured_key_path(config)
    if path is None:
        return None
    if not path.exists():
        if raw:
            msg = f"the signing key file {path} does not exist (govledger keygen writes one)"
            raise CheckpointError(msg)
        return None
    return SigningKey.from_text(path.read_text(encoding="utf-8"))


def _verifier(args: argparse.Namespace, config: LedgerConfig) -> VerifierKey:
    if getattr(args, "key", None):
        return _read_public(Path(args.key))
    key = load_signing_key(config)
    if key is not None:
        return key.verifier
    default = _default_key_path(config)
    if default is not None and Path(str(default) + ".pub").exists():
        return _read_public(Path(str(default) + ".pub"))
    msg = "no trusted key: pass --key PUBLIC_KEY_FILE (or configure GOVLEDGER_SIGNING_KEY)"
    raise CheckpointError(msg)


def _read_public(path: Path) -> VerifierKey:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"cannot read the key file {path}: {exc.strerror}"
        raise CheckpointError(msg) from None
    if text.startswith("PRIVATE+KEY+"):
        return SigningKey.from_text(text).verifier
    return VerifierKey.from_text(text)


def _fail(message: str, status: int = _EXIT_FAILED) -> int:
    print(f"govledger: {message}", file=sys.stderr)
    return status


# --- handlers --------------------------------------------------------------------------------


def _keygen(args: argparse.Namespace, config: LedgerConfig) -> int:
    path = Path(args.out) if args.out else _configured_key_path(config)
    if path is None:
        return _fail("keygen: give --out for a PostgreSQL or in-memory store", _EXIT_USAGE)
    stem = re.sub(r"[^A-Za-z0-9._/-]", "_", Path(config.store).stem or "ledger")
    try:
        key = SigningKey.generate(args.name or f"govledger/{stem}")
    except CheckpointError as exc:
        return _fail(f"keygen: {exc}", _EXIT_USAGE)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if args.force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        return _fail(f"keygen: {path} exists (use --force to replace it)", _EXIT_USAGE)
    except OSError as exc:
        return _fail(f"keygen: cannot write {path}: {exc.strerror}", _EXIT_USAGE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.to_text() + "\n")
    public = key.verifier.to_text()
    Path(str(path) + ".pub").write_text(public + "\n", encoding="utf-8")
    print(public)
    print(f"govledger keygen: private key {path}, public key {path}.pub", file=sys.stderr)
    return 0


def _seal(args: argparse.Namespace, config: LedgerConfig) -> int:
    try:
        key = load_signing_key(config)
    except CheckpointError as exc:
        return _fail(f"seal: {exc}", _EXIT_USAGE)
    if key is None:
        return _fail(
            "seal: no signing key (run govledger keygen, or set GOVLEDGER_SIGNING_KEY)", _EXIT_USAGE
        )
    from ledger._checkpoint_store import CheckpointStore  # noqa: PLC0415

    with GovernanceLedger(config) as ledger:
        try:
            written = seal(ledger, key)
        except SealError as exc:
            return _fail(f"seal: {exc}")
        latest = CheckpointStore.of(ledger).latest()
    assert latest is not None  # noqa: S101 - seal always leaves one
    if written:
        print(
            f"govledger seal: checkpoint #{latest.seq}, tree size {latest.tree_size}",
            file=sys.stderr,
        )
    else:
        print(f"govledger seal: nothing new since checkpoint #{latest.seq}", file=sys.stderr)
    sys.stdout.write(latest.note)
    if args.out:
        Path(args.out).write_text(latest.note, encoding="utf-8")
    return 0


def _verify(args: argparse.Namespace, config: LedgerConfig) -> int:
    try:
        key = _verifier(args, config)
        external = None
        if args.checkpoint:
            external = Path(args.checkpoint).read_text(encoding="utf-8")
    except (CheckpointError, OSError) as exc:
        return _fail(f"verify: {exc}", _EXIT_USAGE)
    with GovernanceLedger(config) as ledger:
        report = verify(ledger, key, external, require_sealed=args.require_sealed)
    sys.stdout.buffer.write(report.to_json() + b"\n")
    if report.ok:
        return 0
    first = report.problems[0]
    where = (
        ""
        if first.position is None
        else (
            f" at store position {first.position}"
            if first.exact
            else f" at or after store position {first.position}"
        )
    )
    return _fail(f"verify: the store of {config.store_label} disagrees{where}: {first.what}")


def _prove(args: argparse.Namespace, config: LedgerConfig) -> int:
    try:
        key = _verifier(args, config)
    except CheckpointError as exc:
        return _fail(f"prove: {exc}", _EXIT_USAGE)
    with GovernanceLedger(config) as ledger:
        try:
            document = prove(ledger, key, args.decision_id)
        except CheckpointError as exc:
            return _fail(f"prove: {exc}")
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def _verify_proof(args: argparse.Namespace, _config: LedgerConfig) -> int:
    try:
        key = _read_public(Path(args.key))
        raw = sys.stdin.buffer.read() if args.proof == "-" else Path(args.proof).read_bytes()
        events = [
            line
            for name in args.event
            for line in Path(name).read_bytes().splitlines()
            if line.strip()
        ]
    except (CheckpointError, OSError) as exc:
        return _fail(f"verify-proof: {exc}", _EXIT_USAGE)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _fail("verify-proof: the proof is not JSON")
    problems = check_proof(document, key, events)
    for problem in problems:
        print(f"govledger verify-proof: {problem}", file=sys.stderr)
    if problems:
        return _EXIT_FAILED
    count = len(document.get("proofs") or [])
    print(f"ok: {count} event(s) of decision {document.get('decision_id')!r} are in the signed log")
    return 0


# --- ingest's auto-seal ----------------------------------------------------------------------


def sealing(
    ledger: GovernanceLedger, config: LedgerConfig, results: Iterable[Any]
) -> Iterator[Any]:
    """
    Pass ingest results through; seal every ``seal_every`` accepted events and at the end.

    Results are yielded after their batch committed, so every sealed event is
    one that was acknowledged. A failed seal (store unavailable) ends the run.
    """
    try:
        key = load_signing_key(config)
    except CheckpointError as exc:
        # Before anything is stored: a misconfigured key must not silently leave a run unsealed.
        print(f"govledger ingest: the signing key is unusable: {exc}", file=sys.stderr)
        raise SystemExit(_EXIT_USAGE) from None
    if key is None:
        if not config.is_memory:
            print(
                "govledger ingest: no signing key, the store is not sealed "
                "(run govledger keygen, or set GOVLEDGER_SIGNING_KEY)",
                file=sys.stderr,
            )
        yield from results
        return
    since = 0
    try:
        for result in results:
            yield result
            if result.status == ACCEPTED:
                since += 1
                if config.seal_every and since >= config.seal_every:
                    seal(ledger, key)
                    since = 0
        seal(ledger, key)
    except SealError as exc:
        # The events are stored and were acknowledged; only the checkpoint is missing.
        print(f"govledger ingest: the store was not sealed: {exc}", file=sys.stderr)
        raise SystemExit(_EXIT_FAILED) from None
