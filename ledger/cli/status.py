"""``govledger status``: like ``git status`` for the ledger, read-only.

The store (where, its id), what it holds (events, decisions, the newest event, the
refusal journal), how much of each log a signed checkpoint covers, the projection
(its position and how far behind it is), the gate policy in force, and what to run
next. It never creates a store or a projection and never writes to either: a store
that does not exist is ``store_unavailable`` (exit 3), as for every verb that reads,
so a script that checks a ledger cannot mistake a mistyped path for an empty one;
on a terminal that error is one line that says how to create one.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

import projections
from ledger.bootstrap import Runtime
from ledger.cli import output
from ledger.errors import LedgerError
from ledger.trust import EVENTS, REFUSALS, CheckpointStore

__all__ = ["collect", "register"]


def register(sub: Any) -> None:
    """
    Add ``status`` to ``sub``.
    """
    p = sub.add_parser(
        "status",
        help="what the store and its projection hold, and what to run next (read-only)",
        description="The store (where, its id), its events and decisions, the newest event, "
        "the last checkpoint of both logs and the unsealed tail, the projection's position "
        "and lag, the gate policy in force, and what to run next. Creates and writes nothing.",
        epilog="examples:\n  govledger status\n  govledger status -f json | jq .projection.lag",
    )
    p.set_defaults(handler=_status)


def _kind(runtime: Runtime) -> str:
    if runtime.config.is_postgres:
        return "postgresql"
    return "memory" if runtime.config.is_memory else "sqlite"


def _checkpoint(ledger: Any, log: Any, entries: int) -> dict[str, Any] | None:
    latest = CheckpointStore.of(ledger, log).latest()
    if latest is None:
        return None
    return {
        "seq": latest.seq,
        "tree_size": latest.tree_size,
        "last_position": latest.last_position,
        "sealed_at": latest.sealed_at,
        "unsealed": max(entries - latest.tree_size, 0),
    }


def collect(runtime: Runtime) -> dict[str, Any]:
    """
    Everything ``status`` shows, as one JSON-ready document.
    """
    config = runtime.config
    with runtime.ledger(create=False) as ledger:
        meta = ledger.store.meta
        tally = ledger.tally()
        last = ledger.max_position()
        newest = None
        if last:
            for position, state in ledger.stored_events(start=last, limit=1):
                fr = orjson.loads(state)
                newest = {
                    "position": position,
                    "type": fr.get("type"),
                    "decision_id": fr.get("decision_id"),
                    "timestamp": fr.get("timestamp"),
                    "recorded_at": ledger.commit_time(position),
                }
        sealed = {
            EVENTS.name: _checkpoint(ledger, EVENTS, tally.events),
            REFUSALS.name: _checkpoint(ledger, REFUSALS, tally.refusals),
        }
    try:
        signing = runtime.signing_key()
        key: dict[str, Any] = {"signing_key": signing.name if signing else None}
    except LedgerError as exc:
        key = {"signing_key": None, "problem": exc.message}
    projection = projections.describe(config.projection, meta)
    if "events" in projection:
        projection["lag"] = max(tally.events - int(projection["events"]), 0)
        projection["refusals_lag"] = max(
            tally.last_refusal - int(projection.get("refusals_position", 0)), 0
        )
    document: dict[str, Any] = {
        "store": {
            "location": config.store_label,
            "kind": _kind(runtime),
            "id": meta.store_id,
            "layout": meta.layout,
        },
        "events": tally.events,
        "decisions": tally.decisions,
        "last_position": last,
        "newest_event": newest,
        "refusals": tally.refusals,
        "checkpoints": sealed,
        "key": key,
        "projection": projection,
        "policy": {
            "version": runtime.policy.version,
            "digest": runtime.policy.digest,
            "source": config.policy_file or "the normative table of 2.6.8.12.2",
        },
    }
    document["next"] = _next(document)
    return document


def _next(d: dict[str, Any]) -> list[str]:  # noqa: C901 - one rule per line
    """
    What to run next, most urgent first.
    """
    steps: list[str] = []
    if not d["events"] and not d["refusals"]:
        steps.append("govledger ingest FILE (or govledger demo, into a store of its own)")
    signing = d["key"].get("signing_key")
    unsealed = [
        name
        for name, cp in d["checkpoints"].items()
        if (cp is None and d["events" if name == EVENTS.name else "refusals"])
        or (cp is not None and cp["unsealed"])
    ]
    if d["key"].get("problem"):
        steps.append("fix the signing key (GOVLEDGER_SIGNING_KEY), then govledger seal")
    elif signing is None and d["store"]["kind"] != "memory" and (d["events"] or d["refusals"]):
        steps.append("govledger keygen, then govledger seal (nothing is sealed without a key)")
    elif unsealed:
        logs = " and ".join(unsealed) + (" logs have" if len(unsealed) > 1 else " log has")
        steps.append(f"govledger seal (the {logs} an unsealed tail)")
    state = d["projection"]["state"]
    if state in ("missing", "empty") and d["events"]:
        steps.append("govledger project")
    elif state in ("other_store", "older"):
        steps.append("govledger project --rebuild (or give another --projection)")
    elif state == "foreign":
        steps.append("give another --projection: that file is not a govledger projection")
    elif state == "ready" and (d["projection"].get("lag") or d["projection"].get("refusals_lag")):
        steps.append("govledger project (or any audit command, which catches up first)")
    if d["checkpoints"][EVENTS.name] is not None:
        steps.append("govledger verify --key YOUR_COPY_OF_THE_PUBLIC_KEY.pub")
    if d["events"]:
        steps.append("govledger audit summary")
        steps.append("govledger report -o report.html")
    return steps


def _status(args: argparse.Namespace, runtime: Runtime) -> int:
    document = collect(runtime)
    fmt = args.format or "table"
    if fmt == "json":
        sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    elif fmt == "csv":
        rows = list(_flat(document))
        output.render(("field", "value"), rows, "csv")
    else:
        sys.stdout.write(_readable(document))
    return 0


def _flat(value: Any, prefix: str = "") -> Any:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flat(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list):
        yield prefix, "; ".join(str(v) for v in value)
    else:
        yield prefix, value


def _n(value: int) -> str:
    return f"{value:,}"


def _readable(d: dict[str, Any]) -> str:
    e = output.escape
    store = d["store"]
    lines = [("store", f"{e(store['location'])} ({store['kind']}), id {store['id']}")]
    events = f"{_n(d['events'])} in {_n(d['decisions'])} decisions"
    newest = d["newest_event"]
    if newest is not None:
        events += (
            f"; newest at position {newest['position']}: {e(str(newest['type']))} of "
            f"{e(str(newest['decision_id']))}, stamped {e(str(newest['timestamp']))}, "
            f"committed {newest['recorded_at']}"
        )
    lines.append(("events", events))
    lines.append(("refusals", f"{_n(d['refusals'])} in the refusal journal"))
    for name, cp in d["checkpoints"].items():
        label = "sealed" if name == EVENTS.name else ""
        if cp is None:
            text = f"{name}: no checkpoint yet"
        else:
            tail = f", {_n(cp['unsealed'])} unsealed after it" if cp["unsealed"] else ", all sealed"
            text = (
                f"{name}: checkpoint #{cp['seq']} covers {_n(cp['tree_size'])}{tail}; "
                f"signed {cp['sealed_at']}"
            )
        lines.append((label, text))
    key = d["key"]
    if key.get("problem"):
        lines.append(("key", f"signing key unusable: {e(key['problem'])}"))
    else:
        lines.append(("key", e(key["signing_key"] or "no signing key configured")))
    p = d["projection"]
    where = e(p["file"])
    state = p["state"]
    if state in ("ready", "as_of"):
        lag = p.get("lag", 0)
        behind = f"{_n(lag)} events behind the store" if lag else "up to date with the store"
        if p.get("refusals_lag"):
            behind += f", {_n(p['refusals_lag'])} refusals behind"
        frozen = f" (an as-of replay, frozen at {p['as_of']})" if state == "as_of" else ""
        text = f"{where} at position {p['position']}: {behind}{frozen}"
    else:
        text = f"{where}: " + {
            "missing": "not built yet",
            "empty": "empty",
            "busy": "held by another process (project --follow?)",
            "foreign": "not a govledger projection",
            "older": "written by another layout",
            "other_store": f"built from another store ({p.get('store_id')})",
        }.get(state, state)
    lines.append(("projection", text))
    policy = d["policy"]
    lines.append(
        ("policy", f"{e(policy['version'])} ({e(policy['source'])}), digest {policy['digest']}")
    )
    for n, step in enumerate(d["next"]):
        lines.append(("next" if n == 0 else "", step))
    width = max(len(label) for label, _ in lines)
    return "".join(f"{label.ljust(width)}  {text}\n" for label, text in lines)
