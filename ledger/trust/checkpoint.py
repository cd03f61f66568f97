"""Signed checkpoints: C2SP ``tlog-checkpoint`` notes signed with Ed25519 (pure, no store).

A checkpoint is a C2SP signed note (https://c2sp.org/signed-note) whose text is::

    <origin>
    <tree size>
    <base64 root hash>
    time <RFC 3339 UTC>

followed by a blank line and one signature line per key::

    — <key name> <base64(key ID || Ed25519 signature over the text)>

key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]. The ``time``
line is a tlog-checkpoint extension line, so the sealing time is signed too.
Keys are written in the text form Go's ``golang.org/x/mod/sumdb/note`` uses
(``PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`` and
``<name>+<id>+<base64(0x01 || public key)>``), so standard tooling can check
the notes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import CheckpointError

__all__ = [
    "Checkpoint",
    "SigningKey",
    "VerifierKey",
    "open_note",
    "open_signed",
    "sign",
    "sign_text",
]

_ED25519: Final = b"\x01"
_DASH: Final = "\u2014"
_PRIVATE_PREFIX: Final = "PRIVATE+KEY+"
_MAX_SIGNATURES: Final = 16
_TIME_LINE: Final = re.compile(r"time [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z")


def _key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or "+" in name or any(ch.isspace() for ch in name) or not name.isprintable():
        msg = "a key name must be non-empty, printable, without spaces or '+'"
        raise CheckpointError(msg)
    return name


def _b64decode(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        msg = f"{what} is not valid base64"
        raise CheckpointError(msg) from None
    # Canonical only: the bits a last base64 digit does not use must be zero, or one
    # signature (which signs everything but itself) would have several spellings.
    if base64.b64encode(raw).decode("ascii") != text:
        msg = f"{what} is not in canonical base64"
        raise CheckpointError(msg)
    return raw


def _parse_key_text(text: str, what: str, form: str) -> tuple[str, str, bytes]:
    """
    (name, lower-case key id, 32 key bytes) of ``<name>+<id>+<base64(0x01 || key)>``.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:  # noqa: PLR2004 - name, id, key
        msg = f"a {what} is {form}"
        raise CheckpointError(msg)
    name, key_id, encoded = parts
    raw = _b64decode(encoded, f"the {what}")
    if len(raw) != 33 or raw[:1] != _ED25519:  # noqa: PLR2004 - type byte + 32
        msg = f"not an Ed25519 {what}"
        raise CheckpointError(msg)
    return _check_name(name), key_id.lower(), raw[1:]


