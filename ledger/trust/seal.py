"""Sealing, verifying and proving: tamper evidence for the store.

* ``seal`` extends the Merkle tree over the stored events (in store order) with
  the events stored since the last checkpoint and appends a signed checkpoint.
  It never signs a tree that does not extend the previous checkpoint.
* ``verify`` rehashes every stored event and checks every stored checkpoint (its
  signature by the trusted key, that the events still hash to its root, and that
  each checkpoint is an append-only extension of the one before), and optionally
  a checkpoint an auditor kept. It names the first position that disagrees.
* ``prove`` builds inclusion proofs of a decision's events against the latest
  checkpoint; ``check_proof`` checks one with nothing but the proof, the events
  and the public key.

Leaves are the stored events in store order, hashed as ``ledger._merkle`` defines
(the one place where "canonical bytes" is defined).

The log is a parameter (``ledger.trust.store.Log`` plus where its entries come
from, ``Entries``): today a store holds one, ``EVENTS``, and ``seal`` and
``verify`` work the same on any other log a store keeps next to it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from ledger import _journal
from ledger._time import utc_text
from ledger.errors import CheckpointError, SealError, StaleSealError, TamperDetectedError
from ledger.events import canonical_bytes
from ledger.trust.checkpoint import Checkpoint, SigningKey, VerifierKey, open_note, sign
from ledger.trust.merkle import (
    Frontier,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.trust.store import EVENTS, REFUSALS, CheckpointRow, CheckpointStore, LeafRow, Log

__all__ = [
    "PROOF_FORMAT",
    "Entries",
    "Problem",
    "VerifyReport",
    "autoseal",
    "check_proof",
    "journal_entries",
    "prove",
    "seal",
    "seal_all",
    "verify",
    "verify_all",
]

PROOF_FORMAT: Final = "govledger-inclusion-proof/1"
#: Leaves per checkpoint when a long unsealed backlog is sealed (bounds seal's memory).
_SEAL_CHUNK: Final = 500_000
_RETRIES: Final = 5

#: A log's entries in log order: ``(ledger, after, limit)`` -> (position, bytes) after ``after``.
Entries = Callable[[Any, int, int], Iterable[tuple[int, bytes]]]


def _stored_events(ledger: Any, after: int, limit: int) -> Iterable[tuple[int, bytes]]:
    return ledger.stored_events(start=after + 1, limit=limit)  # type: ignore[no-any-return]


def journal_entries(ledger: Any, after: int, limit: int) -> Iterator[tuple[int, bytes]]:
    """
    The refusal journal's rows after ``after``, as (position, canonical bytes), page by page.
    """
    while True:
        page = ledger.refusals(start=after + 1, limit=limit)
        if not page:
            return
        for position, record in page:
            yield position, _journal.leaf_bytes(position, record)
        after = page[-1][0]


def seal_all(ledger: Any, key: SigningKey) -> dict[str, list[CheckpointRow]]:
    """
    Seal both logs the store keeps: the events, then the refusal journal.
    """
    return {
        EVENTS.name: seal(ledger, key),
        REFUSALS.name: seal(ledger, key, REFUSALS, journal_entries),
    }


def verify_all(
    ledger: Any, key: VerifierKey, external: str | None = None, *, require_sealed: bool = False
) -> VerifyReport:
    """
    ``verify`` of the events (and the auditor's checkpoint, which is one of theirs), with the
    refusal journal's own report attached (``logs["refusals"]``).
    """
    report = verify(ledger, key, external, require_sealed=require_sealed)
    report.logs[REFUSALS.name] = verify(
        ledger, key, require_sealed=require_sealed, log=REFUSALS, entries=journal_entries
    )
    return report


def seal(
    ledger: Any, key: SigningKey, log: Log = EVENTS, entries: Entries = _stored_events
) -> list[CheckpointRow]:
    """
    Seal the entries of ``log`` stored since its last checkpoint; return the new checkpoints.

    Nothing new: nothing is written and the list is empty.
    """
    store = CheckpointStore.of(ledger, log)
    store.create_tables()
    written: list[CheckpointRow] = []
    collisions = 0
    while True:
        try:
            row = _seal_once(ledger, store, key, entries)
        except StaleSealError:
            # Another process sealed the same events first: start again from its checkpoint.
            collisions += 1
            if collisions >= _RETRIES:
                msg = "other processes kept sealing at the same time; try again"
                raise SealError(msg) from None
            continue
        if row is None:
            return written
        written.append(row)


def _seal_once(
    ledger: Any, store: CheckpointStore, key: SigningKey, entries: Entries
) -> CheckpointRow | None:
    last = store.latest()
    if last is None:
        frontier, seq, after = Frontier(), 1, 0
    else:
        frontier = Frontier.from_bytes(last.tree_size, last.frontier)
        if frontier.root() != last.root_hash:
            # C2SP tlog-checkpoint: a log MUST NOT sign a checkpoint inconsistent with an
            # earlier one.
            msg = (
                f"checkpoint #{last.seq}'s stored tree edge does not match its root: the "
                "checkpoint table was altered; run govledger verify"
            )
            raise SealError(msg)
        seq, after = last.seq + 1, last.last_position
    leaves: list[LeafRow] = []
    last_position = after
    for position, state in entries(ledger, after, 5000):
        if store.log is EVENTS:
            _refuse_foreign(position, state)
        leaf = leaf_hash(state)
        leaves.append(LeafRow(frontier.size, position, leaf))
        frontier.append(leaf)
        last_position = position
        if len(leaves) >= _SEAL_CHUNK:
            break
    if not leaves and last is not None:
        return None
    sealed_at = utc_text()
    checkpoint = Checkpoint(
        key.name + store.log.origin_suffix, frontier.size, frontier.root(), sealed_at
    )
    row = CheckpointRow(
        seq=seq,
        tree_size=frontier.size,
        last_position=last_position,
        root_hash=checkpoint.root_hash,
        frontier=frontier.to_bytes(),
        sealed_at=sealed_at,
        note=sign(checkpoint, key),
    )
    store.append(row, leaves, signer=_signer(key.verifier))
    return row if leaves else None


_KEYS: Final = ("event_id", "type", "decision_id", "timestamp", "actor")


def _refuse_foreign(position: int, state: bytes) -> None:
    """
    Never sign over a stored row the ledger could not have written (cheap: decode, the
    canonical form, the keys every event has). A row put in place in that exact form is
    beyond what sealing can tell; ``verify`` and ``project`` check what was sealed.
    """
    try:
        fr = orjson.loads(state)
        ok = (
            isinstance(fr, dict)
            and all(isinstance(fr.get(k), str) for k in _KEYS)
            and canonical_bytes(fr) == state
        )
    except (orjson.JSONDecodeError, ValueError, TypeError):
        ok = False
    if not ok:
        msg = (
            f"the stored event at position {position} is not a governance event in the form "
            "the ledger stores: it was put there behind the ledger's back, and is not signed "
            "(nothing was sealed; run govledger verify)"
        )
        raise TamperDetectedError(msg, position=position, field="position", rule="decodable")


def _signer(key: VerifierKey) -> str:
    return f"{key.name} {key.key_id.hex()}"


def autoseal(
    ledger: Any, key: SigningKey, results: Iterable[Any], *, every: int = 0
) -> Iterator[Any]:
    """
    Pass ingest results through; seal every ``every`` accepted events (0: never) and at the end.

    Results are yielded after their batch committed, so every sealed event is one
    that was acknowledged. A failed seal raises ``SealError`` (or ``StoreError``):
    the events before it are stored and were acknowledged; only the checkpoint is missing.
    """
    since = 0
    for result in results:
        yield result
        if result.status == "accepted":
            since += 1
            if every and since >= every:
                seal(ledger, key)
                since = 0
    seal_all(ledger, key)


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """
    The first disagreement found, and the first store position it concerns.
    """

    what: str
    #: 1-based leaf number (the n-th event in store order).
    leaf: int | None
    #: The store position of that leaf as it was sealed (or as the store has it now).
    position: int | None
    #: False when the store alone cannot narrow it down further than "at or after".
    exact: bool = True
    #: When not exact: the last store position the change can be at (None: open-ended).
    last: int | None = None

    def where(self) -> str:
        """
        The position, or the narrowest interval the signed checkpoints allow, for people.
        """
        if self.position is None:
            return ""
        if self.exact:
            return f"at store position {self.position}"
        if self.last is not None and self.last > self.position:
            return f"between store positions {self.position} and {self.last}"
        if self.last is not None:
            return f"at store position {self.position}"
        return f"at or after store position {self.position}"


@dataclass
class VerifyReport:
    """
    What ``verify`` checked and the first problem it found.
    """

    events: int = 0
    checkpoints: int = 0
    sealed: int = 0
    external: int | None = None
    problems: list[Problem] = field(default_factory=list)
    #: Checkpoints the store says it has issued (removed ones included).
    issued: int = 0
    #: "self" when checked with the key stored beside the data, "key" with one given.
    trust: str = "self"
    #: The trusted key's name, and where it was read from.
    key_name: str | None = None
    key_source: str | None = None
    #: The reports of the store's other logs (the refusal journal), by log name.
    logs: dict[str, VerifyReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """
        Everything checked agrees, in every log.
        """
        return not self.problems and all(log.ok for log in self.logs.values())

    @property
    def first_problem(self) -> tuple[str, Problem] | None:
        """
        The first problem found, and the log it was found in.
        """
        if self.problems:
            return "events", self.problems[0]
        for name, log in self.logs.items():
            if log.problems:
                return name, log.problems[0]
        return None

    def to_json(self) -> bytes:
        """
        One JSON object: counts, and the first problem with its position.
        """
        first = self.problems[0] if self.problems else None
        return orjson.dumps(
            {
                "ok": self.ok,
                "events": self.events,
                "checkpoints": self.checkpoints,
                "sealed": self.sealed,
                "unsealed": max(self.events - self.sealed, 0),
                "external_checkpoint_size": self.external,
                "problem": None if first is None else first.what,
                "problems": [p.what for p in self.problems],
                "leaf": None if first is None else first.leaf,
                "position": None if first is None else first.position,
                "exact": None if first is None else first.exact,
                "last_position": None if first is None else first.last,
                "checkpoints_issued": self.issued,
                "trust": self.trust,
                "key": self.key_name,
                "key_source": self.key_source,
                "note": _TRUST_NOTES[self.trust],
                **{name: _summary(log) for name, log in self.logs.items()},
            }
        )


def _summary(report: VerifyReport) -> dict[str, Any]:
    """
    Another log's part of the report: its counts and its first problem.
    """
    first = report.problems[0] if report.problems else None
    return {
        "ok": report.ok,
        "entries": report.events,
        "checkpoints": report.checkpoints,
        "sealed": report.sealed,
        "unsealed": max(report.events - report.sealed, 0),
        "checkpoints_issued": report.issued,
        "problem": None if first is None else first.what,
        "position": None if first is None else first.position,
        "last_position": None if first is None else first.last,
    }


_TRUST_NOTES: Final = {
    "self": (
        "checked with the key kept beside the store: it proves nothing against someone who "
        "can write both; pass --key (or GOVLEDGER_VERIFY_KEY) with your own copy of the "
        "public key"
    ),
    "key": "checked with the public key the auditor gave",
}


@dataclass(frozen=True)
class _Trusted:
    seq: int
    size: int
    root: bytes


class _Verifier:
    def __init__(self, events: Iterable[tuple[int, bytes]], recorded: list[LeafRow]) -> None:
        # Events are hashed as they stream by: only positions and 32-byte hashes are kept.
        self.positions: list[int] = []
        leaves: list[bytes] = []
        for position, state in events:
            self.positions.append(position)
            leaves.append(leaf_hash(state))
        self.computed = MerkleTree(leaves)
        self.recorded_rows = recorded
        self.recorded = MerkleTree([r.leaf_hash for r in recorded])

    def position(self, index: int) -> int | None:
        # The position the sealed event had; the store's own when nothing was sealed there.
        if index < len(self.recorded_rows):
            return self.recorded_rows[index].position
        if index < len(self.positions):
            return self.positions[index]
        known = (
            self.recorded_rows[-1].position
            if self.recorded_rows
            else (self.positions[-1] if self.positions else 0)
        )
        # Past everything the store still has: positions are consecutive when nothing is lost.
        return known + index + 1 - max(len(self.recorded_rows), len(self.positions))

    def agrees(self, tree: MerkleTree, size: int, root: bytes) -> bool:
        return tree.size >= size and tree.root(size) == root

    def locate(self, size: int, root: bytes, floor: int, what: str) -> Problem:
        """
        The store's events do not hash to ``root`` at ``size``: name the first leaf that differs.
        """
        if self.agrees(self.recorded, size, root):
            # The recorded leaves are authenticated by the signed root: compare one by one.
            for index in range(size):
                if index >= self.computed.size:
                    return Problem(
                        f"{what}: the store ends after {self.computed.size} events but the "
                        f"checkpoint covers {size}; the event sealed at this position is missing",
                        index + 1,
                        self.position(index),
                    )
                if self.computed.leaf(index) != self.recorded.leaf(index):
                    return Problem(
                        f"{what}: the event at this position is not the one that was sealed "
                        "(changed, removed, inserted or moved)",
                        index + 1,
                        self.position(index),
                    )
        if self.computed.size < size:
            index = self.computed.size
            return Problem(
                f"{what}: the store ends after {index} events but the checkpoint covers {size}; "
                "the events from this position on are missing",
                index + 1,
                self.position(index),
                exact=False,
            )
        index = min(floor, self.computed.size)
        # The checkpoint before agreed, this one does not: the change is between them.
        last = self.position(size - 1)
        return Problem(
            f"{what}: the store's events do not hash to the signed root, and the sealed leaf "
            "hashes were altered too; the first difference is between the last checkpoint the "
            "events reproduce and this one",
            index + 1,
            self.position(index),
            exact=False,
            last=last,
        )


def verify(  # noqa: C901, PLR0912, PLR0915 - one pass over the checkpoints, one over the events
    ledger: Any,
    key: VerifierKey,
    external: str | None = None,
    *,
    require_sealed: bool = False,
    log: Log = EVENTS,
    entries: Entries = _stored_events,
) -> VerifyReport:
    """
    Check a log against its own checkpoints and, optionally, an auditor's checkpoint note.

    Entries stored after the last checkpoint are reported (``unsealed``) but prove nothing
    yet; ``require_sealed`` makes them a problem, and so a log with no checkpoint at all.
    Checkpoints the store issued and no longer holds are a problem.
    """
    store = CheckpointStore.of(ledger, log)
    rows = store.checkpoints()
    check = _Verifier(entries(ledger, 0, 10_000), store.leaves())
    report = VerifyReport(events=check.computed.size, checkpoints=len(rows), issued=store.issued())

    first_signer = store.signer()
    if first_signer is not None and first_signer != _signer(key):
        report.problems.append(
            Problem(
                f"the store's first checkpoint was signed by the key {first_signer}, not by "
                f"the key checked with now ({_signer(key)}): the signing key was replaced "
                "(keygen --force?) and the checkpoints re-signed; only the original public "
                "key (--key) can tell what was changed",
                None,
                None,
            )
        )

    # Pass 1, the checkpoints themselves: numbered without gaps, signed by the trusted key,
    # and each an append-only extension of the one before (a fork is a signed lie).
    trusted: list[_Trusted] = []
    for expected_seq, row in enumerate(rows, start=1):
        floor = trusted[-1].size if trusted else 0
        what = f"checkpoint #{row.seq} (tree size {row.tree_size})"
        problem = None
        cp = None
        if row.seq != expected_seq:
            problem = f"checkpoint #{expected_seq} is missing from the store"
        else:
            try:
                cp = open_note(row.note, key)
            except CheckpointError as exc:
                problem = f"{what}: {exc}; nothing after the previous trusted checkpoint is proven"
        if cp is not None and (cp.tree_size, cp.root_hash) != (row.tree_size, row.root_hash):
            problem = f"{what}: its columns disagree with its signed note"
        if (
            cp is not None
            and problem is None
            and trusted
            and not _consistent(check, trusted[-1], cp)
        ):
            problem = (
                f"{what} is not an append-only extension of checkpoint #{trusted[-1].seq}: "
                "history up to that checkpoint was rewritten and re-signed"
            )
            floor = 0
        if problem is not None or cp is None:
            report.problems.append(
                Problem(problem or what, floor + 1, check.position(floor), exact=False)
            )
            break
        trusted.append(_Trusted(row.seq, cp.tree_size, cp.root_hash))

    # Pass 2, the events: they must hash to every trusted checkpoint's root.
    floor = 0
    for t in trusted:
        if not check.agrees(check.computed, t.size, t.root):
            what = f"checkpoint #{t.seq} (tree size {t.size})"
            report.problems.append(check.locate(t.size, t.root, floor, what))
            break
        floor = t.size
        report.sealed = t.size

    held = rows[-1].seq if rows else 0
    if not report.problems and report.issued > held:
        index = report.sealed
        report.problems.append(
            Problem(
                f"the store has issued {report.issued} checkpoints but holds "
                f"{len(rows)} (the last is #{held}): checkpoints were removed, and nothing "
                "after the last one held is proven",
                index + 1,
                check.position(index),
                exact=False,
            )
        )
    if require_sealed and not report.problems and not rows:
        report.problems.append(
            Problem(
                f"the store has no checkpoint: nothing proves its {check.computed.size} "
                f"{log.name} (run govledger seal)",
                1 if check.computed.size else None,
                check.position(0) if check.computed.size else None,
            )
        )
    if require_sealed and not report.problems and check.computed.size > report.sealed:
        index = report.sealed
        report.problems.append(
            Problem(
                f"{check.computed.size - index} events are stored after the last trusted "
                "checkpoint: nothing proves them (run govledger seal; if the store was sealed, "
                "its checkpoints were removed)",
                index + 1,
                check.position(index),
            )
        )

    if external is not None:
        try:
            cp = open_note(external, key)
        except CheckpointError as exc:
            report.problems.append(Problem(f"the auditor's checkpoint: {exc}", None, None))
            return report
        report.external = cp.tree_size
        if not check.agrees(check.computed, cp.tree_size, cp.root_hash):
            # No floor from the store's own checkpoints: a key holder who rewrote history
            # signed those too, and the auditor's copy is what catches that.
            report.problems.append(
                check.locate(
                    cp.tree_size,
                    cp.root_hash,
                    0,
                    f"the auditor's checkpoint (tree size {cp.tree_size})",
                )
            )
    return report


def _consistent(check: _Verifier, old: _Trusted, new: Checkpoint) -> bool:
    # The proof comes from whichever copy of the leaves the new checkpoint authenticates; if
    # neither does, the store disagrees with the new checkpoint and ``locate`` reports that.
    for tree in (check.recorded, check.computed):
        if check.agrees(tree, new.tree_size, new.root_hash):
            if old.size > new.tree_size:
                return False
            proof = tree.consistency_proof(old.size, new.tree_size)
            return verify_consistency(old.size, new.tree_size, old.root, new.root_hash, proof)
    return old.size <= new.tree_size


# --- inclusion proofs -----------------------------------------------------------------------


def prove(ledger: Any, key: VerifierKey, decision_id: str) -> dict[str, Any]:
    """
    Inclusion proofs of ``decision_id``'s events against the latest trusted checkpoint.

    Raises ``CheckpointError`` when the store has no checkpoint, the latest is not
    signed by ``key``, or a decision event is not sealed yet.
    """
    store = CheckpointStore.of(ledger)
    row = store.latest()
    if row is None:
        msg = "the store has no checkpoint yet: run govledger seal"
        raise CheckpointError(msg)
    cp = open_note(row.note, key)
    leaves = store.leaves(limit=cp.tree_size)
    tree = MerkleTree([leaf.leaf_hash for leaf in leaves])
    if tree.size < cp.tree_size or tree.root(cp.tree_size) != cp.root_hash:
        msg = "the store's sealed leaves do not match its latest checkpoint: run govledger verify"
        raise CheckpointError(msg)
    agg = ledger.gate(decision_id)
    if agg is None:
        msg = f"no decision {decision_id!r} in the store"
        raise CheckpointError(msg)
    wanted = {ev: canonical_bytes(ev_fr) for ev, ev_fr in _by_event_id(agg.history)}
    index_of = {leaf.leaf_hash: leaf for leaf in leaves}
    proofs = []
    for event_id, state in wanted.items():
        leaf = index_of.get(leaf_hash(state))
        if leaf is None:
            msg = f"event {event_id} is stored after the latest checkpoint: run govledger seal"
            raise CheckpointError(msg)
        proofs.append(
            {
                "leaf_index": leaf.index,
                "position": leaf.position,
                "event": state.decode(),
                "inclusion_path": [
                    base64.b64encode(h).decode()
                    for h in tree.inclusion_proof(leaf.index, cp.tree_size)
                ],
            }
        )
    return {
        "format": PROOF_FORMAT,
        "decision_id": decision_id,
        "checkpoint": row.note,
        "proofs": proofs,
    }


def _by_event_id(history: Sequence[Any]) -> Iterator[tuple[str, Any]]:
    for fr in history:
        yield fr["event_id"], fr


def check_proof(proof: Any, key: VerifierKey, events: Sequence[bytes] | None = None) -> list[str]:
    """
    Check a ``prove`` document; return the problems found (empty: it proves what it claims).

    ``events``: the auditor's own copies of the events (JSON); each must be one of
    the proven events, compared by its canonical bytes.
    """
    problems: list[str] = []
    if not isinstance(proof, dict) or proof.get("format") != PROOF_FORMAT:
        return [f"not a {PROOF_FORMAT} document"]
    try:
        cp = open_note(str(proof.get("checkpoint", "")), key)
    except CheckpointError as exc:
        return [f"checkpoint: {exc}"]
    proven: set[bytes] = set()
    for n, item in enumerate(proof.get("proofs") or [], start=1):
        try:
            state = str(item["event"]).encode()
            path = [base64.b64decode(h, validate=True) for h in item["inclusion_path"]]
            index = int(item["leaf_index"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"proof {n}: malformed")
            continue
        if not verify_inclusion(index, cp.tree_size, leaf_hash(state), path, cp.root_hash):
            problems.append(f"proof {n}: the event is not leaf {index} of the signed tree")
            continue
        proven.add(state)
    if not proof.get("proofs"):
        problems.append("the document proves no event")
    for n, raw in enumerate(events or [], start=1):
        try:
            state = canonical_bytes(orjson.loads(raw))
        except (orjson.JSONDecodeError, TypeError):
            problems.append(f"event {n}: not JSON")
            continue
        if state not in proven:
            problems.append(f"event {n}: not among the events this document proves")
    return problems
