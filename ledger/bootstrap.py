"""The composition root: ``bootstrap(config)`` wires the ledger, its keys and its projection.

Entry points (the CLI, and the HTTP and MCP servers) ask the ``Runtime`` it
returns for what they need; nothing else constructs a ``GovernanceLedger``, reads
a key file or opens the projection. Everything is built when first asked for,
so a verb that only validates events never opens a store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.application import GovernanceLedger
from ledger.config import LedgerConfig
from ledger.decision_state import Status
from ledger.errors import ConfigurationError, InvalidSchemaError, KeyUnusableError
from ledger.policy import BUILTIN, GatePolicy
from ledger.trust import (
    SigningKey,
    TrustedKey,
    VerifierKey,
    load_signing_key,
    trusted,
    trusted_key,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import duckdb

    from ledger.serve import ServeSettings
    from ledger.stores import StoreMeta

__all__ = ["Runtime", "bootstrap", "load_policy"]

_UNLOADED = object()


@dataclass
class Runtime:
    """
    The wired application: configuration, gate policy, and factories for what uses them.
    """

    config: LedgerConfig
    policy: GatePolicy = BUILTIN
    _signing_key: object = field(default=_UNLOADED, repr=False)

    @contextmanager
    def ledger(self, *, create: bool = True) -> Iterator[GovernanceLedger]:
        """
        The ledger on the configured store, closed when the block ends.

        ``create=False`` (every verb that only reads) opens an existing store only: a
        store that does not exist is ``StoreError`` naming it, and no file is left behind.
        """
        with GovernanceLedger(self.config, policy=self.policy, create=create) as ledger:
            yield ledger

    def signing_key(self) -> SigningKey | None:
        """
        The configured signing key (``KeyUnusableError`` if it is named but unusable).
        """
        if self._signing_key is _UNLOADED:
            self._signing_key = load_signing_key(self.config)
        key = self._signing_key
        assert key is None or isinstance(key, SigningKey)  # noqa: S101 - set just above
        return key

    def trusted_key(self, given: str | None = None) -> VerifierKey:
        """
        The key checkpoints are checked against: ``given`` (a file) or the store's own.
        """
        return trusted_key(self.config, given)

    def trusted(self, given: str | None = None) -> TrustedKey:
        """
        ``trusted_key`` with whether it is the auditor's own ("key") or the store's ("self").
        """
        return trusted(self.config, given)

    def checking_key(self) -> VerifierKey | None:
        """
        The key the read side checks checkpoints with; None when none is at hand at all.
        """
        try:
            return trusted(self.config).key
        except KeyUnusableError:
            if self.config.verify_key or self.config.signing_key:
                raise  # named, but unusable: say so rather than check less
            return None

    def projection(
        self,
        *,
        read_only: bool = False,
        store: StoreMeta | None = None,
        rebuild: bool = False,
        allow: Sequence[str | Path] = (),
    ) -> duckdb.DuckDBPyConnection:
        """
        The DuckDB projection file, opened for as short a time as the caller needs it.

        ``store``: the store it must have been built from (refused otherwise, unless
        ``rebuild``); read-only connections are sandboxed (``allow``: directories an
        export may write).
        """
        from projections import open_projection  # noqa: PLC0415 - the read side, when asked

        return open_projection(
            self.config.projection, read_only=read_only, store=store, rebuild=rebuild, allow=allow
        )

    def decisions(
        self,
        ledger: GovernanceLedger,
        status: str,
        *,
        after: int = 0,
        limit: int = 100,
        now: datetime | None = None,
    ) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        """
        A page of decisions by status, oldest first: (columns, rows as dicts).

        Read from the DuckDB projection, caught up with ``ledger``'s store first, so a
        decision this process just recorded is listed. The one source of
        ``GET /v1/decisions``, MCP ``list_pending`` and ``govledger pending``.
        """
        from projections import catch_up, cut, decisions_by_status  # noqa: PLC0415

        if status not in Status.__members__.values():
            raise InvalidSchemaError(
                f"status: must be one of {', '.join(s.value for s in Status)}",
                field="status",
                rule="enum",
            )
        con = self.projection(store=ledger.store.meta)
        try:
            if cut(con) is None:  # an as-of replay file is frozen: reported as it is
                catch_up(ledger, con, key=self.checking_key(), label=self.config.store_label)
            result = decisions_by_status(con, status, after=after, limit=limit, now=now)
        finally:
            con.close()
        return result.columns, [dict(zip(result.columns, row, strict=True)) for row in result.rows]

    def http_app(self, settings: ServeSettings) -> Any:
        """
        The HTTP API (an ASGI application) over this runtime (``govledger serve``).
        """
        from ledger.serve.http import create_app  # noqa: PLC0415 - the server, when asked

        return create_app(self, settings)

    def mcp_server(self, settings: ServeSettings) -> Any:
        """
        The MCP server over this runtime (``govledger mcp``).
        """
        from ledger.serve.mcp import create_server  # noqa: PLC0415 - the server, when asked

        return create_server(self, settings)


def bootstrap(config: LedgerConfig | None = None, *, policy: GatePolicy | None = None) -> Runtime:
    """
    The runtime for ``config`` (default: ``LedgerConfig.from_env()``).

    The gate policy is ``policy``, else the operator's file ``config.policy_file``, else
    the normative table alone; a file that cannot be used is refused here, at start-up
    (``ConfigurationError``), before anything is judged under it.
    """
    config = config or LedgerConfig.from_env()
    if policy is None:
        policy = load_policy(config.policy_file) if config.policy_file else BUILTIN
    return Runtime(config, policy)


def load_policy(path: str) -> GatePolicy:
    """
    The operator's gate policy file, validated (``ConfigurationError`` naming why).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        msg = f"cannot read the gate policy file {path}: {why}"
        raise ConfigurationError(msg, field="policy", rule="readable") from None
    return GatePolicy.from_toml(text, path)
