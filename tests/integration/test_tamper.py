"""Tamper evidence on a real SQLite store file: every kind of after-the-fact edit is caught.

Issue 5: an auditor can prove what the ledger recorded. The tests change the store
file directly with ``sqlite3`` (as anyone with write access to it could), then run
``govledger verify`` and expect a non-zero exit that names the first position
that disagrees.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.ingest import ingest_lines
from ledger.trust.checkpoint import Checkpoint, SigningKey, sign
from ledger.trust.merkle import MerkleTree, leaf_hash
from ledger.trust.seal import seal, verify
from ledger.trust.store import CheckpointStore
from tests.strategies import valid_event_lines

EVENTS = 600
#: Seal in three steps, so the store holds several checkpoints to check against each other.
SEALS = (200, 450, EVENTS)


@pytest.fixture
def sealed(tmp_path) -> Path:
    """
    A store of 600 events with three checkpoints, and its key next to it (``<store>.key``).
    """
    db = tmp_path / "ledger.db"
    assert main(["--store", str(db), "keygen", "--name", "test.invalid/ledger"]) == 0
    key = SigningKey.from_text((tmp_path / "ledger.db.key").read_text())
    lines = valid_event_lines(EVENTS)[:EVENTS]
    with GovernanceLedger(LedgerConfig(store=str(db))) as ledger:
        done = 0
        for upto in SEALS:
            results = list(ingest_lines(ledger, lines[done:upto]))
            assert {r.status for r in results} == {"accepted"}
            seal(ledger, key)
            done = upto
    return db


def _verify(db: Path, capsys, *extra: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    status = main(["--store", str(db), "verify", *extra])
    out, err = capsys.readouterr()
    return status, orjson.loads(out) if out.strip() else {}, err


def _rows(con: sqlite3.Connection) -> list[tuple]:
    return con.execute(
        "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
    ).fetchall()


def _edited(state: bytes) -> bytes:
    fr = orjson.loads(state)
    fr["target_ref"] += "-edited"
    return orjson.dumps(fr, option=orjson.OPT_SORT_KEYS)


def _edit(db: Path, rowid: int) -> bytes:
    with sqlite3.connect(db) as con:
        state = con.execute("SELECT state FROM stored_events WHERE rowid = ?", [rowid]).fetchone()[
            0
        ]
        con.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", [_edited(state), rowid])
    return _edited(state)


def _rewrite(db: Path, rows: list[tuple]) -> None:
    # What an attacker does to reorder or insert: rewrite the table with fresh rowids.
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM stored_events")
        con.executemany(
            "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
            "VALUES (?,?,?,?,?)",
            [(i, *row) for i, row in enumerate(rows, start=1)],
        )


def test_an_untampered_store_with_several_checkpoints_verifies(sealed, capsys):
    """Issue 5: verify recomputes the tree and checks every checkpoint and their consistency."""
    status, report, _ = _verify(sealed, capsys)
    assert status == 0
    assert report["ok"] is True
    assert (report["events"], report["checkpoints"], report["sealed"]) == (EVENTS, 3, EVENTS)


def test_editing_one_events_json_is_caught_at_its_position(sealed, capsys):
    """Issue 5: changing one stored event (its target moved) is named."""
    _edit(sealed, 137)
    status, report, err = _verify(sealed, capsys)
    assert status == 1
    assert (report["ok"], report["position"], report["leaf"], report["exact"]) == (
        False,
        137,
        137,
        True,
    )
    assert "store position 137" in err


def test_deleting_one_event_is_caught_at_its_position(sealed, capsys):
    """Issue 5: an event that vanished is named by the position it was sealed at."""
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM stored_events WHERE rowid = 300")
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    assert (report["position"], report["exact"]) == (300, True)


def test_inserting_one_event_is_caught_at_its_position(sealed, capsys):
    """Issue 5: a forged event slipped into the history is named where it sits."""
    with sqlite3.connect(sealed) as con:
        rows = _rows(con)
    forged = orjson.loads(rows[49][3])
    forged["event_id"] = "0b0b0b0b-0000-4000-8000-000000000000"
    rows.insert(
        49, (rows[49][0], 99, rows[49][2], orjson.dumps(forged, option=orjson.OPT_SORT_KEYS))
    )
    _rewrite(sealed, rows)
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    assert (report["leaf"], report["position"], report["exact"]) == (50, 50, True)


def test_swapping_two_events_is_caught_at_the_first_of_them(sealed, capsys):
    """Issue 5: reordering history (store order is part of what is sealed) is named."""
    with sqlite3.connect(sealed) as con:
        rows = _rows(con)
    rows[399], rows[420] = rows[420], rows[399]
    _rewrite(sealed, rows)
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    assert (report["position"], report["exact"]) == (400, True)


def test_truncating_the_tail_is_caught_at_the_first_missing_position(sealed, capsys):
    """Issue 5: dropping the most recent events (under the last checkpoint) is named."""
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM stored_events WHERE rowid > 510")
    status, report, err = _verify(sealed, capsys)
    assert status == 1
    assert (report["position"], report["exact"]) == (511, True)
    assert "missing" in err


def test_resigning_a_rewritten_store_with_another_key_is_caught(sealed, capsys, tmp_path):
    """Issue 5: an attacker who rewrites history and re-seals it with their own key is caught."""
    _edit(sealed, 250)
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_checkpoints")
        con.execute("DELETE FROM govledger_leaves")
    with GovernanceLedger(LedgerConfig(store=str(sealed))) as ledger:
        seal(ledger, SigningKey.generate("test.invalid/ledger"))  # same name, other key
    status, report, err = _verify(sealed, capsys)
    assert status == 1
    assert "not signed by the trusted key" in report["problem"]
    # Nothing is proven any more: the first unproven position is the first one.
    assert (report["position"], report["exact"]) == (1, False)
    assert "at or after store position 1" in err


def test_rewriting_the_event_and_its_sealed_leaf_hash_is_still_caught(sealed, capsys):
    """Issue 5: altering the recorded leaf hashes too only makes the position less exact."""
    edited = _edit(sealed, 320)
    with sqlite3.connect(sealed) as con:
        con.execute(
            "UPDATE govledger_leaves SET leaf_hash = ? WHERE leaf_index = 319", [leaf_hash(edited)]
        )
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    # The checkpoint before covers 1..200 and still verifies: the change is after it.
    assert (report["position"], report["exact"]) == (201, False)


def test_a_deleted_checkpoint_is_caught(sealed, capsys):
    """Checkpoints are numbered 1, 2, 3...: removing one from the middle shows."""
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_checkpoints WHERE seq = 2")
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    assert "checkpoint #2 is missing" in report["problem"]


def test_an_auditors_checkpoint_catches_a_truncation_the_store_cannot_show(
    sealed, capsys, tmp_path
):
    """Issue 5: --checkpoint FILE: the auditor's copy catches a tail cut with its checkpoint."""
    kept = tmp_path / "auditor.checkpoint"
    with GovernanceLedger(LedgerConfig(store=str(sealed))) as ledger:
        kept.write_text(CheckpointStore.of(ledger).latest().note)
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM stored_events WHERE rowid > 450")
        con.execute("DELETE FROM govledger_checkpoints WHERE seq = 3")
        con.execute("DELETE FROM govledger_leaves WHERE leaf_index >= 450")
    status, report, _ = _verify(sealed, capsys)
    # Issue 11: the store remembers it issued checkpoint #3, so even a clean cut is caught.
    assert status == 1
    assert (report["checkpoints_issued"], report["checkpoints"]) == (3, 2)
    assert "checkpoints were removed" in report["problem"]
    status, report, err = _verify(sealed, capsys, "--checkpoint", str(kept))
    assert status == 1
    assert report["external_checkpoint_size"] == EVENTS
    assert report["position"] == 451
    assert "451" in err


