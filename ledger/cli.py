"""``govledger``: the command line, and the composition root.

This is the only module that wires the write side, the read side and the
configuration together; everything else depends one way. ``main(argv)``
returns the exit status, so tests call it in-process.

Exit status: 0 every line accepted or duplicate; 1 a line was rejected or a
check failed; 2 usage error; 3 the store could not be read or written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ledger import _cli_write
from ledger.config import LedgerConfig
from ledger.errors import LedgerError, StoreError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_STORE", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3

#: Modules that add subcommands: each has ``register(subparsers)``.
_COMMAND_MODULES = [_cli_write]


def _optional_command_modules() -> list[object]:
    modules: list[object] = []
    try:
        from projections import cli as projection_cli  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the read side ships in the same wheel
        pass
    else:
        modules.append(projection_cli)
    try:
        from ledger import _cli_seal  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        pass
    else:
        modules.append(_cli_seal)
    return modules


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in [*_COMMAND_MODULES, *_optional_command_modules()]:
        module.register(sub)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 - one exit per outcome
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
        print(f"govledger: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.store:
        config = config.with_store(args.store)
    if args.projection:
        from dataclasses import replace  # noqa: PLC0415

        config = replace(config, projection=args.projection)
    try:
        return int(args.handler(args, config))
    except SystemExit as exc:  # a handler's usage error (e.g. an unreadable input file)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except StoreError as exc:
        _print_error(exc)
        return EXIT_STORE
    except LedgerError as exc:
        _print_error(exc)
        return EXIT_FAILED
    except BrokenPipeError:  # `govledger events | head`: the reader left, not an error
        sys.stderr.close()
        return EXIT_OK


def _print_error(exc: LedgerError) -> None:
    import orjson  # noqa: PLC0415

    sys.stderr.write(orjson.dumps({"error": exc.as_dict()}).decode() + "\n")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
