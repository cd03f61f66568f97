"""PostgreSQL URLs: the eventsourcing environment they mean, and a form safe to show.

Credentials come from the URL first, then from the standard libpq variables
(``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``), which
``LedgerConfig.from_env`` reads and hands over as ``defaults``: this module
never looks at the process environment itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

__all__ = ["PG_VARIABLES", "eventsourcing_env", "password_of", "redact"]

#: The libpq variables a URL may leave to the environment.
PG_VARIABLES: Final = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")

_NO_DEFAULTS: Mapping[str, str] = {}


def redact(url: str) -> str:
    """
    ``url`` without its password (never shown in output or errors).
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def password_of(url: str, defaults: Mapping[str, str] = _NO_DEFAULTS) -> str:
    """
    The password the connection will use ("" if none), so errors can be scrubbed of it.
    """
    password = urlsplit(url).password
    return unquote(password) if password is not None else defaults.get("PGPASSWORD", "")


def eventsourcing_env(url: str, defaults: Mapping[str, str] = _NO_DEFAULTS) -> dict[str, str]:
    """
    ``eventsourcing.postgres`` settings for ``postgresql://user:pw@host:port/db?schema=s``.

    A part the URL leaves out comes from ``defaults`` (the ``PG*`` variables), then
    from the defaults of a local development server (``postgres@127.0.0.1:5432``).
    Query parameters: ``schema`` (created if missing; default ``public``),
    ``pool_size`` (connections kept open per process; default 2) and
    ``connect_timeout`` (seconds to wait for a connection; default 10).
    """
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    user = unquote(parts.username) if parts.username else defaults.get("PGUSER", "postgres")
    env = {
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/"))
        or defaults.get("PGDATABASE", "postgres"),
        "POSTGRES_HOST": parts.hostname or defaults.get("PGHOST", "127.0.0.1"),
        "POSTGRES_PORT": str(parts.port or defaults.get("PGPORT", "5432")),
        "POSTGRES_USER": user,
        "POSTGRES_PASSWORD": password_of(url, defaults),
        # Seconds to wait for a pooled connection: a down server fails fast and clearly.
        "POSTGRES_CONNECT_TIMEOUT": query.get("connect_timeout", "10"),
        # Check a pooled connection before use, so a server restart or an idle connection
        # closed by the server costs nothing; only a transaction in flight can fail.
        "POSTGRES_PRE_PING": "y",
        # A CLI process needs few connections; several orchestrators share one server.
        "POSTGRES_POOL_SIZE": query.get("pool_size", "2"),
    }
    if query.get("schema"):
        env["POSTGRES_SCHEMA"] = query["schema"]
    return env
