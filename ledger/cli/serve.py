"""Service verbs: serve (HTTP API), mcp (MCP server), token, and pending/decide for humans."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import orjson

from ledger.bootstrap import Runtime
from ledger.cli import output
from ledger.cli.read import _duckdb_errors
from ledger.errors import ConfigurationError
from ledger.ingest import bulk_gc
from ledger.serve import ROLES, ServeSettings, Tokens, UnknownDecisionError
from ledger.serve._service import outcome_json
from ledger.vocabulary import Decision

__all__ = ["register"]

_MiB = 1 << 20


def register(sub: Any) -> None:
    """
    Add the service subcommands to ``sub``.
    """
    p = sub.add_parser("serve", help="the HTTP API (orchestrators, approvers, auditors)")
    _listen_options(p, port=8707)
    p.add_argument(
        "--max-body",
        type=_size,
        default=16 * _MiB,
        metavar="BYTES",
        help="largest request body, after gzip inflation too (default 16MiB; K/M suffixes)",
    )
    p.add_argument(
        "--seal-interval",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="seal every SECONDS when a signing key is configured (0: only at shutdown)",
    )
    p.set_defaults(handler=_serve)

    p = sub.add_parser("mcp", help="the MCP server for agents (stdio; --http for streamable HTTP)")
    p.add_argument("--http", action="store_true", help="streamable HTTP at /mcp instead of stdio")
    _listen_options(p, port=8708)
    p.set_defaults(handler=_mcp)

    p = sub.add_parser("token", help="API tokens: add, list, revoke")
    verbs = p.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    add = verbs.add_parser("add", help="a new token (printed once; only its hash is kept)")
    add.add_argument("name", help="who holds it: recorded as the user_id of their decisions")
    add.add_argument("--role", required=True, choices=ROLES)
    add.set_defaults(handler=_token_add)
    listing = verbs.add_parser("list", help="every token's name, role and dates (never a token)")
    output_format(listing)
    listing.set_defaults(handler=_token_list)
    revoke = verbs.add_parser("revoke", help="revoke a token: refused from the next request on")
    revoke.add_argument("name")
    revoke.set_defaults(handler=_token_revoke)

    p = sub.add_parser("pending", help="decisions awaiting a human, oldest first")
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.add_argument("--after", type=int, default=0, help="after this store position (paging)")
    output_format(p)
    p.set_defaults(handler=_duckdb_errors(_pending))

    p = sub.add_parser("decide", help="a human answers a decision awaiting a human")
    p.add_argument("decision_id")
    p.add_argument("decision", choices=[d.value for d in Decision])
    p.add_argument("--user", required=True, help="who decides (recorded as the 005's user_id)")
    p.add_argument("--rationale", default="", help="why")
    p.set_defaults(handler=_decide)


def output_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=output.FORMATS, default="table")


def _listen_options(p: argparse.ArgumentParser, *, port: int) -> None:
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 for all)",
    )
    p.add_argument("--port", type=int, default=port, help=f"port (default {port})")


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": _MiB, "g": 1 << 30}
    raw = text.strip().lower().removesuffix("ib").removesuffix("b")
    scale = units.get(raw[-1:], 1)
    number = raw[:-1] if raw[-1:] in units else raw
    try:
        value = int(float(number) * scale)
    except ValueError:
        msg = f"not a size: {text!r} (e.g. 16M, 1048576)"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = "must be at least 1 byte"
        raise argparse.ArgumentTypeError(msg)
    return value


def _settings(args: argparse.Namespace) -> ServeSettings:
    if not 0 < args.port < 65536:  # noqa: PLR2004
        msg = "--port must be 1-65535"
        raise ConfigurationError(msg, field="port", rule="range")
    defaults = ServeSettings()
    return ServeSettings(
        host=args.host,
        port=args.port,
        max_body=getattr(args, "max_body", defaults.max_body),
        seal_interval=max(0.0, getattr(args, "seal_interval", defaults.seal_interval)),
    )


def _where(settings: ServeSettings) -> str:
    if settings.host in ("127.0.0.1", "localhost", "::1"):
        return "this machine only (the default; --host 0.0.0.0 listens on every interface)"
    return "EVERY client that can reach this address: put TLS in front of it"


def _preflight(runtime: Runtime) -> None:
    # Fail here with the usual one-line error (exit 2 or 3), not inside the server's startup.
    runtime.signing_key()
    with runtime.ledger() as ledger:
        ledger.max_position()


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s: %(message)s")


@contextmanager
def _graceful_exit() -> Iterator[None]:
    """
    SIGTERM/SIGINT end the server after it drained its requests, with exit status 0.

    uvicorn restores the handlers it found and raises the signal again once it has shut
    down; with these in place, that second delivery does nothing and ``main`` returns 0.
    """
    previous = {sig: signal.signal(sig, _drained) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drained(_signum: int, _frame: FrameType | None) -> None:
    """
    The signal uvicorn raises again after its graceful shutdown: already handled.
    """


def _needs_the_serve_extra() -> None:
    try:
        import fastapi  # noqa: F401, PLC0415
        import mcp  # noqa: F401, PLC0415
        import uvicorn  # noqa: F401, PLC0415
    except ImportError:
        msg = "the server needs the serve extra: pip install 'govledger[serve]'"
        raise ConfigurationError(msg, rule="dependency") from None


def _serve(args: argparse.Namespace, runtime: Runtime) -> int:
    _needs_the_serve_extra()
    import uvicorn  # noqa: PLC0415 - only the server needs it

    settings = _settings(args)
    _preflight(runtime)
    _logging()
    sealing = (
        f"sealing every {settings.seal_interval:g}s and at shutdown"
        if runtime.signing_key() is not None and settings.seal_interval > 0
        else ("sealing at shutdown" if runtime.signing_key() is not None else "no signing key")
    )
    output.say(
        f"serve: http://{settings.host}:{settings.port} for {_where(settings)}; store "
        f"{runtime.config.store_label}; body limit {settings.max_body} bytes; {sealing}"
    )
    server = uvicorn.Server(
        uvicorn.Config(
            runtime.http_app(settings),
            host=settings.host,
            port=settings.port,
            access_log=False,  # the app logs each request itself, without ids or tokens
            log_level="info",
            log_config=None,
        )
    )
    # The server owns its process: the collector tuning `govledger ingest` uses applies here.
    with _graceful_exit(), bulk_gc():
        server.run()
    return 0 if server.started else 3


def _mcp(args: argparse.Namespace, runtime: Runtime) -> int:
    _needs_the_serve_extra()
    settings = _settings(args)
    _preflight(runtime)
    _logging()
    mcp = runtime.mcp_server(settings)
    if args.http:
        output.say(
            f"mcp: streamable HTTP at http://{settings.host}:{settings.port}/mcp for "
            f"{_where(settings)}; bearer tokens required"
        )
        with _graceful_exit():
            mcp.run_http()
    else:
        mcp.run_stdio()
    return 0


def _token_add(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger() as ledger:
        token = Tokens.of(ledger).add(args.name, args.role)
    sys.stdout.buffer.write(
        orjson.dumps({"name": args.name, "role": args.role, "token": token}) + b"\n"
    )
    output.say("token: shown once; only its hash is kept in the store")
    return 0


def _token_list(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger() as ledger:
        rows = Tokens.of(ledger).list()
    columns = ("name", "role", "created_at", "revoked_at")
    output.render(columns, [tuple(row[c] for c in columns) for row in rows], args.format)
    return 0


def _token_revoke(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger() as ledger:
        Tokens.of(ledger).revoke(args.name)
    output.say(f"token: revoked {args.name!r}")
    return 0


def _waited(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def _pending(args: argparse.Namespace, runtime: Runtime) -> int:
    if args.limit < 1 or args.after < 0:
        msg = "--limit must be at least 1 and --after at least 0"
        raise ConfigurationError(msg, field="limit", rule="range")
    with runtime.ledger() as ledger:
        _, rows = runtime.decisions(ledger, "awaiting_human", after=args.after, limit=args.limit)
    columns = (
        "position",
        "decision_id",
        "gate_type",
        "target_ref",
        "automation_level",
        "awaiting_since",
        "waited",
        "waited_seconds",
    )
    table = [
        tuple(_waited(row["waited_seconds"]) if c == "waited" else row[c] for c in columns)
        for row in rows
    ]
    output.render(columns, table, args.format)
    return 0


def _decide(args: argparse.Namespace, runtime: Runtime) -> int:
    with runtime.ledger() as ledger:
        if ledger.gate(args.decision_id) is None:
            raise UnknownDecisionError(
                f"no decision {args.decision_id!r} in the store", field="decision_id", rule="exists"
            )
        outcome = ledger.record_human_decision(
            args.decision_id, args.user, args.decision, args.rationale
        )
    sys.stdout.buffer.write(orjson.dumps(outcome_json(outcome)) + b"\n")
    shown = " (already recorded: nothing new stored)" if outcome.replayed else ""
    output.say(f"decide: {args.decision_id} is {outcome.status}{shown}")
    return 0
