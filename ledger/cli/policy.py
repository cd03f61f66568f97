"""Policy verbs: ``policy show`` (the gate policy in force) and ``policy check FILE``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from ledger.bootstrap import Runtime, load_policy
from ledger.cli._args import example
from ledger.policy import GatePolicy

__all__ = ["register"]


def register(sub: Any) -> None:
    """
    Add the policy verbs to ``sub``.
    """
    p = sub.add_parser(
        "policy",
        help="the gate policy: show the one in force, or check a file",
        epilog=example("govledger policy show", "govledger policy check ops-policy.toml"),
    )
    verbs = p.add_subparsers(dest="policy_verb", required=True, metavar="VERB")
    show = verbs.add_parser(
        "show",
        help="the gate policy in force, its version and digest",
        epilog=example("govledger policy show", "govledger --policy ops-policy.toml policy show"),
    )
    show.set_defaults(handler=_show)
    check = verbs.add_parser(
        "check",
        help="validate a policy file without using it",
        epilog=example("govledger policy check ops-policy.toml"),
    )
    check.add_argument("file", help="the TOML policy file")
    check.set_defaults(handler=_check)


def _describe(policy: GatePolicy, source: str | None) -> bytes:
    document = {
        "version": policy.version,
        "digest": policy.digest,
        "source": source or "builtin (the normative table of 2.6.8.12.2)",
        "policy": orjson.loads(policy.canonical()),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def _show(_args: argparse.Namespace, runtime: Runtime) -> int:
    sys.stdout.buffer.write(_describe(runtime.policy, runtime.config.policy_file))
    return 0


def _check(args: argparse.Namespace, _runtime: Runtime) -> int:
    # Invalid: ConfigurationError (exit 2, one JSON line naming the gate, the level and why).
    sys.stdout.buffer.write(_describe(load_policy(args.file), args.file))
    return 0
