"""``LedgerConfig``: the one frozen configuration object, and the only reader of the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final

__all__ = ["DEFAULT_PROJECTION", "DEFAULT_STORE", "LedgerConfig"]

DEFAULT_STORE: Final = "./govledger.db"
DEFAULT_PROJECTION: Final = "./govledger.duckdb"
_MEMORY: Final = ":memory:"


@dataclass(frozen=True)
class LedgerConfig:
    """
    Where the ledger keeps its events and projections, and how it batches writes.

    ``store`` is a SQLite file path (the embedded default), ``:memory:`` (tests),
    or a ``postgresql://`` URL (scale-out).
    """

    store: str = DEFAULT_STORE
    projection: str = DEFAULT_PROJECTION
    #: Events per store transaction when ingesting.
    batch_size: int = 1000
    #: Processes that parse and judge lines alone ahead of ``govledger ingest``'s writer
    #: (0: all in one process). One puts a second core to work.
    ingest_workers: int = 1
    #: Open decisions kept in memory between batches (bounded, so memory stays flat:
    #: ~8 KiB each for a 5-event decision; 10,000 keep a 2M-event ingest well under 300 MiB).
    cache_decisions: int = 10_000
    #: Seal a signed checkpoint every this many ingested events (0: only at the end).
    seal_every: int = 100_000
    #: Ed25519 private key for checkpoints (``govledger keygen`` writes one).
    signing_key: str | None = None
    #: The operator's gate policy file (TOML); None: the normative table of 2.6.8.12.2 alone.
    policy_file: str | None = None
    #: The auditor's own copy of the public key checkpoints are checked against
    #: (``GOVLEDGER_VERIFY_KEY``); kept away from the store, it is what makes ``verify``
    #: and ``project`` independent of whoever can write the store.
    verify_key: str | None = None
    #: The libpq ``PG*`` variables (host, port, user, password, database) that fill in
    #: what a ``postgresql://`` URL leaves out; read by ``from_env``, never shown.
    pg_defaults: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LedgerConfig:
        """
        Read ``GOVLEDGER_*`` variables (from ``os.environ`` unless ``environ`` is given).
        """
        env = os.environ if environ is None else environ
        config = cls()
        overrides: dict[str, object] = {}
        if env.get("GOVLEDGER_STORE"):
            overrides["store"] = env["GOVLEDGER_STORE"]
        if env.get("GOVLEDGER_PROJECTION"):
            overrides["projection"] = env["GOVLEDGER_PROJECTION"]
        if env.get("GOVLEDGER_BATCH_SIZE"):
            overrides["batch_size"] = _positive(env, "GOVLEDGER_BATCH_SIZE")
        if env.get("GOVLEDGER_INGEST_WORKERS"):
            overrides["ingest_workers"] = _positive(
                env, "GOVLEDGER_INGEST_WORKERS", allow_zero=True
            )
        if env.get("GOVLEDGER_SEAL_EVERY"):
            overrides["seal_every"] = _positive(env, "GOVLEDGER_SEAL_EVERY", allow_zero=True)
        if env.get("GOVLEDGER_SIGNING_KEY"):
            overrides["signing_key"] = env["GOVLEDGER_SIGNING_KEY"]
        if env.get("GOVLEDGER_POLICY"):
            overrides["policy_file"] = env["GOVLEDGER_POLICY"]
        if env.get("GOVLEDGER_VERIFY_KEY"):
            overrides["verify_key"] = env["GOVLEDGER_VERIFY_KEY"]
        from ledger.stores._pgurl import PG_VARIABLES  # noqa: PLC0415 - only Postgres users need it

        pg = tuple((name, env[name]) for name in PG_VARIABLES if env.get(name))
        if pg:
            overrides["pg_defaults"] = pg
        return replace(config, **overrides)  # type: ignore[arg-type]

    def with_store(self, store: str) -> LedgerConfig:
        """
        The same configuration on another store.
        """
        return replace(self, store=store)

    def with_policy(self, policy_file: str | None) -> LedgerConfig:
        """
        The same configuration under another gate policy file (None: the built-in table).
        """
        return replace(self, policy_file=policy_file)

    @property
    def is_postgres(self) -> bool:
        """
        Whether ``store`` is a PostgreSQL URL.
        """
        return self.store.startswith(("postgresql://", "postgres://"))

    @property
    def is_memory(self) -> bool:
        """
        Whether ``store`` is an in-memory SQLite database.
        """
        return self.store == _MEMORY

    @property
    def store_label(self) -> str:
        """
        The store as it may be shown to people: never with a password.
        """
        if self.is_postgres:
            from ledger.stores._pgurl import redact  # noqa: PLC0415 - only Postgres users need it

            return redact(self.store)
        return self.store


def _positive(env: Mapping[str, str], name: str, *, allow_zero: bool = False) -> int:
    raw = env[name]
    try:
        value = int(raw)
    except ValueError:
        msg = f"{name} must be a whole number, got {raw!r}"
        raise ValueError(msg) from None
    if value < 0 or (value == 0 and not allow_zero):
        msg = f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}"
        raise ValueError(msg)
    return value
