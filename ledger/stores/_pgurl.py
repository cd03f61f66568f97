"""PostgreSQL URLs: the eventsourcing environment they mean, and a form safe to show.

Credentials come from the URL first, then from the standard libpq variables
(``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``), which
``LedgerConfig.from_env`` reads and hands over as ``defaults``: this module
never looks at the process environment itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit, urlunsplit

from ledger.errors import ConfigurationError

__all__ = ["PG_VARIABLES", "eventsourcing_env", "password_of", "redact"]

#: The libpq variables a URL may leave to the environment.
PG_VARIABLES: Final = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")

_NO_DEFAULTS: Mapping[str, str] = {}


#: Query parameters whose values are secrets (libpq's ``password``, and look-alikes).
_SECRET_PARAMETER: Final = re.compile(r"(?i)(pass|secret|token|key)")


def redact(url: str) -> str:
    """
    ``url`` without its password (never shown in output or errors), from any part of it.
    """
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        # Unparseable: show the scheme only, never a part that might hold a secret.
        return url.split("://", 1)[0] + "://***" if "://" in url else "***"
    if password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        user = parts.username or ""
        parts = parts._replace(netloc=f"{user}:***@{netloc}")
    if parts.query:
        query = "&".join(
            f"{name}=***" if _SECRET_PARAMETER.search(name) else pair
            for pair in parts.query.split("&")
            for name in [unquote(pair.split("=", 1)[0])]
        )
        parts = parts._replace(query=query)
    if parts.fragment:
        parts = parts._replace(fragment="***")
    return urlunsplit(parts)


def _parsed(url: str) -> tuple[SplitResult, dict[str, str]]:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port that is not a number in range
    except ValueError as exc:
        msg = f"the PostgreSQL URL {redact(url)} cannot be read: {exc}"
        raise ConfigurationError(msg, field="store", rule="url") from None
    return parts, dict(parse_qsl(parts.query))


def password_of(url: str, defaults: Mapping[str, str] = _NO_DEFAULTS) -> str:
    """
    The password the connection will use ("" if none), so errors can be scrubbed of it.
    """
    parts, query = _parsed(url)
    if parts.password is not None:
        return unquote(parts.password)
    return query.get("password") or defaults.get("PGPASSWORD", "")


def _whole(query: Mapping[str, str], name: str, default: str, url: str) -> str:
    raw = query.get(name, default)
    if not raw.isdigit() or int(raw) < 1:
        msg = f"the PostgreSQL URL {redact(url)}: {name} must be a whole number >= 1, got {raw!r}"
        raise ConfigurationError(msg, field="store", rule=name)
    return raw


def eventsourcing_env(url: str, defaults: Mapping[str, str] = _NO_DEFAULTS) -> dict[str, str]:
    """
    ``eventsourcing.postgres`` settings for ``postgresql://user:pw@host:port/db?schema=s``.

    A part the URL leaves out comes from ``defaults`` (the ``PG*`` variables), then
    from the defaults of a local development server (``postgres@127.0.0.1:5432``).
    Query parameters: ``schema`` (created if missing; default ``public``),
    ``pool_size`` (connections kept open per process; default 2) and
    ``connect_timeout`` (seconds to wait for a connection; default 10).
    """
    parts, query = _parsed(url)
    user = unquote(parts.username) if parts.username else defaults.get("PGUSER", "postgres")
    port = str(parts.port or defaults.get("PGPORT", "5432"))
    if not port.isdigit() or not 0 < int(port) < 65536:  # noqa: PLR2004
        msg = f"the PostgreSQL URL {redact(url)}: the port must be 1..65535, got {port!r}"
        raise ConfigurationError(msg, field="store", rule="port")
    env = {
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/"))
        or defaults.get("PGDATABASE", "postgres"),
        "POSTGRES_HOST": parts.hostname or defaults.get("PGHOST", "127.0.0.1"),
        "POSTGRES_PORT": port,
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password_of(url, defaults),
        # Seconds to wait for a pooled connection: a down server fails fast and clearly.
        "POSTGRES_CONNECT_TIMEOUT": _whole(query, "connect_timeout", "10", url),
        # Check a pooled connection before use, so a server restart or an idle connection
        # closed by the server costs nothing; only a transaction in flight can fail.
        "POSTGRES_PRE_PING": "y",
        # A CLI process needs few connections; several orchestrators share one server.
        "POSTGRES_POOL_SIZE": _whole(query, "pool_size", "2", url),
    }
    if query.get("schema"):
        env["POSTGRES_SCHEMA"] = query["schema"]
    return env
