"""The credential guard's cost per event, before and after ``ledger/_guard.py``.

Input: the JSON objects of the realistic workload (``_workload.py``, 30,000 lines by
default; ~14 strings and ~350 bytes of text per event), parsed once outside the timing.

* **after**: ``_guard.credential_field(event)``, every string of the event (one Hyperscan
  scan; the Python confirmation runs only on a hit, and this workload has none).
* **before, schema**: the old ``no_credentials`` pattern as the schema applied it, through
  fastjsonschema ``not: {pattern}`` on ``rationale``, ``target_ref`` and each
  ``evidence_refs`` item only (fastjsonschema raises and catches an exception per clean value).
* **before, re on every string**: the same pattern, ``re.search`` on every string of the
  event: what checking every field the old way would have cost.
* **engine call only**: a Hyperscan scan of the guard's rules, and (when installed; not a
  dependency) google-re2's ``re2.Set`` over the same rules and the same joined, normalised
  text: the engine that was measured against Hyperscan and not chosen. Both again with the
  URL rule as first written, with a bounded scheme, which is where RE2 falls off a cliff.

Each "before" is the harness's raw side, the guard its subject, timed alternately; the
ratio is guard events/s over the baseline's, so above 1 means the guard is faster.

``python -m benchmarks.guard [--events N] [--repeats R]``
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import time
from importlib import metadata
from typing import Any

import fastjsonschema
import hyperscan
import orjson

from benchmarks import _harness, _workload
from ledger import _guard

try:
    import re2  # google-re2: only to compare engines, not a dependency
except ImportError:
    re2 = None

__all__ = ["OLD_PATTERN", "main"]

#: The schema's ``no_credentials`` pattern before this guard (schemas/ at 837d6b8).
OLD_PATTERN = (
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\b(AKIA|ASIA)[0-9A-Z]{16}\b"
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,}"
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bsk-(ant-|proj-)?[A-Za-z0-9_-]{20,}"
    r"|\bAIza[0-9A-Za-z_-]{35}|\b[rs]k_live_[0-9A-Za-z]{16,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|\b[Bb]earer [A-Za-z0-9._~+/-]{20,}"
    r"|\b([Pp]assword|PASSWORD|[Pp]asswd|PASSWD|[Aa]pi[_-]?[Kk]ey|API_KEY|[Ss]ecret|SECRET"
    r"|[Aa]ccess[_-]?[Tt]oken|ACCESS_TOKEN|[Aa]uth[_-]?[Tt]oken|AUTH_TOKEN"
    r"|[Cc]lient[_-]?[Ss]ecret|CLIENT_SECRET|[Pp]rivate[_-]?[Kk]ey|PRIVATE_KEY)"
    r"[\"']?\s*[:=]\s*[\"']?[^\s\"']{8,}"
    r"|\bglpat-[A-Za-z0-9_-]{20,}|\bnpm_[A-Za-z0-9]{36}\b|\bpypi-AgE[A-Za-z0-9_-]{50,}"
    r"|\bhf_[A-Za-z0-9]{30,}|\bxapp-[0-9]-[A-Za-z0-9-]{10,}|\bya29\.[0-9A-Za-z_-]{20,}"
    r"|\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"
    r"|\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]+:[^\s:/@]{3,}@"
)


def _events(n: int) -> list[dict[str, Any]]:
    out = []
    for line in _workload.events(n):
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict):
            out.append(event)
    return out


def _strings(event: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for value in event.values():
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(item for item in value if isinstance(item, str))
    return out


def guard_every_string(events: list[dict[str, Any]]) -> int:
    """
    After: the guard on every string of each event; how many events it refused.
    """
    return sum(_guard.credential_field(event) is not None for event in events)


def schema_three_fields(events: list[dict[str, Any]]) -> int:
    """
    Before: fastjsonschema ``not: {pattern}`` on rationale, target_ref, evidence_refs.
    """
    guarded = {"not": {"pattern": OLD_PATTERN}}
    validate = fastjsonschema.compile(
        {
            "type": "object",
            "properties": {
                "rationale": guarded,
                "target_ref": guarded,
                "evidence_refs": {"type": "array", "items": guarded},
            },
        }
    )
    refused = 0
    for event in events:
        try:
            validate(event)
        except fastjsonschema.JsonSchemaValueException:
            refused += 1
    return refused


def re_every_string(events: list[dict[str, Any]]) -> int:
    """
    Before, extended: Python ``re`` with the old pattern on every string of each event.
    """
    search = re.compile(OLD_PATTERN).search
    return sum(any(search(text) for text in _strings(event)) for event in events)


def _engine_calls(events: list[dict[str, Any]]) -> dict[str, float]:
    """
    Seconds for the engine call alone on each event's joined, normalised text: Hyperscan,
    and google-re2's ``Set`` over the same rules when it is installed; each also with the
    URL rule as first written (a bounded scheme, ``[a-z][a-z0-9+.-]{0,31}://``).
    """
    texts = []
    for event in events:
        joined = "\n".join(_strings(event))
        if not joined.isascii():
            joined = "\n".join(f for s in _strings(event) for f, _ in _guard._forms(s))  # noqa: SLF001
        texts.append(joined)
    data = [text.encode("utf-8", "surrogatepass") for text in texts]
    expressions = [_guard.engine_expression(rule.pattern) for rule in _guard.RULES]
    caseless = [rule.caseless for rule in _guard.RULES]
    url = [rule.name for rule in _guard.RULES].index("url_password")
    bounded = [*expressions]
    bounded[url] = "[a-z][a-z0-9+.-]{0,31}" + bounded[url]
    calls: dict[str, Any] = {}
    for label, exprs in (("", expressions), (", bounded scheme", bounded)):
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=[e.encode() for e in exprs],
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[
                hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS * c) for c in caseless
            ],
        )
        calls["hyperscan" + label] = functools.partial(_scan_all, database, data)
        if re2 is not None:
            options = re2.Options()
            options.max_mem = 64 << 20
            rules = re2.Set.SearchSet(options)
            for expression, c in zip(exprs, caseless, strict=True):
                rules.Add(("(?i)" if c else "") + re.sub(r"\(\?P<\w+>", "(?:", expression))
            rules.Compile()
            calls["google-re2 Set" + label] = functools.partial(_match_all, rules, texts)
    seconds = {}
    for name, call in calls.items():
        call()
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            call()
            runs.append(time.perf_counter() - started)
        seconds[name] = statistics.median(runs)
    return seconds


def _scan_all(database: Any, data: list[bytes]) -> None:
    found: set[int] = set()
    for block in data:
        database.scan(block, match_event_handler=_found, context=found)


def _found(rule: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
    found.add(rule)


def _match_all(rules: Any, texts: list[str]) -> None:
    for text in texts:
        rules.Match(text)


def _per_event(result: _harness.Result, side: str) -> float:
    times = result.subject_s if side == "subject" else result.raw_s
    return statistics.median(times) / result.events * 1e6


def main(argv: list[str] | None = None) -> list[_harness.Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    events = _events(args.events)
    n = len(events)
    print(
        f"guard: {n:,} events, {sum(len(_strings(e)) for e in events) / n:.1f} strings and "
        f"{sum(len(t) for e in events for t in _strings(e)) / n:.0f} characters per event; "
        f"hyperscan {metadata.version('hyperscan')}, {len(_guard.RULES)} rules",
        flush=True,
    )

    def warmup() -> None:
        guard_every_string(events[:2000])
        schema_three_fields(events[:2000])
        re_every_string(events[:2000])

    def nothing() -> None:
        return None

    results = [
        _harness.compare(
            "guard/schema-3-fields",
            events=n,
            subject=lambda _: guard_every_string(events),
            raw=lambda _: schema_three_fields(events),
            setup=nothing,
            warmup=warmup,
            repeats=args.repeats,
        ),
        _harness.compare(
            "guard/re-every-string",
            events=n,
            subject=lambda _: guard_every_string(events),
            raw=lambda _: re_every_string(events),
            setup=nothing,
            repeats=args.repeats,
        ),
    ]
    after = statistics.median(_per_event(r, "subject") for r in results)
    print(f"  {'after:  the guard, every string':<48} {after:7.2f} us/event")
    labels = ["before: schema not:pattern, 3 fields", "before: re, every string"]
    for result, label in zip(results, labels, strict=True):
        before = _per_event(result, "raw")
        print(f"  {label:<48} {before:7.2f} us/event  ({before / after:.0f}x the guard's cost)")
    for name, seconds in _engine_calls(events).items():
        print(f"  {'engine call only: ' + name:<48} {seconds / n * 1e6:7.2f} us/event")
    refused = guard_every_string(events)
    print(f"  events refused by the guard: {refused} (the workload carries no credential)")
    figures = {
        "events": n,
        "guard_us": round(after, 3),
        "schema_3_fields_us": round(_per_event(results[0], "raw"), 3),
        "re_every_string_us": round(_per_event(results[1], "raw"), 3),
    }
    _harness.record("guard", figures)
    return results


if __name__ == "__main__":
    print(f"machine: {_harness.machine()}", flush=True)
    main()
