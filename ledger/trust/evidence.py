"""The evidence pack: one zip a regulator checks offline with nothing but a public key.

A pack is cut at the latest signed checkpoint of each of the store's two logs (the
events, and the refusal journal): it holds what those checkpoints cover for a period,
and nothing stored after them, so it can prove everything it holds. Its files::

    manifest.json              what the pack is (store, period, the cut), and the SHA-256
                               and size of every other file
    manifest.sig               a C2SP signed note by the ledger's checkpoint key over the
                               SHA-256 of manifest.json (origin ``<key name>/evidence``)
    checkpoints/events.note    the events log's signed checkpoint (C2SP tlog-checkpoint)
    checkpoints/refusals.note  the refusal journal's (origin ``<key name>/refusals``)
    proofs/events.json         an RFC 6962 inclusion proof for every event of every
                               decision in the period, with the event's canonical bytes
    proofs/refusals.json       the same for every refusal in the period (its journal row)
    proofs/consistency.json    with ``--previous``: the previous pack's checkpoints and the
                               consistency proofs from them to this pack's
    tables/<table>.parquet     the projection's tables, restricted to the period
    policies/<digest>.json     the canonical text of each gate policy the period's
                               decisions were judged under (its SHA-256 is its name)
    report.html                the oversight report for the period
    controls.md                what the pack shows for each record-keeping and oversight
                               duty auditors ask about, and its gaps

The same store, checkpoints, period and previous pack give the same bytes: no file
holds a time but the data's own (the checkpoint's), the zip's entries are in a fixed
order with a fixed date, and Ed25519 signatures are deterministic (RFC 8032).

``verify_pack`` checks a pack with the public key alone, and names the first thing
that fails: the zip, the manifest's signature, every file's hash, both checkpoints'
signatures, every inclusion proof, that the tables hold exactly the proven events and
refusals, the policies' digests, and the consistency proofs.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from ledger.errors import CheckpointError, TamperDetectedError
from ledger.events import canonical_bytes
from ledger.trust.checkpoint import (
    Checkpoint,
    SigningKey,
    VerifierKey,
    open_note,
    open_signed,
    sign_text,
)
from ledger.trust.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from ledger.trust.store import CheckpointStore, Log

__all__ = [
    "FORMAT",
    "LogCut",
    "PackCheck",
    "PackReport",
    "checkpoint_notes",
    "consistency",
    "cut_log",
    "inclusion",
    "read_pack",
    "seal_pack",
    "verify_pack",
    "write_pack",
]

FORMAT: Final = "govledger-evidence/1"
PROOFS_FORMAT: Final = "govledger-evidence-proofs/1"
CONSISTENCY_FORMAT: Final = "govledger-evidence-consistency/1"
MANIFEST: Final = "manifest.json"
SIGNATURE: Final = "manifest.sig"
CONSISTENCY: Final = "proofs/consistency.json"
#: A pack's files, and the largest one read back (a zip's sizes are claims until read).
_MAX_FILES: Final = 10_000
_MAX_BYTES: Final = 8 << 30
#: Every entry's time in the zip: the earliest a zip can say (there is no "no time").
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_JSON: Final = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _json(document: Any) -> bytes:
    return orjson.dumps(document, option=_JSON) + b"\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- building ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LogCut:
    """
    One log as its latest checkpoint signs it: the note, the tree over its sealed leaves.
    """

    log: Log
    note: str
    checkpoint: Checkpoint
    seq: int
    last_position: int
    tree: MerkleTree
    #: Store (or journal) position -> leaf index, for every sealed leaf.
    index_of: dict[int, int]

    @property
    def file(self) -> str:
        return f"checkpoints/{self.log.name}.note"

    def describe(self) -> dict[str, Any]:
        """
        The manifest's account of this cut.
        """
        return {
            "checkpoint": self.file,
            "origin": self.checkpoint.origin,
            "seq": self.seq,
            "tree_size": self.checkpoint.tree_size,
            "root": _b64(self.checkpoint.root_hash),
            "sealed_at": self.checkpoint.time,
            "last_position": self.last_position,
        }


def cut_log(ledger: Any, log: Log, key: VerifierKey) -> LogCut | None:
    """
    The latest checkpoint of ``log``, checked with ``key``, and the tree it signs (None: the
    log has no checkpoint). The sealed leaves must reproduce its root.
    """
    store = CheckpointStore.of(ledger, log)
    row = store.latest()
    if row is None:
        return None
    checkpoint = open_note(row.note, key)
    leaves = store.leaves(limit=checkpoint.tree_size)
    tree = MerkleTree([leaf.leaf_hash for leaf in leaves])
    if tree.size != checkpoint.tree_size or tree.root() != checkpoint.root_hash:
        msg = (
            f"the {log.name} log's sealed leaves do not reproduce its checkpoint #{row.seq}: "
            "the store was changed behind the ledger's back (run govledger verify)"
        )
        raise TamperDetectedError(msg, field="checkpoint", rule="root")
    return LogCut(
        log,
        row.note,
        checkpoint,
        row.seq,
        row.last_position,
        tree,
        {leaf.position: leaf.index for leaf in leaves},
    )


def inclusion(cut: LogCut, entries: Iterable[tuple[int, bytes]]) -> bytes:
    """
    ``proofs/<log>.json``: an inclusion proof of each (position, bytes) in ``cut``'s tree.

    Each entry must be the leaf the checkpoint sealed at its position (else
    ``TamperDetectedError``: the store no longer holds what was signed). One entry per
    line, keys sorted: written as it is built, so a large period costs its bytes only.
    """
    size = cut.checkpoint.tree_size
    out = io.BytesIO()
    out.write(b'{"checkpoint": ' + orjson.dumps(cut.file) + b', "entries": [')
    first = True
    for position, data in entries:
        index = cut.index_of.get(position)
        if index is None or cut.tree.leaf(index) != leaf_hash(data):
            msg = (
                f"the {cut.log.name} log's entry at position {position} is not the one its "
                f"checkpoint #{cut.seq} sealed (run govledger verify)"
            )
            raise TamperDetectedError(msg, position=position, field="position", rule="sealed")
        out.write(b"\n" if first else b",\n")
        first = False
        out.write(
            orjson.dumps(
                {
                    "entry": data.decode(),
                    "inclusion_path": [_b64(h) for h in cut.tree.inclusion_proof(index, size)],
                    "leaf_index": index,
                    "position": position,
                },
                option=orjson.OPT_SORT_KEYS,
            )
        )
    out.write(b"\n" if not first else b"")
    out.write(b'], "format": ' + orjson.dumps(PROOFS_FORMAT))
    out.write(b', "log": ' + orjson.dumps(cut.log.name))
    out.write(b', "tree_size": ' + str(size).encode() + b"}\n")
    return out.getvalue()


def consistency(previous: Mapping[str, str], cuts: Mapping[str, LogCut], key: VerifierKey) -> bytes:
    """
    ``proofs/consistency.json``: for each log, the previous pack's checkpoint (``previous``:
    log name -> signed note) and the proof that this pack's checkpoint extends it.

    ``TamperDetectedError`` when the store's log is not an extension of the previous
    checkpoint (history it signed was rewritten); ``CheckpointError`` when the previous
    checkpoint is not one of this log's (another key or origin, or newer than this one).
    """
    logs: dict[str, Any] = {}
    for name, note in sorted(previous.items()):
        cut = cuts.get(name)
        if cut is None:
            msg = f"the previous pack has a {name} checkpoint, the store has none"
            raise CheckpointError(msg, field="previous", rule="log")
        old = open_note(note, key)
        new = cut.checkpoint
        if old.origin != new.origin:
            msg = f"the previous pack's {name} checkpoint is of {old.origin!r}, not {new.origin!r}"
            raise CheckpointError(msg, field="previous", rule="origin")
        if old.tree_size > new.tree_size:
            msg = (
                f"the previous pack's {name} checkpoint (tree size {old.tree_size}) is newer "
                f"than the store's latest ({new.tree_size})"
            )
            raise CheckpointError(msg, field="previous", rule="order")
        if cut.tree.root(old.tree_size) != old.root_hash:
            msg = (
                f"the store's {name} log does not extend the previous pack's checkpoint "
                f"(tree size {old.tree_size}): history it covered was rewritten"
            )
            raise TamperDetectedError(msg, field="previous", rule="consistency")
        logs[name] = {
            "previous_checkpoint": note,
            "old_size": old.tree_size,
            "new_size": new.tree_size,
            "proof": [_b64(h) for h in cut.tree.consistency_proof(old.tree_size, new.tree_size)],
        }
    return _json({"format": CONSISTENCY_FORMAT, "logs": logs})


def _signed_text(key_name: str, manifest: bytes) -> bytes:
    return f"{key_name}/evidence\n{FORMAT}\nsha256 {_sha256(manifest)}\n".encode()


def seal_pack(
    files: Mapping[str, bytes], about: Mapping[str, Any], key: SigningKey
) -> dict[str, bytes]:
    """
    ``files`` with the manifest (``about`` plus each file's SHA-256 and size) and its
    signature added.
    """
    manifest = _json(
        {
            **about,
            "format": FORMAT,
            "files": {
                name: {"sha256": _sha256(data), "bytes": len(data)}
                for name, data in sorted(files.items())
            },
        }
    )
    signature = sign_text(_signed_text(key.name, manifest), key).encode()
    return {MANIFEST: manifest, SIGNATURE: signature, **files}


def _order(names: Iterable[str]) -> list[str]:
    # The manifest and its signature first: a reader meets what describes the rest first.
    return sorted(names, key=lambda n: (n not in (MANIFEST, SIGNATURE), n != MANIFEST, n))


def _zip(target: Any, files: Mapping[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name in _order(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the machine, so modes read the same
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name], compresslevel=9)


def pack_bytes(files: Mapping[str, bytes]) -> bytes:
    """
    The zip of ``files``: fixed order, fixed dates and modes, DEFLATE at level 9.
    """
    buffer = io.BytesIO()
    _zip(buffer, files)
    return buffer.getvalue()


def write_pack(path: Path, files: Mapping[str, bytes]) -> int:
    """
    Write the pack (as ``pack_bytes`` makes it) to ``path`` through a temporary file beside
    it; returns its size.
    """
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w+b") as handle:
            _zip(handle, files)
            handle.flush()
            os.fsync(handle.fileno())
            size = handle.tell()
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return size


# --- reading and verifying ----------------------------------------------------------------


class _Failed(Exception):  # noqa: N818 - a check's outcome, not an error of the program
    def __init__(self, check: str, file: str | None, problem: str) -> None:
        super().__init__(problem)
        self.check, self.file, self.problem = check, file, problem


def read_pack(path: Path | str) -> dict[str, bytes]:
    """
    Every file in the pack at ``path`` (``_Failed`` as ``CheckpointError`` when it is
    not a readable zip of distinct, bounded files).
    """
    try:
        return _read(Path(path))
    except _Failed as failed:
        raise CheckpointError(f"{path}: {failed.problem}", field="pack", rule="zip") from None


def _read(path: Path) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise _Failed("zip", None, f"not a readable zip file ({exc})") from None
    files: dict[str, bytes] = {}
    with archive:
        infos = archive.infolist()
        if len(infos) > _MAX_FILES:
            raise _Failed("zip", None, f"holds {len(infos)} files, more than a pack has")
        for info in infos:
            if info.filename in files:
                raise _Failed("zip", info.filename, "is in the zip twice")
            if info.file_size > _MAX_BYTES:
                raise _Failed("zip", info.filename, f"claims {info.file_size} bytes")
            try:
                files[info.filename] = archive.read(info)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
                raise _Failed(
                    "zip", info.filename, f"cannot be read from the zip ({exc})"
                ) from None
    return files


@dataclass(frozen=True, slots=True)
class PackCheck:
    """
    One check passed, and what it covered.
    """

    check: str
    detail: str


@dataclass
class PackReport:
    """
    What ``verify_pack`` checked, and the first thing that failed (None: everything holds).
    """

    checks: list[PackCheck] = field(default_factory=list)
    failed: _Failed | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """
        Every check passed.
        """
        return self.failed is None

    def to_json(self) -> bytes:
        """
        One JSON object: ok, the checks passed, the first failure (check, file, problem).
        """
        failed = self.failed
        return orjson.dumps(
            {
                "ok": self.ok,
                "format": self.manifest.get("format"),
                "store_id": self.manifest.get("store_id"),
                "period": self.manifest.get("period"),
                "contents": self.manifest.get("contents"),
                "checks": [{"check": c.check, "detail": c.detail} for c in self.checks],
                "failed": None
                if failed is None
                else {"check": failed.check, "file": failed.file, "problem": failed.problem},
            }
        )


def verify_pack(
    path: Path | str, key: VerifierKey, previous: Mapping[str, str] | None = None
) -> PackReport:
    """
    Check the pack at ``path`` offline with ``key`` alone; stop at the first failure.

    ``previous``: the checkpoint notes of the auditor's own copy of the earlier pack (log
    name -> note). The pack's consistency proofs must then start from exactly those: a
    pack carries the earlier checkpoint it claims to extend, and only the auditor's copy
    shows it is the one they were given.
    """
    report = PackReport()
    try:
        _Verifier(_read(Path(path)), key, report, previous).run()
    except _Failed as failed:
        report.failed = failed
    except Exception as exc:  # noqa: BLE001 - a pack is hostile input: a failed check, never a traceback
        done = report.checks[-1].check if report.checks else "zip"
        report.failed = _Failed(
            "format", None, f"after {done}: the pack is malformed ({type(exc).__name__}: {exc})"
        )
    return report


def checkpoint_notes(files: Mapping[str, bytes]) -> dict[str, str]:
    """
    The checkpoint notes of a (verified) pack's files, by log name.
    """
    manifest = orjson.loads(files[MANIFEST])
    return {name: files[about["checkpoint"]].decode() for name, about in manifest["logs"].items()}


class _Verifier:
    def __init__(
        self,
        files: dict[str, bytes],
        key: VerifierKey,
        report: PackReport,
        previous: Mapping[str, str] | None,
    ) -> None:
        self.files, self.key, self.report, self.previous = files, key, report, previous
        self.manifest: dict[str, Any] = {}
        self.checkpoints: dict[str, Checkpoint] = {}
        self.proven: dict[str, dict[int, bytes]] = {}
        self.decisions: list[dict[str, Any]] = []

    def passed(self, check: str, detail: str) -> None:
        self.report.checks.append(PackCheck(check, detail))

    def file(self, name: str, check: str) -> bytes:
        if name not in self.files:
            raise _Failed(check, name, "is missing from the pack")
        return self.files[name]

    def json(self, name: str, check: str) -> Any:
        try:
            return orjson.loads(self.file(name, check))
        except orjson.JSONDecodeError as exc:
            raise _Failed(check, name, f"is not JSON ({exc})") from None

    def run(self) -> None:
        self.check_manifest()
        self.check_signature()
        self.check_files()
        for name in sorted(self.manifest["logs"]):
            self.check_checkpoint(name)
            self.check_proofs(name)
        self.check_tables()
        self.check_policies()
        self.check_consistency()

    def check_manifest(self) -> None:
        manifest = self.json(MANIFEST, "manifest")
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _Failed("manifest", MANIFEST, f"is not a {FORMAT} manifest")
        listed = manifest.get("files")
        logs = manifest.get("logs")
        if not isinstance(listed, dict) or not isinstance(logs, dict) or "events" not in logs:
            raise _Failed("manifest", MANIFEST, "lists no files or no events log")
        for name, entry in listed.items():
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get("sha256"), str)
                or not isinstance(entry.get("bytes"), int)
            ):
                raise _Failed("manifest", MANIFEST, f"has no SHA-256 and size for {name!r}")
        self.manifest = manifest
        self.report.manifest = manifest
        self.passed("manifest", f"{FORMAT}, {len(listed)} files listed")

    def check_signature(self) -> None:
        note = self.file(SIGNATURE, "signature")
        try:
            text = open_signed(note.decode(), self.key)
        except (CheckpointError, UnicodeDecodeError) as exc:
            raise _Failed("signature", SIGNATURE, str(exc)) from None
        if text.encode() != _signed_text(self.key.name, self.files[MANIFEST]):
            raise _Failed(
                "signature",
                SIGNATURE,
                "signs another manifest (or another key's evidence): manifest.json was changed",
            )
        self.passed("signature", f"manifest.json signed by {self.key.name}+{self.key.key_id.hex()}")

    def check_files(self) -> None:
        listed: dict[str, Any] = self.manifest["files"]
        extra = sorted(set(self.files) - set(listed) - {MANIFEST, SIGNATURE})
        if extra:
            raise _Failed("files", extra[0], "is in the pack but not in the manifest")
        for name in sorted(listed):
            data = self.file(name, "files")
            if len(data) != listed[name]["bytes"] or _sha256(data) != listed[name]["sha256"]:
                raise _Failed("files", name, "does not match its SHA-256 in the manifest")
        self.passed("files", f"{len(listed)} files match their SHA-256")

    def check_checkpoint(self, name: str) -> None:
        check = f"checkpoint:{name}"
        about = self.manifest["logs"][name]
        origin = self.key.name + ("" if name == "events" else f"/{name}")
        try:
            note = self.file(str(about["checkpoint"]), check).decode()
            checkpoint = open_note(note, self.key)
        except (CheckpointError, UnicodeDecodeError, KeyError, TypeError) as exc:
            raise _Failed(check, about.get("checkpoint"), str(exc)) from None
        if checkpoint.origin != origin:
            raise _Failed(
                check, about["checkpoint"], f"is of {checkpoint.origin!r}, not {origin!r}"
            )
        if (checkpoint.tree_size, _b64(checkpoint.root_hash)) != (
            about.get("tree_size"),
            about.get("root"),
        ):
            raise _Failed(check, about["checkpoint"], "disagrees with the manifest")
        self.checkpoints[name] = checkpoint
        self.passed(
            check,
            f"{origin}: tree size {checkpoint.tree_size}, signed {checkpoint.time}",
        )

    def check_proofs(self, name: str) -> None:
        check = f"proofs:{name}"
        where = f"proofs/{name}.json"
        document = self.json(where, check)
        checkpoint = self.checkpoints[name]
        if (
            not isinstance(document, dict)
            or document.get("format") != PROOFS_FORMAT
            or document.get("log") != name
            or document.get("tree_size") != checkpoint.tree_size
            or not isinstance(document.get("entries"), list)
        ):
            raise _Failed(check, where, f"is not a {PROOFS_FORMAT} document for {name}")
        proven: dict[int, bytes] = {}
        for n, item in enumerate(document["entries"], start=1):
            try:
                data = str(item["entry"]).encode()
                index, position = int(item["leaf_index"]), int(item["position"])
                path = [base64.b64decode(h, validate=True) for h in item["inclusion_path"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise _Failed(check, where, f"entry {n} is malformed ({exc})") from None
            if not verify_inclusion(
                index, checkpoint.tree_size, leaf_hash(data), path, checkpoint.root_hash
            ):
                raise _Failed(
                    check, where, f"entry {n} (position {position}) is not in the signed tree"
                )
            if position in proven:
                raise _Failed(check, where, f"position {position} is proven twice")
            proven[position] = data
        self.proven[name] = proven
        self.passed(check, f"{len(proven)} inclusion proofs verify against the checkpoint")

    def check_tables(self) -> None:
        # Read with DuckDB, not pyarrow.parquet: pyarrow's Parquet reader can abort the
        # process at exit (apache/arrow#34314), which would turn a pass into exit 134.
        import duckdb  # noqa: PLC0415 - only this check reads Parquet

        with tempfile.TemporaryDirectory(prefix="govledger-verify-") as work:
            con = duckdb.connect()
            try:
                self._check_tables(con, Path(work))
            finally:
                con.close()

    def _check_tables(self, con: Any, work: Path) -> None:  # noqa: C901 - one check per table
        import duckdb  # noqa: PLC0415

        def rows(table: str) -> list[dict[str, Any]]:
            where = f"tables/{table}.parquet"
            target = work / f"{table}.parquet"
            target.write_bytes(self.file(where, "tables"))
            try:
                cursor = con.execute("SELECT * FROM read_parquet(?)", [str(target)])
                names = [d[0] for d in cursor.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            except duckdb.Error as exc:
                raise _Failed("tables", where, f"is not readable Parquet ({exc})") from None

        events = rows("events")
        proven = self.proven.get("events", {})
        shown = {int(r["position"]): _text(r["fr"]) for r in events}
        if len(shown) != len(events) or shown != proven:
            differ = sorted(set(shown.items()) ^ set(proven.items()))
            at = differ[0][0] if differ else None
            raise _Failed(
                "tables",
                "tables/events.parquet",
                f"does not hold exactly the proven events (first difference at position {at})",
            )
        for position, data in proven.items():
            try:
                canonical = canonical_bytes(orjson.loads(data))
            except (orjson.JSONDecodeError, TypeError, ValueError):
                canonical = b""
            if canonical != data:
                raise _Failed(
                    "tables", "proofs/events.json", f"the event at {position} is not canonical"
                )
        decided = {orjson.loads(data).get("decision_id") for data in proven.values()}
        decisions = {r["decision_id"] for r in rows("decisions")}
        if decisions != decided:
            raise _Failed(
                "tables",
                "tables/decisions.parquet",
                "does not hold exactly the decisions whose events are proven",
            )
        for table in ("auto_signatures", "human_interventions", "locked_halts"):
            if not {r["decision_id"] for r in rows(table)} <= decisions:
                raise _Failed(
                    "tables", f"tables/{table}.parquet", "names a decision the pack lacks"
                )
        journal = self.proven.get("refusals", {})
        refusals = rows("refusals")
        listed = {(int(r["position"]), str(r["sha256"])) for r in refusals}
        expected = {(p, str(orjson.loads(d).get("sha256"))) for p, d in journal.items()}
        if len(listed) != len(refusals) or listed != expected:
            raise _Failed(
                "tables",
                "tables/refusals.parquet",
                "does not hold exactly the proven refusals",
            )
        self.decisions = rows("decisions")
        self.passed(
            "tables",
            f"{len(events)} events, {len(decisions)} decisions and {len(refusals)} refusals "
            "are exactly the proven ones",
        )

    def check_policies(self) -> None:
        found: set[str] = set()
        for name, data in self.files.items():
            if not name.startswith("policies/"):
                continue
            digest = name.removeprefix("policies/").removesuffix(".json")
            if _sha256(data) != digest:
                raise _Failed("policies", name, "does not hash to the digest it is named by")
            found.add(digest)
        used = {str(r["policy_digest"]) for r in self.decisions}
        missing = sorted(used - found)
        if missing:
            raise _Failed(
                "policies", f"policies/{missing[0]}.json", "is missing: a decision names it"
            )
        self.passed("policies", f"{len(found)} gate policies match their digests")

    def check_consistency(self) -> None:  # noqa: C901 - one check per step
        if CONSISTENCY not in self.manifest["files"]:
            if self.previous is not None:
                raise _Failed(
                    "consistency",
                    CONSISTENCY,
                    "is missing: the pack proves no link to the earlier pack given",
                )
            return
        document = self.json(CONSISTENCY, "consistency")
        if not isinstance(document, dict) or document.get("format") != CONSISTENCY_FORMAT:
            raise _Failed("consistency", CONSISTENCY, f"is not a {CONSISTENCY_FORMAT} document")
        logs = document.get("logs")
        if not isinstance(logs, dict) or not logs:
            raise _Failed("consistency", CONSISTENCY, "proves nothing")
        if self.previous is not None and set(self.previous) != set(logs):
            raise _Failed(
                "consistency",
                CONSISTENCY,
                f"proves {sorted(logs)}, the earlier pack has {sorted(self.previous)}",
            )
        for name, item in sorted(logs.items()):
            new = self.checkpoints.get(name)
            if self.previous is not None and item.get("previous_checkpoint") != self.previous[name]:
                raise _Failed(
                    "consistency",
                    CONSISTENCY,
                    f"{name}: starts from a checkpoint that is not the earlier pack's",
                )
            try:
                old = open_note(str(item["previous_checkpoint"]), self.key)
                proof = [base64.b64decode(h, validate=True) for h in item["proof"]]
            except (CheckpointError, KeyError, TypeError, ValueError) as exc:
                raise _Failed("consistency", CONSISTENCY, f"{name}: {exc}") from None
            if new is None or old.origin != new.origin:
                raise _Failed(
                    "consistency", CONSISTENCY, f"{name}: the previous checkpoint is another log's"
                )
            if not verify_consistency(
                old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof
            ):
                raise _Failed(
                    "consistency",
                    CONSISTENCY,
                    f"{name}: this checkpoint does not extend the previous pack's "
                    f"(tree size {old.tree_size}): history was rewritten",
                )
            self.passed(
                "consistency",
                f"{name}: tree size {new.tree_size} extends the previous pack's {old.tree_size}",
            )


def _text(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