@dataclass(frozen=True)
class VerifierKey:
    """
    A public key that checkpoints are checked against.
    """

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        """
        The 4-byte C2SP key ID.
        """
        return _key_id(self.name, self.public)

    def to_text(self) -> str:
        """
        ``<name>+<key id hex>+<base64(0x01 || public key)>``.
        """
        encoded = base64.b64encode(_ED25519 + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> VerifierKey:
        """
        Parse the verifier-key text form.
        """
        name, key_id, raw = _parse_key_text(
            text.strip(), "public key", "'<name>+<id>+<base64 key>'"
        )
        key = cls(name, raw)
        if key.key_id.hex() != key_id:
            msg = "the public key's id does not match its name and key"
            raise CheckpointError(msg)
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """
        Whether ``signature`` is this key's Ed25519 signature of ``message``.
        """
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class SigningKey:
    """
    An Ed25519 private key and the name its signatures carry.
    """

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        """
        A fresh random key.
        """
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return cls(_check_name(name), seed)

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> VerifierKey:
        """
        The matching public key.
        """
        public = self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return VerifierKey(self.name, public)

    def sign(self, message: bytes) -> bytes:
        """
        The Ed25519 signature of ``message``.
        """
        return self._private.sign(message)

    def to_text(self) -> str:
        """
        ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``.
        """
        encoded = base64.b64encode(_ED25519 + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    @classmethod
    def from_text(cls, text: str) -> SigningKey:
        """
        Parse the private-key text form.
        """
        text = text.strip()
        if not text.startswith(_PRIVATE_PREFIX):
            msg = f"a signing key starts with {_PRIVATE_PREFIX!r}"
            raise CheckpointError(msg)
        name, key_id, raw = _parse_key_text(
            text.removeprefix(_PRIVATE_PREFIX),
            "signing key",
            "'PRIVATE+KEY+<name>+<id>+<base64 key>'",
        )
        key = cls(name, raw)
        if key.verifier.key_id.hex() != key_id:
            msg = "the signing key's id does not match its name and key"
            raise CheckpointError(msg)
        return key


@dataclass(frozen=True)
class Checkpoint:
    """
    A tree head: who (origin), how many leaves, the root hash, and when it was sealed.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    time: str | None = None

    def text(self) -> bytes:
        """
        The note text that is signed (ends with a newline).
        """
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root_hash).decode()]
        if self.time is not None:
            lines.append(f"time {self.time}")
        return ("\n".join(lines) + "\n").encode()

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        """
        The checkpoint in a note text (without its signatures).
        """
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):  # noqa: PLR2004
            msg = "a checkpoint is origin, tree size and root hash on non-empty lines"
            raise CheckpointError(msg)
        origin, size_text, root_text, *extensions = lines[:-1]
        if (
            not size_text.isascii()
            or not size_text.isdigit()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            msg = "the tree size is not a decimal number without leading zeroes"
            raise CheckpointError(msg)
        root = _b64decode(root_text, "the root hash")
        if len(root) != 32:  # noqa: PLR2004 - SHA-256
            msg = "the root hash is not a SHA-256 hash"
            raise CheckpointError(msg)
        time = None
        for line in extensions:
            if _TIME_LINE.fullmatch(line):
                time = line.removeprefix("time ")
        return cls(origin, int(size_text), root, time)


def sign(checkpoint: Checkpoint, key: SigningKey) -> str:
    """
    The checkpoint as a signed note, signed by ``key``.
    """
    return sign_text(checkpoint.text(), key)


def sign_text(text: bytes, key: SigningKey) -> str:
    """
    ``text`` (non-empty lines, each ending with a newline) as a C2SP signed note by ``key``.
    """
    signature = base64.b64encode(key.verifier.key_id + key.sign(text)).decode()
    return f"{text.decode()}\n{_DASH} {key.name} {signature}\n"


def open_note(note: str, key: VerifierKey) -> Checkpoint:
    """
    The checkpoint in ``note`` if ``key`` signed it; ``CheckpointError`` otherwise.

    Signatures by other keys are ignored, as C2SP signed-note requires; a bad
    signature by the trusted key rejects the note.
    """
    return Checkpoint.parse_text(open_signed(note, key))


def open_signed(note: str, key: VerifierKey) -> str:
    """
    The text of the signed note ``note`` if ``key`` signed it; ``CheckpointError`` otherwise.
    """
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):  # noqa: PLR2004
        msg = "a signed note contains no control characters but newlines"
        raise CheckpointError(msg)
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        msg = "not a signed note: no blank line before signature lines"
        raise CheckpointError(msg)
    text += "\n"
    verified = False
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        msg = f"more than {_MAX_SIGNATURES} signatures"
        raise CheckpointError(msg)
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != _DASH or not name or not encoded or " " in encoded:
            msg = "a signature line is '\u2014 <key name> <base64 signature>'"
            raise CheckpointError(msg)
        raw = _b64decode(encoded, "a signature")
        if len(raw) < 5 or name != key.name or raw[:4] != key.key_id:  # noqa: PLR2004
            continue
        if not key.verify(text.encode(), raw[4:]):
            msg = f"the signature by {key.name} does not verify: the checkpoint was altered"
            raise CheckpointError(msg)
        verified = True
    if not verified:
        msg = f"the checkpoint is not signed by the trusted key {key.name}+{key.key_id.hex()}"
        raise CheckpointError(msg)
    return text