def test_removing_every_checkpoint_is_caught(sealed, capsys):
    """
    Issue 11 item 4: the store remembers how many checkpoints it issued, so removing them
    all fails verify, with or without --require-sealed.
    """
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_checkpoints")
        con.execute("DELETE FROM govledger_leaves")
    status, report, err = _verify(sealed, capsys)
    assert (status, report["unsealed"], report["checkpoints_issued"]) == (1, EVENTS, 3)
    assert "checkpoints were removed" in err
    status, report, err = _verify(sealed, capsys, "--require-sealed")
    assert status == 1
    assert (report["position"], report["exact"]) == (1, False)


def test_removing_every_checkpoint_and_the_count_still_fails_require_sealed(sealed, capsys):
    """
    Issue 11 item 4: --require-sealed fails a store with no checkpoint at all, whatever
    else was removed with them.
    """
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_checkpoints")
        con.execute("DELETE FROM govledger_leaves")
        con.execute("DELETE FROM govledger_meta WHERE key LIKE 'checkpoints_issued:%'")
    status, report, _ = _verify(sealed, capsys)
    assert (status, report["unsealed"]) == (0, EVENTS)
    status, report, err = _verify(sealed, capsys, "--require-sealed")
    assert status == 1
    assert "no checkpoint" in report["problem"]
    assert "at store position 1" in err


def test_an_auditors_checkpoint_from_another_key_is_refused(sealed, capsys, tmp_path):
    """A checkpoint file is trusted only if the trusted key signed it."""
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(
        sign(Checkpoint("test.invalid/ledger", 1, b"\x00" * 32), SigningKey.generate("x.invalid/y"))
    )
    status, report, _ = _verify(sealed, capsys, "--checkpoint", str(forged))
    assert status == 1
    assert "not signed by the trusted key" in report["problem"]


