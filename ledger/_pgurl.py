"""PostgreSQL URLs: the eventsourcing environment they mean, and a form safe to show."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["eventsourcing_env", "redact"]


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


def eventsourcing_env(url: str) -> dict[str, str]:
    """
    ``eventsourcing.postgres`` settings for ``postgresql://user:pw@host:port/db?schema=s``.

    Parts the URL leaves out are left out here too, so psycopg falls back to the
    standard ``PG*`` variables and its own defaults.
    """
    parts = urlsplit(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "ledger._pgstore:GovPostgresRecorder",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
    }
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key == "schema" and value:
            env["POSTGRES_SCHEMA"] = unquote(value)
    return env
