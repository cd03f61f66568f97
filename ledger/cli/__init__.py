"""``govledger``: the command line, a thin adapter over the runtime ``bootstrap`` wires.

Each verb module (``write``, ``read``, ``seal``, ``evidence``, ``status``, ...)
registers its subcommands; every handler takes the parsed arguments and the
``Runtime`` and returns an exit status. ``main(argv)`` returns it too, so tests call
it in-process.

The same commands serve people and pipelines. Whether a person is reading is
decided once per run (``main(terminal=...)``, else whether stdout and stderr are
terminals): a pipeline gets JSON Lines and JSON errors exactly as before, a person
readable lines, a summary and one-line errors that say what to do. The global
options (``--store``, ``--projection``, ``--policy``, ``-f/--format``,
``-q/--quiet``) are accepted before the verb and after it.

Exit status: 0 every line accepted or duplicate; 1 a line was rejected or a
check failed (``tamper_detected`` included); 2 usage error; 3 the store or a file
could not be read or written; 130 interrupted (Ctrl-C), with a one-line note of
what was stored. No failure prints a traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from importlib import metadata
from typing import Any, NoReturn

from ledger.bootstrap import bootstrap
from ledger.cli import output, policy, read, seal, serve, status, write
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

_VERBS = (write, read, status, seal, policy, serve)

_EXAMPLES = """\
examples:
  govledger demo                                 a sample ledger in ./govledger.db
  govledger status                               what the store and projection hold
  govledger ingest events.jsonl                  judge and store FR-EVT-GOV events
  govledger audit summary --since 2026-11-01T00:00:00Z
  govledger report -o report.html                the oversight report (HTML)
  govledger audit evidence -o pack.zip --since 2026-11-01T00:00:00Z
  govledger COMMAND --help                       options and an example for each command
"""


class UsageError(ConfigurationError):
    """
    A command line argparse refused: exit 2, as one error line like every other.
    """


class _Formatter(argparse.HelpFormatter):
    """
    Help with descriptions wrapped, examples laid out as written (lines that start with a
    space, and the ``examples:`` line), and each option's default where it has one.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out: list[str] = []
        for paragraph in text.split("\n"):
            if paragraph.startswith(" ") or paragraph.rstrip().endswith(":"):
                out.append(indent + paragraph)
            else:
                out.append(super()._fill_text(paragraph, width, indent))
        return "\n".join(out)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            text
            and "%(default)" not in text
            and "default" not in text
            and default not in (None, False, argparse.SUPPRESS, [])
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """
    argparse, except that a usage error is a ``UsageError`` (printed by ``main``).
    """

    def error(self, message: str) -> NoReturn:
        found = re.search(r"argument (?:-\w, )?(--?[\w-]+|[A-Z_]+|[a-z_]+)", message)
        required = re.search(r"required: (--?[\w-]+|[A-Za-z_]+)", message)
        name = (found or required).group(1) if (found or required) else "arguments"  # type: ignore[union-attr]
        field = name.lstrip("-").replace("-", "_").lower()
        raise UsageError(f"{message} (see {self.prog} --help)", field=field, rule="usage")


#: Options every command takes, before or after its verb: (flags, keywords).
_GLOBAL: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (
        ("--store",),
        {
            "metavar": "PATH|URL",
            "help": "event store: SQLite file, :memory:, or postgresql:// URL "
            "(default: $GOVLEDGER_STORE or ./govledger.db)",
        },
    ),
    (
        ("--projection",),
        {
            "metavar": "FILE",
            "help": "DuckDB projection file (default: $GOVLEDGER_PROJECTION or ./govledger.duckdb)",
        },
    ),
    (
        ("--policy",),
        {
            "metavar": "FILE",
            "help": "the operator's gate policy (TOML; default: $GOVLEDGER_POLICY, else the "
            "normative table of 2.6.8.12.2 alone)",
        },
    ),
    (
        ("-f", "--format"),
        {
            "choices": output.FORMATS,
            "help": "table: for people (aligned columns, readable lines; the default, except "
            "that ingest and validate write JSON Lines when stdout is not a terminal); "
            "json; csv. With json, errors are JSON on a terminal too",
        },
    ),
    (
        ("-q", "--quiet"),
        {
            "action": "store_true",
            "help": "no progress bar, summary, notes or warnings (errors still print)",
        },
    ),
)


def _add_globals(p: argparse.ArgumentParser, *, top: bool) -> None:
    taken = {s for action in p._actions for s in action.option_strings}  # noqa: SLF001
    for flags, options in _GLOBAL:
        if taken & set(flags):
            continue
        settings = dict(options)
        if top:
            settings.setdefault("default", False if settings.get("action") else None)
        else:
            # A value given after the verb wins; one not given leaves the one before it.
            settings["default"] = argparse.SUPPRESS
        p.add_argument(*flags, **settings)


def _subparsers(p: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in p._actions:  # noqa: SLF001 - argparse keeps its subparsers here
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            yield from dict.fromkeys(action.choices.values())


def _finish(p: argparse.ArgumentParser) -> None:
    """
    Every command below ``p``: the global options, and its name for messages.
    """
    for child in _subparsers(p):
        _add_globals(child, top=False)
        child.formatter_class = _Formatter
        child.set_defaults(verb=child.prog.removeprefix("govledger").strip())
        _finish(child)


def build_parser() -> argparse.ArgumentParser:
    """
    The argument parser with every subcommand.
    """
    parser = _Parser(
        prog="govledger",
        description="Event-sourced governance ledger (Handshake Master Spec v02.132, 2.6.8.12).",
        epilog=_EXAMPLES,
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"govledger {_version()}", help="print the version"
    )
    _add_globals(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _VERBS:
        module.register(sub)
    _finish(parser)
    return parser


def _version() -> str:
    try:
        return metadata.version("govledger")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _detect(terminal: bool | None) -> tuple[bool, bool]:  # noqa: FBT001 - main's keyword
    if terminal is not None:
        return terminal, terminal
    return _isatty(sys.stdout), _isatty(sys.stderr)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _format_given(argv: Sequence[str]) -> str | None:
    """
    ``--format`` as written in ``argv``, for an error argparse raised before parsing it.
    """
    found = None
    for n, arg in enumerate(argv):
        if arg in ("-f", "--format") and n + 1 < len(argv):
            found = argv[n + 1]
        elif arg.startswith("--format="):
            found = arg.partition("=")[2]
        elif arg.startswith("-f") and len(arg) > 2 and not arg.startswith("--"):  # noqa: PLR2004
            found = arg[2:]
    return found


def main(argv: Sequence[str] | None = None, *, terminal: bool | None = None) -> int:
    """
    Run ``govledger`` with ``argv`` and return the exit status.

    ``terminal``: whether a person reads stdout and stderr (None: ask the streams). Tests
    pass it to see what a terminal shows without one.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    stdout_tty, stderr_tty = _detect(terminal)
    parser = build_parser()
    try:
        args = parser.parse_args(words)
    except SystemExit as exc:  # --help and --version exit 0
        return int(exc.code or 0)
    except UsageError as exc:
        console = output.Console(stdout_tty, stderr_tty, format=_format_given(words))
        with output.using(console):
            output.print_error(exc)
        return EXIT_USAGE
    console = output.Console(
        stdout_tty, stderr_tty, quiet=args.quiet, format=args.format, verb=args.verb
    )
    with output.using(console):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
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
            "nothing half-written was kept",
            always=True,
        )
        return EXIT_INTERRUPTED
