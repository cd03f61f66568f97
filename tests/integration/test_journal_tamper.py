"""The refusal journal is tamper-evident like the events (issue 10 §5): a second signed log.

Its rows are the leaves of a Merkle tree of their own, sealed by checkpoints whose origin
is the key's name plus "/refusals"; verify checks it as it checks the events.
"""

from __future__ import annotations

import sqlite3
import uuid

import orjson

from ledger.bootstrap import bootstrap
from ledger.cli import main
from ledger.trust import REFUSALS, CheckpointStore, SigningKey, seal_all, verify_all


def _refused(n: int) -> dict:
    return {
        "type": "gov_decision_applied",
        "event_id": str(uuid.uuid4()),
        "timestamp": "2026-11-30T10:00:00Z",
        "actor": "system",
        "decision_id": f"missing-{n}",
        "gate_type": "SpecApproval",
        "target_ref": "WP-1",
        "automation_level": "AUTONOMOUS",
        "decision": "approve",
    }


def test_both_logs_are_sealed_and_verified(store_config):
    """
    Issue 10 §5: refusals are covered by the tamper evidence, sealed and verifiable.
    """
    key = SigningKey.generate("test.invalid/journal")
    with bootstrap(store_config).ledger() as ledger:
        ledger.append([_refused(n) for n in range(5)])
        written = seal_all(ledger, key)
        journal = CheckpointStore.of(ledger, REFUSALS).latest()
        report = verify_all(ledger, key.verifier, require_sealed=True)
    assert [row.tree_size for row in written["refusals"]] == [5]
    assert journal.note.startswith("test.invalid/journal/refusals\n5\n")
    assert report.ok
    assert report.logs["refusals"].sealed == 5


def _sqlite_store(tmp_path):
    from ledger.config import LedgerConfig

    return LedgerConfig(store=str(tmp_path / "ledger.db"), projection=str(tmp_path / "p.duckdb"))


def test_an_edited_refusal_is_caught_by_verify(tmp_path, capsys):
    """
    Issue 10 §5: a journal row changed after it was sealed fails verify, naming the log.
    """
    config = _sqlite_store(tmp_path)
    key = SigningKey.generate("test.invalid/journal")
    with bootstrap(config).ledger() as ledger:
        ledger.append([_refused(n) for n in range(3)])
        seal_all(ledger, key)
    with sqlite3.connect(config.store) as con:
        con.execute("UPDATE govledger_refusals SET code = 'duplicate' WHERE position = 2")
    (tmp_path / "key.pub").write_text(key.verifier.to_text())
    assert main(["--store", config.store, "verify", "--key", str(tmp_path / "key.pub")]) == 1
    captured = capsys.readouterr()
    report = orjson.loads(captured.out)
    assert report["refusals"]["ok"] is False
    assert report["refusals"]["position"] == 2
    assert "refusals log" in captured.err


def test_a_removed_refusal_is_caught_by_verify(tmp_path):
    """
    Issue 10 §5: the journal is never purged; a row deleted after sealing fails verify.
    """
    config = _sqlite_store(tmp_path)
    key = SigningKey.generate("test.invalid/journal")
    with bootstrap(config).ledger() as ledger:
        ledger.append([_refused(n) for n in range(3)])
        seal_all(ledger, key)
    with sqlite3.connect(config.store) as con:
        con.execute("DELETE FROM govledger_refusals WHERE position = 3")
    with bootstrap(config).ledger() as ledger:
        report = verify_all(ledger, key.verifier)
    assert not report.ok
    assert report.problems == []  # the events are fine: only the journal was touched
    assert report.first_problem[0] == "refusals"


def test_unsealed_refusals_fail_require_sealed(tmp_path):
    """
    Issue 10 §5 with issue 11's --require-sealed: refusals after the last checkpoint prove
    nothing yet.
    """
    config = _sqlite_store(tmp_path)
    key = SigningKey.generate("test.invalid/journal")
    with bootstrap(config).ledger() as ledger:
        seal_all(ledger, key)
        ledger.append([_refused(0)])
        assert verify_all(ledger, key.verifier).ok
        assert not verify_all(ledger, key.verifier, require_sealed=True).ok
