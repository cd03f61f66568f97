"""API tokens: who may call the server, in which role; only a hash of each token is kept.

A token is 256 bits from ``secrets`` (``glt_`` + 43 URL-safe characters), shown
once by ``govledger token add``. The store keeps SHA-256(token) in the
``govledger_tokens`` table, so several servers on one PostgreSQL share the same
tokens and a revocation is seen by all of them at the next request.

Why SHA-256 and not a password hash (bcrypt, scrypt, Argon2): those are slow on
purpose because passwords are guessable. A 256-bit random token is not: finding
one from its hash means searching 2**256 values, which no work factor makes any
harder in practice. A plain, unsalted hash also lets the server find the token by
its hash in one indexed lookup, without knowing the name first, and costs about a
microsecond per request instead of tens of milliseconds.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from ledger import _time
from ledger._guard import is_credential_shaped
from ledger._repository import store_errors
from ledger.errors import ConfigurationError
from ledger.serve._errors import UnauthorizedError
from ledger.stores import EventStore

__all__ = ["ROLES", "Identity", "Tokens", "token_hash"]

#: orchestrator: write events and evaluate gates; approver: answer gates awaiting a human;
#: auditor: read only. Every role may read.
ROLES: Final = ("orchestrator", "approver", "auditor")

_PREFIX: Final = "glt_"
#: A token name is recorded as the user_id of the human decisions its holder makes.
_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
_MAX_TOKEN: Final = 256


def token_hash(token: str) -> bytes:
    """
    What the store keeps of ``token``: its SHA-256.
    """
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Identity:
    """
    Who a request comes from: the token's name and role.
    """

    name: str
    role: str


class Tokens:
    """
    The store's API tokens: add, list, revoke, and authenticate a request's token.
    """

    def __init__(self, store: EventStore, label: str) -> None:
        self._store = store
        self._label = label

    @classmethod
    def of(cls, ledger: Any) -> Tokens:
        """
        The tokens of a ``GovernanceLedger``'s store.
        """
        return cls(ledger.store, ledger.config.store_label)

    def add(self, name: str, role: str) -> str:
        """
        A new token for ``name`` in ``role``; the token itself is returned, never kept.
        """
        if not _NAME.fullmatch(name) or is_credential_shaped(name):
            raise ConfigurationError(
                "token name: 1-128 characters of letters, digits and . _ @ + - (it is "
                "recorded as the user_id of the human decisions made with the token)",
                field="name",
                rule="pattern",
            )
        if role not in ROLES:
            raise ConfigurationError(
                f"token role: one of {', '.join(ROLES)}", field="role", rule="enum"
            )
        token = _PREFIX + secrets.token_urlsafe(32)
        with store_errors(self._label, "write to"):
            added = self._store.add_token(name, role, token_hash(token), _time.utc_text())
        if not added:
            raise ConfigurationError(
                f"a token named {name!r} exists; revoke it first (govledger token revoke)",
                field="name",
                rule="unique",
            )
        return token

    def list(self) -> list[dict[str, str | None]]:
        """
        Every token's name, role, creation and revocation time (never a token or hash).
        """
        with store_errors(self._label, "read"):
            rows = self._store.list_tokens()
        return [
            {"name": name, "role": role, "created_at": created, "revoked_at": revoked}
            for name, role, created, revoked in rows
        ]

    def revoke(self, name: str) -> None:
        """
        Revoke ``name``'s token: every server refuses it from its next request on.
        """
        with store_errors(self._label, "write to"):
            revoked = self._store.revoke_token(name, _time.utc_text())
        if not revoked:
            raise ConfigurationError(f"no active token named {name!r}", field="name", rule="exists")

    def authenticate(self, token: str | None) -> Identity:
        """
        The identity of an active ``token``; ``unauthorized`` otherwise.
        """
        if not token or len(token) > _MAX_TOKEN or not token.isascii():
            raise UnauthorizedError(
                "a bearer token is required (Authorization: Bearer TOKEN)",
                field="authorization",
                rule="bearer",
            )
        with store_errors(self._label, "read"):
            found = self._store.find_token(token_hash(token))
        if found is None:
            raise UnauthorizedError(
                "the bearer token is unknown or revoked", field="authorization", rule="token"
            )
        return Identity(*found)
