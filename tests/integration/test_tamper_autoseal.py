"""Ingest seals by itself: every N events and at the end of a run, with the configured key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.trust.checkpoint import SigningKey
from ledger.trust.seal import verify
from ledger.trust.store import CheckpointStore
from tests.strategies import valid_event_lines

ROOT = Path(__file__).resolve().parents[2]


def _input(tmp_path: Path, events: int) -> Path:
    source = tmp_path / "input.jsonl"
    source.write_bytes(b"\n".join(valid_event_lines(events, seed=11)[:events]) + b"\n")
    return source


def _checkpoints(store: Path) -> list:
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        return CheckpointStore.of(ledger).checkpoints()


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GOVLEDGER_")}
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        check=False,
    )


def test_ingest_seals_at_the_end_with_the_key_next_to_the_store(tmp_path, capsys):
    """Issue 5: `govledger keygen` then `ingest`: the run ends with a checkpoint over everything."""
    store = tmp_path / "ledger.db"
    assert main(["--store", str(store), "keygen"]) == 0
    assert main(["--store", str(store), "ingest", str(_input(tmp_path, 120)), "--quiet"]) == 0
    capsys.readouterr()
    (checkpoint,) = _checkpoints(store)
    assert checkpoint.tree_size == 120
    key = SigningKey.from_text(Path(f"{store}.key").read_text())
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        report = verify(ledger, key.verifier, require_sealed=True)
    assert report.ok
    assert report.sealed == 120


def test_ingest_seals_every_n_events(tmp_path):
    """Issue 5: GOVLEDGER_SEAL_EVERY=N: a checkpoint every N accepted events and at the end."""
    store = tmp_path / "ledger.db"
    key = tmp_path / "k.key"
    key.write_text(SigningKey.generate("test.invalid/every").to_text())
    done = _run(
        "--store",
        str(store),
        "ingest",
        str(_input(tmp_path, 450)),
        GOVLEDGER_SIGNING_KEY=str(key),
        GOVLEDGER_SEAL_EVERY="100",
        GOVLEDGER_BATCH_SIZE="50",
    )
    assert done.returncode == 0, done.stderr
    sizes = [c.tree_size for c in _checkpoints(store)]
    assert sizes == [100, 200, 300, 400, 450]


def test_the_key_can_be_given_as_text_in_the_environment(tmp_path):
    """GOVLEDGER_SIGNING_KEY holds a key file's path or the key text itself."""
    store = tmp_path / "ledger.db"
    key = SigningKey.generate("test.invalid/text")
    done = _run(
        "--store",
        str(store),
        "ingest",
        str(_input(tmp_path, 30)),
        GOVLEDGER_SIGNING_KEY=key.to_text(),
    )
    assert done.returncode == 0, done.stderr
    public = tmp_path / "k.pub"
    public.write_text(key.verifier.to_text())
    checked = _run("--store", str(store), "verify", "--key", str(public))
    assert checked.returncode == 0, checked.stderr
    assert orjson.loads(checked.stdout)["sealed"] == 30


def test_without_a_key_ingest_stores_and_says_it_did_not_seal(tmp_path, capsys):
    """No key configured and none next to the store: events are stored, nothing is signed,
    and ingest says so (a warning: --quiet silences it since issue 14)."""
    store = tmp_path / "ledger.db"
    assert main(["--store", str(store), "ingest", str(_input(tmp_path, 20)), "--no-results"]) == 0
    assert "not sealed" in capsys.readouterr().err
    assert _checkpoints(store) == []
    assert main(["--store", str(store), "seal"]) == 2
    assert "no signing key" in capsys.readouterr().err


def test_a_misconfigured_key_stops_ingest_before_anything_is_stored(tmp_path):
    """A key that is set but unusable is a usage error (exit 2), not a silently unsealed run."""
    store = tmp_path / "ledger.db"
    done = _run(
        "--store",
        str(store),
        "ingest",
        str(_input(tmp_path, 20)),
        GOVLEDGER_SIGNING_KEY=str(tmp_path / "absent.key"),
    )
    assert done.returncode == 2
    assert b"absent.key" in done.stderr
    assert done.stdout == b""
    with GovernanceLedger(LedgerConfig(store=str(store))) as ledger:
        assert ledger.max_position() == 0


def test_keygen_never_overwrites_a_key(tmp_path, capsys):
    """Replacing a signing key orphans every checkpoint it signed: only with --force."""
    store = tmp_path / "ledger.db"
    assert main(["--store", str(store), "keygen"]) == 0
    first = Path(f"{store}.key").read_text()
    assert main(["--store", str(store), "keygen"]) == 2
    assert Path(f"{store}.key").read_text() == first
    assert oct(Path(f"{store}.key").stat().st_mode & 0o777) == "0o600"
    assert main(["--store", str(store), "keygen", "--force"]) == 0
    assert Path(f"{store}.key").read_text() != first
    capsys.readouterr()
