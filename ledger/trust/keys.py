"""Which key signs checkpoints and which key checks them.

Signing: ``LedgerConfig.signing_key`` (``GOVLEDGER_SIGNING_KEY``: a key file's
path, or the key text itself), else ``<store>.key`` next to a SQLite store if
``govledger keygen`` wrote one there. Checking: a public key file the auditor
names (``--key``, else ``LedgerConfig.verify_key`` from ``GOVLEDGER_VERIFY_KEY``),
else the public half of the signing key, else ``<store>.key.pub``. Only the first
two are independent of the store: a key kept beside the data proves nothing
against someone who can write both, and ``trusted`` says which kind was used.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.config import LedgerConfig
from ledger.errors import CheckpointError, KeyUnusableError
from ledger.trust.checkpoint import SigningKey, VerifierKey

__all__ = [
    "KeyFiles",
    "TrustedKey",
    "default_key_path",
    "load_signing_key",
    "read_public_key",
    "trusted",
    "trusted_key",
    "write_key_pair",
]

_PRIVATE: Final = "PRIVATE+KEY+"


def default_key_path(config: LedgerConfig) -> Path | None:
    """
    ``<store>.key`` beside a SQLite store file (None for PostgreSQL and ``:memory:``).
    """
    if config.is_memory or config.is_postgres:
        return None
    return Path(config.store + ".key")


def _configured_key_path(config: LedgerConfig) -> Path | None:
    raw = config.signing_key
    if raw and not raw.strip().startswith(_PRIVATE):
        return Path(raw)
    return default_key_path(config)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        msg = f"the {what} file {path} is not UTF-8 text"
        raise KeyUnusableError(msg, field="key", rule="key") from None
    except OSError as exc:
        msg = f"cannot read the {what} file {path}: {exc.strerror}"
        raise KeyUnusableError(msg, field="key", rule="key") from None


def _as_unusable(error: CheckpointError, path: Path | None) -> KeyUnusableError:
    where = f" ({path})" if path is not None else ""
    return KeyUnusableError(f"{error.message}{where}", field="key", rule="key")


def load_signing_key(config: LedgerConfig) -> SigningKey | None:
    """
    The configured signing key, the one next to the store, or None.
    """
    raw = config.signing_key
    if raw and raw.strip().startswith(_PRIVATE):
        try:
            return SigningKey.from_text(raw)
        except CheckpointError as exc:
            raise _as_unusable(exc, None) from None
    path = _configured_key_path(config)
    if path is None:
        return None
    if not path.exists():
        if raw:
            msg = f"the signing key file {path} does not exist (govledger keygen writes one)"
            raise KeyUnusableError(msg, field="key", rule="key")
        return None
    try:
        return SigningKey.from_text(_read_text(path, "signing key"))
    except KeyUnusableError:
        raise
    except CheckpointError as exc:
        raise _as_unusable(exc, path) from None


def read_public_key(path: Path) -> VerifierKey:
    """
    A verifier key from a file (a private key file gives its public half).
    """
    text = _read_text(path, "key").strip()
    try:
        if text.startswith(_PRIVATE):
            return SigningKey.from_text(text).verifier
        return VerifierKey.from_text(text)
    except CheckpointError as exc:
        raise _as_unusable(exc, path) from None


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """
    The key checkpoints are checked against, and whether it is independent of the store.
    """

    key: VerifierKey
    #: "key": given by the auditor (``--key``, ``GOVLEDGER_VERIFY_KEY``); "self": the
    #: store's own (its signing key, or the key files kept beside it).
    trust: str
    #: Where it was read from (a path, or "GOVLEDGER_SIGNING_KEY" for key text).
    source: str


def trusted(config: LedgerConfig, given: str | None = None) -> TrustedKey:
    """
    The key checkpoints are checked against: ``given`` (a file), the configured
    verification key, else the store's own.
    """
    if given:
        return TrustedKey(read_public_key(Path(given)), "key", given)
    if config.verify_key:
        return TrustedKey(read_public_key(Path(config.verify_key)), "key", config.verify_key)
    key = load_signing_key(config)
    if key is not None:
        path = _configured_key_path(config)
        raw = config.signing_key
        source = "GOVLEDGER_SIGNING_KEY" if raw and raw.strip().startswith(_PRIVATE) else str(path)
        return TrustedKey(key.verifier, "self", source)
    default = default_key_path(config)
    if default is not None and Path(str(default) + ".pub").exists():
        public = Path(str(default) + ".pub")
        return TrustedKey(read_public_key(public), "self", str(public))
    msg = "no trusted key: pass --key PUBLIC_KEY_FILE (or set GOVLEDGER_VERIFY_KEY)"
    raise KeyUnusableError(msg, field="key", rule="key")


def trusted_key(config: LedgerConfig, given: str | None = None) -> VerifierKey:
    """
    The key checkpoints are checked against (``trusted``, without where it came from).
    """
    return trusted(config, given).key


@dataclass(frozen=True, slots=True)
class KeyFiles:
    """
    Where ``write_key_pair`` put a new key, and its public text.
    """

    private: Path
    public: Path
    public_text: str


def write_key_pair(
    config: LedgerConfig, out: str | None = None, name: str | None = None, *, force: bool = False
) -> KeyFiles:
    """
    Generate a key and write it (mode 0600) with its ``.pub`` beside it.
    """
    path = Path(out) if out else _configured_key_path(config)
    if path is None:
        msg = "keygen: give --out for a PostgreSQL or in-memory store"
        raise KeyUnusableError(msg, field="out", rule="key")
    stem = re.sub(r"[^A-Za-z0-9._/-]", "_", Path(config.store).stem or "ledger")
    try:
        key = SigningKey.generate(name or f"govledger/{stem}")
    except CheckpointError as exc:
        raise _as_unusable(exc, None) from None
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        msg = f"keygen: {path} exists (use --force to replace it)"
        raise KeyUnusableError(msg, field="out", rule="exists") from None
    except OSError as exc:
        msg = f"keygen: cannot write {path}: {exc.strerror}"
        raise KeyUnusableError(msg, field="out", rule="key") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.to_text() + "\n")
    public = key.verifier.to_text()
    public_path = Path(str(path) + ".pub")
    public_path.write_text(public + "\n", encoding="utf-8")
    return KeyFiles(path, public_path, public)
