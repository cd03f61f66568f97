"""``govledger audit evidence`` and ``audit verify-evidence``: the evidence pack.

``evidence`` reads the store's latest checkpoints, has the read side project the
signed cut (``projections.pack``), proves every event and refusal it takes
(``ledger.trust.evidence``), adds the policies in force, the report and
``controls.md``, signs the manifest with the ledger's checkpoint key and writes one
zip. ``verify-evidence`` opens no store and no network: the pack and a public key.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger import _journal
from ledger.bootstrap import Runtime
from ledger.cli import output
from ledger.cli._args import example, period, period_options
from ledger.errors import (
    CheckpointError,
    InputUnavailableError,
    KeyUnusableError,
    StoreError,
)
from ledger.policy import BUILTIN
from ledger.serve import NoCheckpointError
from ledger.trust import EVENTS, REFUSALS, read_public_key
from ledger.trust._controls import controls_md
from ledger.trust.evidence import (
    CONSISTENCY,
    LogCut,
    PackReport,
    checkpoint_notes,
    consistency,
    cut_log,
    inclusion,
    read_pack,
    seal_pack,
    verify_pack,
    write_pack,
)

__all__ = ["register"]


def register(sub: Any) -> None:
    """
    Add ``evidence`` and ``verify-evidence`` to ``audit``'s subcommands.
    """
    p = sub.add_parser(
        "evidence",
        help="write a deterministic evidence pack for a period (one zip, checkable offline)",
        description="The pack holds what the latest signed checkpoints cover for the period: "
        "the projection's tables (Parquet), the checkpoints of both logs, an inclusion proof "
        "for every event of every decision in it and every refusal, the gate policies in "
        "force, the oversight report, controls.md (record-keeping and oversight duties, with "
        "their gaps) and a signed manifest. The same store, checkpoints and options give the "
        "same bytes. It needs the ledger's signing key, which signs the manifest.",
        epilog=example(
            "govledger audit evidence -o nov.zip --since 2026-11-01T00:00:00Z "
            "--until 2026-12-01T00:00:00Z",
            "govledger audit evidence -o dec.zip --since 2026-12-01T00:00:00Z "
            "--until 2027-01-01T00:00:00Z --previous nov.zip",
        ),
    )
    p.add_argument("-o", "--out", required=True, metavar="ZIP", help="the pack to write (replaced)")
    period_options(p, what="decisions (their creation) and refusals")
    p.add_argument(
        "--previous",
        metavar="ZIP",
        help="an earlier pack: it is verified, and this pack proves that its checkpoints "
        "extend the earlier pack's (nothing it covered was removed or rewritten)",
    )
    p.set_defaults(handler=_evidence)

    p = sub.add_parser(
        "verify-evidence",
        help="check an evidence pack offline, with the pack and a public key only",
        description="Checks the manifest's signature, every file's SHA-256, both checkpoints' "
        "signatures, every inclusion proof, that the tables hold exactly the proven events "
        "and refusals, the policies' digests and the consistency proofs; names the first "
        "thing that fails (exit 1). Opens no store and no network.",
        epilog=example(
            "govledger audit verify-evidence nov.zip --key ledger.pub",
            "govledger audit verify-evidence nov.zip --key ledger.pub -f json",
        ),
    )
    p.add_argument("pack", metavar="PACK", help="the evidence pack (zip)")
    p.add_argument(
        "--key",
        required=True,
        metavar="PUBLIC_KEY_FILE",
        help="your own copy of the ledger's public key (<name>+<id>+<base64>)",
    )
    p.add_argument(
        "--previous",
        metavar="ZIP",
        help="your copy of the earlier pack: the consistency proofs must start from its "
        "checkpoints (without it they are checked against the copy the pack carries)",
    )
    p.set_defaults(handler=_verify_evidence)


# --- building -------------------------------------------------------------------------


def _previous(path: str, runtime_key: Any) -> dict[str, str]:
    """
    The checkpoint notes of the earlier pack at ``path``, once it verifies with the key.
    """
    if not Path(path).is_file():
        msg = f"cannot read the previous pack {path}: no such file"
        raise InputUnavailableError(msg, field="previous", rule="readable")
    report = verify_pack(path, runtime_key)
    if report.failed is not None:
        failed = report.failed
        msg = (
            f"the previous pack {path} does not verify with this ledger's key: "
            f"{failed.check} failed ({failed.file}: {failed.problem})"
        )
        raise CheckpointError(msg, field="previous", rule="verify")
    return checkpoint_notes(read_pack(path))


def _journal_rows(ledger: Any, positions: list[int]) -> list[tuple[int, bytes]]:
    """
    The journal rows at ``positions`` as the refusal log's leaves hash them.
    """
    wanted = set(positions)
    out: list[tuple[int, bytes]] = []
    after = min(positions, default=1) - 1
    while wanted and len(out) < len(positions):
        page = ledger.refusals(start=after + 1, limit=1000)
        if not page:
            break
        out += [(n, _journal.leaf_bytes(n, record)) for n, record in page if n in wanted]
        after = page[-1][0]
        if after >= max(positions):
            break
    return out


def _policies(ledger: Any, digests: list[str]) -> dict[str, bytes]:
    kept = ledger.policy_records(digests)
    files: dict[str, bytes] = {}
    for digest in digests:
        if digest in kept:
            files[f"policies/{digest}.json"] = kept[digest].canonical.encode()
        elif digest == BUILTIN.digest:
            files[f"policies/{digest}.json"] = BUILTIN.canonical()
        else:
            msg = f"the store does not keep the gate policy {digest} its decisions name"
            raise StoreError(msg, field="policy", rule="kept")
    return files


def _evidence(args: argparse.Namespace, runtime: Runtime) -> int:
    from projections.pack import build_period  # noqa: PLC0415 - the read side, when asked
    from projections.report import VerificationState  # noqa: PLC0415

    since, until = period(args)
    out = output.output_path("audit evidence", args.out)
    with runtime.ledger(create=False) as ledger:
        key = runtime.signing_key()
        if key is None:
            msg = (
                "audit evidence signs the pack's manifest with the ledger's checkpoint signing "
                "key, and none is configured (GOVLEDGER_SIGNING_KEY, or the key beside the store)"
            )
            raise KeyUnusableError(msg, field="key", rule="key")
        verifier = key.verifier
        previous = _previous(args.previous, verifier) if args.previous else {}
        found = {log.name: cut_log(ledger, log, verifier) for log in (EVENTS, REFUSALS)}
        cuts: dict[str, LogCut] = {name: cut for name, cut in found.items() if cut is not None}
        events_cut = cuts.get(EVENTS.name)
        if events_cut is None:
            msg = "the store has no signed checkpoint yet: run govledger seal, then build the pack"
            raise NoCheckpointError(msg, field="checkpoint", rule="exists")
        journal_cut = cuts.get(REFUSALS.name)
        sealed_at = str(events_cut.checkpoint.time)
        verification = VerificationState(
            events=events_cut.checkpoint.tree_size,
            checkpoint_size=events_cut.checkpoint.tree_size,
            checkpoint_time=datetime.fromisoformat(sealed_at),
            key_name=key.name,
            command="govledger audit verify-evidence PACK.zip --key PUBLIC_KEY_FILE",
            source="The checkpoint this evidence pack is cut at: everything the pack holds "
            "is covered by it, and nothing stored after it is in the pack.",
        )
        with tempfile.TemporaryDirectory(prefix=f".{out.name}.", dir=out.parent) as work:
            taken = build_period(
                ledger,
                Path(work),
                events_stop=events_cut.last_position,
                refusals_stop=journal_cut.last_position if journal_cut else 0,
                since=since,
                until=until,
                key=verifier,
                verification=verification,
                label=runtime.config.store_label,
            )
        files = dict(taken.files)
        files.update({cut.file: cut.note.encode() for cut in cuts.values()})
        files["proofs/events.json"] = inclusion(events_cut, taken.events)
        if journal_cut is not None:
            journal = _journal_rows(ledger, taken.refusals)
            files["proofs/refusals.json"] = inclusion(journal_cut, journal)
        files.update(_policies(ledger, taken.policies))
        if previous:
            files[CONSISTENCY] = consistency(previous, cuts, verifier)
        store_id = ledger.store.meta.store_id
    about: dict[str, Any] = {
        "store_id": store_id,
        "period": {
            "since": None if since is None else _display(since),
            "until": None if until is None else _display(until),
        },
        "logs": {name: cut.describe() for name, cut in sorted(cuts.items())},
        "contents": {
            "rows": taken.counts,
            "policies": taken.policies,
            "previous": {name: int(note.split("\n")[1]) for name, note in sorted(previous.items())}
            or None,
        },
    }
    files["controls.md"] = controls_md(about, taken.facts)
    size = write_pack(out, seal_pack(files, about, key))
    rows = taken.counts
    output.say(
        f"audit evidence: wrote {out} ({size:,} bytes): {rows['decisions']:,} decisions, "
        f"{rows['events']:,} events and {rows['refusals']:,} refusals, proven against "
        f"checkpoint #{events_cut.seq} (tree size {events_cut.checkpoint.tree_size:,}, "
        f"signed {sealed_at})"
    )
    return 0


def _display(moment: datetime) -> str:
    from ledger import _time  # noqa: PLC0415

    return _time.display(moment)


# --- verifying ------------------------------------------------------------------------


def _verify_evidence(args: argparse.Namespace, _runtime: Runtime) -> int:
    key = read_public_key(Path(args.key))
    if not Path(args.pack).is_file():
        msg = f"cannot read the evidence pack {args.pack}: no such file"
        raise InputUnavailableError(msg, field="pack", rule="readable")
    earlier = None
    if args.previous:
        if not Path(args.previous).is_file():
            msg = f"cannot read the earlier pack {args.previous}: no such file"
            raise InputUnavailableError(msg, field="previous", rule="readable")
        checked = verify_pack(args.previous, key)
        if checked.failed is not None:
            msg = (
                f"the earlier pack {args.previous} does not verify: {checked.failed.check} "
                f"failed ({checked.failed.file}: {checked.failed.problem})"
            )
            raise CheckpointError(msg, field="previous", rule="verify")
        earlier = checkpoint_notes(read_pack(args.previous))
    report = verify_pack(args.pack, key, earlier)
    console = output.current()
    if args.format == "json" or (args.format is None and not console.stdout_tty):
        sys.stdout.buffer.write(report.to_json() + b"\n")
    else:
        sys.stdout.write(_readable(report, args.pack))
    failed = report.failed
    if failed is None:
        return 0
    output.say(
        f"verify-evidence: {args.pack}: {failed.check} failed: "
        f"{failed.file + ': ' if failed.file else ''}{failed.problem}",
        always=True,
    )
    return 1


def _readable(report: PackReport, pack: str) -> str:
    width = max((len(c.check) for c in report.checks), default=5)
    lines = [f"ok    {c.check.ljust(width)}  {output.escape(c.detail)}" for c in report.checks]
    failed = report.failed
    if failed is not None:
        where = f"{failed.file}: " if failed.file else ""
        lines.append(f"FAIL  {failed.check.ljust(width)}  {output.escape(where + failed.problem)}")
    else:
        lines.append(f"{output.escape(pack)}: every check passed")
    return "\n".join(lines) + "\n"
