"""Issue 11 item 4: a verify an auditor can trust, and that says what it trusted."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ledger.cli import main


@pytest.fixture
def store(tmp_path) -> Path:
    """
    A sealed store with its key beside it, and the auditor's own copy of the public key.
    """
    db = tmp_path / "ledger.db"
    assert main(["--store", str(db), "keygen", "--name", "test.invalid/ledger"]) == 0
    assert main(["--store", str(db), "demo", "--work-packets", "3"]) == 0
    assert main(["--store", str(db), "seal"]) == 0
    assert main(["--store", str(db), "demo", "--work-packets", "2", "--seed", "3"]) == 0
    assert main(["--store", str(db), "seal"]) == 0
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    shutil.copy(str(db) + ".key.pub", auditor / "ledger.pub")
    return db


def verify(store: Path, capsys, *extra: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    status = main(["--store", str(store), "verify", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, orjson.loads(out), err


def auditor_key(store: Path) -> str:
    return str(store.parent / "auditor" / "ledger.pub")


def test_verify_says_which_key_it_trusted(store, capsys):
    """
    Issue 11 item 4: with only the key beside the store, the output says "trust": "self",
    names the key, and says plainly it proves nothing against someone who writes both;
    with --key it says "trust": "key".
    """
    status, report, err = verify(store, capsys)
    assert status == 0
    assert (report["trust"], report["key"]) == ("self", "test.invalid/ledger")
    assert report["key_source"] == str(store) + ".key"
    assert "proves nothing" in report["note"]
    assert "proves nothing against someone who can write both" in err
    status, report, err = verify(store, capsys, "--key", auditor_key(store))
    assert (status, report["trust"], report["key_source"]) == (0, "key", auditor_key(store))
    assert "proves nothing" not in err


def test_the_verification_key_can_come_from_the_environment(store):
    """
    Issue 11 item 4: GOVLEDGER_VERIFY_KEY is the documented way to keep the key elsewhere.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    env["GOVLEDGER_VERIFY_KEY"] = auditor_key(store)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ledger.cli import main; sys.exit(main())",
            "--store",
            str(store),
            "verify",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["trust"] == "key"


def _rewrite_and_reseal_with_a_new_key(store: Path) -> None:
    """
    What someone who can write the store and its key file can do: change an event, replace
    the key (keygen --force), drop the checkpoints and the count, and seal again.
    """
    with sqlite3.connect(store) as con:
        state = con.execute("SELECT state FROM stored_events WHERE rowid = 7").fetchone()[0]
        fr = orjson.loads(state)
        fr["rationale"] = "rewritten"
        con.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = 7",
            [orjson.dumps(fr, option=orjson.OPT_SORT_KEYS)],
        )
        con.execute("DELETE FROM govledger_checkpoints")
        con.execute("DELETE FROM govledger_leaves")
        con.execute("DELETE FROM govledger_meta WHERE key LIKE 'checkpoints_issued:%'")
    con.close()
    assert main(["--store", str(store), "keygen", "--force", "--name", "test.invalid/ledger"]) == 0
    assert main(["--store", str(store), "seal"]) == 0


def test_the_auditors_key_passes_before_tampering_and_fails_after_a_resigned_rewrite(store, capsys):
    """
    Issue 11 item 4: history rewritten and re-signed after keygen --force: the auditor's
    own key fails verify; before the rewrite it passed.
    """
    assert verify(store, capsys, "--key", auditor_key(store))[0] == 0
    _rewrite_and_reseal_with_a_new_key(store)
    status, report, _ = verify(store, capsys, "--key", auditor_key(store))
    assert status == 1
    assert report["trust"] == "key"


def test_the_key_beside_the_store_fails_verify_once_it_was_replaced(store, capsys):
    """
    Issue 11 item 4: the store remembers the key that signed its first checkpoint; a key
    replaced beside it (and everything re-signed) no longer passes as "self" trust.
    """
    _rewrite_and_reseal_with_a_new_key(store)
    status, report, err = verify(store, capsys)
    assert status == 1
    assert report["trust"] == "self"
    assert "signing key was replaced" in report["problem"]
    assert "proves nothing" in err


def test_require_sealed_fails_a_store_with_no_checkpoint(tmp_path, capsys):
    """
    Issue 11 item 4: --require-sealed meets a store with no checkpoint: exit 1.
    """
    db = tmp_path / "ledger.db"
    assert main(["--store", str(db), "keygen"]) == 0
    status, report, _ = verify(db, capsys, "--require-sealed")
    assert status == 1
    assert "no checkpoint" in report["problem"]
    assert verify(db, capsys)[0] == 0