def test_a_fork_signed_with_the_real_key_is_not_consistent_with_the_earlier_checkpoint(
    sealed, capsys
):
    """C2SP tlog-checkpoint: each checkpoint must be an append-only extension of the one before."""
    key = SigningKey.from_text(Path(str(sealed) + ".key").read_text())
    _edit(sealed, 20)
    with sqlite3.connect(sealed) as con:
        # The key holder keeps checkpoint #1 and signs a new #2 over the rewritten history.
        con.execute("DELETE FROM govledger_checkpoints WHERE seq > 1")
        con.execute("DELETE FROM govledger_leaves WHERE leaf_index >= 200")
        states = [r[0] for r in con.execute("SELECT state FROM stored_events ORDER BY rowid")]
        tree = MerkleTree([leaf_hash(s) for s in states])
        note = sign(Checkpoint("test.invalid/ledger", len(states), tree.root()), key)
        con.execute(
            "INSERT INTO govledger_checkpoints VALUES (2, ?, ?, ?, x'', 't', ?)",
            [len(states), len(states), tree.root(), note],
        )
    status, report, _ = _verify(sealed, capsys)
    assert status == 1
    assert "not an append-only extension of checkpoint #1" in report["problem"]


def test_an_auditors_checkpoint_catches_a_history_resealed_with_the_real_key(sealed, capsys):
    """Issue 5: the key holder can re-seal a rewritten store, but not the auditor's copy."""
    key = SigningKey.from_text(Path(str(sealed) + ".key").read_text())
    kept = sealed.parent / "auditor.checkpoint"
    with GovernanceLedger(LedgerConfig(store=str(sealed))) as ledger:
        kept.write_text(CheckpointStore.of(ledger).checkpoints()[0].note)
    _edit(sealed, 20)
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_checkpoints")
        con.execute("DELETE FROM govledger_leaves")
    with GovernanceLedger(LedgerConfig(store=str(sealed))) as ledger:
        seal(ledger, key)
    status, report, _ = _verify(sealed, capsys)
    # Issue 11: the store remembers it had issued 3 checkpoints; only 1 is left.
    assert status == 1
    assert "checkpoints were removed" in report["problem"]
    with sqlite3.connect(sealed) as con:
        con.execute("DELETE FROM govledger_meta WHERE key LIKE 'checkpoints_issued:%'")
        con.execute("INSERT INTO govledger_meta VALUES ('checkpoints_issued:events', '1')")
    status, _, _ = _verify(sealed, capsys)
    assert status == 0, "re-sealed from scratch, counter and all, the store is self-consistent"
    status, report, _ = _verify(sealed, capsys, "--checkpoint", str(kept))
    assert status == 1
    assert report["external_checkpoint_size"] == 200
    assert (report["position"], report["exact"]) == (1, False)


def test_prove_and_verify_proof_work_offline_and_refuse_a_changed_event(sealed, capsys, tmp_path):
    """Issue 5: an inclusion proof is checked with nothing but the proof, the event and the key."""
    with sqlite3.connect(sealed) as con:
        decision_id = orjson.loads(
            con.execute("SELECT state FROM stored_events WHERE rowid = 5").fetchone()[0]
        )["decision_id"]
    capsys.readouterr()
    assert main(["--store", str(sealed), "prove", decision_id]) == 0
    proof = tmp_path / "proof.json"
    proof.write_text(capsys.readouterr().out)
    document = orjson.loads(proof.read_text())
    assert all(p["event"] for p in document["proofs"])
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(p["event"] for p in document["proofs"]) + "\n")
    pub = str(sealed) + ".key.pub"
    # No store is involved: the proof is checked with a store that does not exist.
    offline = ["--store", str(tmp_path / "absent.db"), "verify-proof", str(proof), "--key", pub]
    assert main([*offline, "--event", str(events)]) == 0
    assert not (tmp_path / "absent.db").exists()

    changed = tmp_path / "changed.jsonl"
    changed.write_text(document["proofs"][0]["event"].replace("approve", "reject") + "\n")
    assert main([*offline, "--event", str(changed)]) == 1
    document["proofs"][0]["event"] = document["proofs"][0]["event"].replace("approve", "reject")
    proof.write_bytes(orjson.dumps(document))
    assert main(offline) == 1
    document["proofs"][0]["event"] = document["proofs"][0]["event"].replace("reject", "approve")
    proof.write_bytes(orjson.dumps(document))
    assert main(offline) == 0
    other = tmp_path / "other.pub"
    other.write_text(SigningKey.generate("test.invalid/ledger").verifier.to_text())
    assert main(["verify-proof", str(proof), "--key", str(other)]) == 1


def test_an_untampered_store_of_100000_events_verifies(tmp_path):
    """Issue 5: verification scales to a real store (100,000 events, several checkpoints)."""
    key = SigningKey.generate("test.invalid/big")
    lines = valid_event_lines(100_000)[:100_000]
    with GovernanceLedger(LedgerConfig(store=str(tmp_path / "big.db"))) as ledger:
        for start in range(0, len(lines), 25_000):
            assert all(
                r.status == "accepted" for r in ingest_lines(ledger, lines[start : start + 25_000])
            )
            seal(ledger, key)
        report = verify(ledger, key.verifier)
    assert report.ok, report.to_json()
    assert (report.events, report.sealed, report.checkpoints) == (100_000, 100_000, 4)
