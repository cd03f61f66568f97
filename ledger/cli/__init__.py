"""``govledger``: the command line, a thin adapter over the runtime ``bootstrap`` wires.

Each verb module (``write``, ``seal``, ``read``) registers its subcommands; every
handler takes the parsed arguments and the ``Runtime`` and returns an exit
status. ``main(argv)`` returns it too, so tests call it in-process.

Exit status: 0 every line accepted or duplicate; 1 a line was rejected or a
check failed (``tamper_detected`` included); 2 usage error; 3 the store or a file
could not be read or written; 130 interrupted (Ctrl-C), with a one-line note of
what was stored. No failure prints a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from ledger.bootstrap import bootstrap
from ledger.cli import output, policy, read, seal, serve, write
from ledger.config import LedgerConfig
from ledger.errors import ConfigurationError, LedgerError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STORE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_INTERRUPTED = 130

_VERBS = (write, read, seal, policy, serve)


def build_parser() -> argparse.ArgumentParser:
    """
    The argument parser with every subcommand.
    """
    parser = argparse.ArgumentParser(
        prog="govledger",
        description="Event-sourced governance ledger (Handshake Master Spec v02.132, 2.6.8.12).",
    )
    parser.add_argument(
        "--store",
        help="event store: SQLite file, :memory:, or postgresql:// URL "
        "(default: $GOVLEDGER_STORE or ./govledger.db)",
    )
    parser.add_argument(
        "--projection",
        help="DuckDB projection file (default: $GOVLEDGER_PROJECTION or ./govledger.duckdb)",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="the operator's gate policy (TOML; default: $GOVLEDGER_POLICY, else the "
        "normative table of 2.6.8.12.2 alone)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _VERBS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run ``govledger`` with ``argv`` and return the exit status.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    try:
        config = LedgerConfig.from_env()
    except ValueError as exc:
        output.print_error(ConfigurationError(str(exc), rule="environment"))
        return EXIT_USAGE
    if args.store:
        config = config.with_store(args.store)
    if args.projection:
        config = replace(config, projection=args.projection)
    if args.policy:
        config = replace(config, policy_file=args.policy)
    try:
        return int(args.handler(args, bootstrap(config)))
    except LedgerError as exc:
        output.print_error(exc)
        return exc.exit_status
    except BrokenPipeError:  # `govledger events | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        # Every write commits whole or not at all: what was acknowledged stays stored.
        output.say(
            f"{args.command}: interrupted; what was reported done before stays stored, "
            "nothing half-written was kept"
        )
        return EXIT_INTERRUPTED
