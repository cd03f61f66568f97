"""govledger audit evidence / audit verify-evidence: the evidence pack (issue 14 section 2).

A known workload (two weeks of history, pending decisions of known ages, the demo with
its refused events) is sealed and projected: that projection is the cut every pack
must reproduce. Then more events and a refusal are stored after the checkpoint; no
pack may hold them. Each pack's tables are compared row by row with the projection,
its report number by number, its controls.md figures with plain counts; the pack
verifies offline with the public key alone (no store, no network) and fails on one
flipped byte in any of its files, on a checkpoint signed by another key, and on a
consistency proof that starts anywhere but at the auditor's own earlier pack.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import orjson
import pytest

from ledger.application import GovernanceLedger
from ledger.cli import main
from ledger.config import LedgerConfig
from ledger.trust import SigningKey, sign
from ledger.trust.checkpoint import Checkpoint, sign_text
from ledger.trust.evidence import pack_bytes, verify_pack
from ledger.trust.keys import read_public_key
from projections import TABLES
from tests.cli._report_workload import record
from tests.cli.test_report import check_every_number

ROOT = Path(__file__).resolve().parents[2]
BY_DECISION = ("events", "decisions", "auto_signatures", "human_interventions", "locked_halts")


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """
    The workload, sealed, and its projection at the checkpoint; then events and a refusal
    after the checkpoint (unsealed), which no pack may hold.
    """
    d = tmp_path_factory.mktemp("evidence")
    store, cut = str(d / "ledger.db"), str(d / "cut.duckdb")
    now = datetime.now(UTC).replace(microsecond=0)
    with GovernanceLedger(LedgerConfig(store=store)) as app:
        record(app, now)
    assert main(["--store", store, "keygen", "--name", "test.invalid/ledger"]) == 0
    assert main(["--store", store, "seal"]) == 0
    assert main(["--store", store, "--projection", cut, "project"]) == 0
    with GovernanceLedger(LedgerConfig(store=store)) as app:
        tail = app.evaluate_gate(
            "SpecApproval", "WP-after/MT-01", "AUTONOMOUS", "approve", 0.97, model_id="m"
        )
        app.append([{"type": "gov_decision_created", "event_id": str(uuid.uuid4())}])
    auditor = d / "auditor.pub"
    shutil.copy(store + ".key.pub", auditor)
    since = (now - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    until = (now - timedelta(days=2)).replace(hour=0, minute=0, second=0)
    return {
        "dir": d,
        "store": store,
        "cut": cut,
        "key": str(auditor),
        "now": now,
        "since": since,
        "until": until,
        "tail_decision": tail.decision_id,
    }


def build(sealed, out: Path, *args: str) -> Path:
    assert main(["--store", sealed["store"], "audit", "evidence", "-o", str(out), *args]) == 0
    return out


@pytest.fixture(scope="module")
def period_pack(sealed):
    args = ("--since", stamp(sealed["since"]), "--until", stamp(sealed["until"]))
    return build(sealed, sealed["dir"] / "period.zip", *args)


@pytest.fixture(scope="module")
def full_pack(sealed):
    return build(sealed, sealed["dir"] / "full.zip")


def files_of(pack: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(pack) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def parquet_rows(files: dict[str, bytes], table: str) -> list[dict]:
    # DuckDB reads it: pyarrow's Parquet reader can abort the process at exit
    # (apache/arrow#34314), which would fail the whole test run.
    with tempfile.TemporaryDirectory() as work:
        target = Path(work) / f"{table}.parquet"
        target.write_bytes(files[f"tables/{table}.parquet"])
        con = duckdb.connect()
        try:
            cursor = con.execute("SELECT * FROM read_parquet(?)", [str(target)])
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            con.close()


def projection_rows(cut: str, table: str, since, until) -> list[dict]:
    """
    The rows the pack must hold, by plain SQL on the projection at the checkpoint.
    """
    period = ["TRUE"]
    params: list = []
    column = "refused_at" if table == "refusals" else "created_at"
    if since is not None:
        period.append(f"{column} >= ?")
        params.append(since)
    if until is not None:
        period.append(f"{column} < ?")
        params.append(until)
    where = " AND ".join(period)
    if table in BY_DECISION:
        where = f"decision_id IN (SELECT decision_id FROM decisions WHERE {where})"
    con = duckdb.connect(cut, read_only=True)
    try:
        cursor = con.execute(
            f"SELECT * FROM {table} WHERE {where} ORDER BY {TABLES[table].order_by}", params
        )
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()


def verified(pack: Path, key: str, capsys, *extra: str) -> tuple[int, dict, str]:
    capsys.readouterr()
    status = main(["audit", "verify-evidence", str(pack), "--key", key, "-f", "json", *extra])
    out, err = capsys.readouterr()
    return status, orjson.loads(out), err


# --- what a pack holds ----------------------------------------------------------------


@pytest.mark.parametrize("which", ["period", "full"])
def test_every_table_of_the_pack_is_the_projection_at_the_checkpoint(
    sealed, period_pack, full_pack, which
):
    """
    Issue 14 §2: the projection tables for the period, as Parquet: row for row what the
    projection at the checkpoint holds for the period's decisions (and refusals), and
    nothing stored after the checkpoint.
    """
    pack, since, until = (
        (period_pack, sealed["since"], sealed["until"])
        if which == "period"
        else (full_pack, None, None)
    )
    files = files_of(pack)
    manifest = orjson.loads(files["manifest.json"])
    for table in TABLES:
        shown = parquet_rows(files, table)
        expected = projection_rows(sealed["cut"], table, since, until)
        assert shown == expected, table
        assert manifest["contents"]["rows"][table] == len(expected)
    decisions = {r["decision_id"] for r in parquet_rows(files, "decisions")}
    assert sealed["tail_decision"] not in decisions
    if which == "period":
        assert decisions
        assert {"pending-8d", "pending-4d"} <= decisions
        assert not {"pending-2d", "pending-5h"} & decisions
    else:
        assert len(parquet_rows(files, "refusals")) == 4  # the demo's, not the one after


def test_the_report_in_the_pack_states_the_projection_at_the_checkpoint(sealed, period_pack):
    """
    Issue 14 §2 (report.html) and Done means: every number of the pack's report equals a
    query on the projection at the checkpoint; waits are measured to the checkpoint's time.
    """
    files = files_of(period_pack)
    manifest = orjson.loads(files["manifest.json"])
    events = manifest["logs"]["events"]
    html = files["report.html"].decode()
    shown = check_every_number(
        html,
        sealed["cut"],
        since=sealed["since"],
        until=sealed["until"],
        extra={
            ("verification.checkpoint_size", ()): events["tree_size"],
            ("verification.events", ()): events["tree_size"],
            ("verification.coverage", ()): 1.0,
            ("verification.unsealed", ()): 0,
            ("verification.checkpoint_time", ()): datetime.fromisoformat(events["sealed_at"]),
        },
    )
    assert datetime.fromisoformat(shown["generated_at", ()]) == datetime.fromisoformat(
        events["sealed_at"]
    )
    assert "govledger audit verify-evidence PACK.zip --key PUBLIC_KEY_FILE" in html


def test_controls_map_each_duty_and_mark_what_the_pack_cannot_show_as_a_gap(sealed, full_pack):
    """
    Issue 14 §2: controls.md maps the pack to Art. 12, 14, 19/26(6), ISO/IEC 42001 A.6.2.8
    and NIST AI RMF MAP 3.5, with the pack's own figures, and marks gaps as gaps.
    """
    text = files_of(full_pack)["controls.md"].decode()
    for heading in (
        "### Article 12: record-keeping (logging)",
        "### Article 14: human oversight",
        "### Articles 19 and 26(6): keeping the logs for at least six months",
        "## ISO/IEC 42001:2023, Annex A control A.6.2.8",
        "## NIST AI RMF 1.0, MAP 3.5",
    ):
        assert heading in text
    sections = re.split(r"^#+ ", text, flags=re.MULTILINE)[2:]
    assert all("**Gap**" in s for s in sections if s.startswith(("Article", "ISO", "NIST")))
    # Two weeks of history: six months of retention is not shown, and it says so.
    assert "**Gap**: this pack does not show six months of retention" in text
    assert "**Gap**: no earlier pack was given" in text
    con = duckdb.connect(sealed["cut"], read_only=True)
    try:
        count = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        expected = (
            count("SELECT count(*) FROM decisions"),
            count("SELECT count(*) FROM events"),
            count("SELECT count(*) FROM human_interventions"),
            count("SELECT count(*) FROM human_interventions WHERE received_at IS NOT NULL"),
            count("SELECT count(*) FROM auto_signatures"),
            count("SELECT count(*) FROM locked_halts"),
            count("SELECT count(*) FROM refusals"),
        )
    finally:
        con.close()
    found = re.search(
        r"It holds ([\d,]+) decisions \(([\d,]+) events\), ([\d,]+) requests for a human "
        r"\(([\d,]+) answered\), ([\d,]+) auto-signatures, ([\d,]+) LOCKED halts and "
        r"([\d,]+) refused events",
        text,
    )
    assert found is not None
    assert tuple(int(g.replace(",", "")) for g in found.groups()) == expected


def test_the_policies_in_force_are_in_the_pack_with_their_digests(full_pack):
    """
    Issue 14 §2: the policy versions in force, canonical text named by its SHA-256, and
    every decision's policy_digest among them.
    """
    files = files_of(full_pack)
    policies = {n: d for n, d in files.items() if n.startswith("policies/")}
    assert policies
    for name, data in policies.items():
        assert name == f"policies/{hashlib.sha256(data).hexdigest()}.json"
        assert orjson.loads(data)["version"]
    used = {r["policy_digest"] for r in parquet_rows(files, "decisions")}
    assert {f"policies/{d}.json" for d in used} == set(policies)


# --- verifying ------------------------------------------------------------------------


def test_a_pack_verifies_offline_with_the_public_key_alone(sealed, full_pack, tmp_path):
    """
    Issue 14 §2: verify-evidence needs only the pack and a public key: run in an empty
    directory, with no store configured and (where it can be arranged) no network, it
    passes every check and creates no store.
    """
    work = tmp_path / "regulator"
    work.mkdir()
    shutil.copy(full_pack, work / "pack.zip")
    shutil.copy(sealed["key"], work / "ledger.pub")
    command = [sys.executable, "-m", "ledger", "audit", "verify-evidence", "pack.zip"]
    command += ["--key", "ledger.pub", "-f", "json"]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        command = [unshare, "-rn", *command]  # a network namespace with no interface up
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    assert report["ok"] is True
    checks = [c["check"] for c in report["checks"]]
    assert checks == [
        "manifest",
        "signature",
        "files",
        "checkpoint:events",
        "proofs:events",
        "checkpoint:refusals",
        "proofs:refusals",
        "tables",
        "policies",
    ]
    assert sorted(p.name for p in work.iterdir()) == ["ledger.pub", "pack.zip"]


def _damaged(pack: Path, name: str, offset: int) -> bytes:
    files = files_of(pack)
    data = bytearray(files[name])
    data[offset] ^= 0x01
    files[name] = bytes(data)
    return pack_bytes(files)


def _names(pack: Path) -> list[str]:
    return sorted(files_of(pack))


@pytest.fixture(scope="module")
def consistent_pack(sealed, full_pack, tmp_path_factory):
    """
    A pack of the same store after a second seal, with --previous (so it has every file).
    """
    d = tmp_path_factory.mktemp("consistent")
    store = d / "ledger.db"
    shutil.copy(sealed["store"], store)
    shutil.copy(sealed["store"] + ".key", str(store) + ".key")
    shutil.copy(sealed["store"] + ".key.pub", str(store) + ".key.pub")
    assert main(["--store", str(store), "seal"]) == 0
    out = d / "next.zip"
    status = main(
        ["--store", str(store), "audit", "evidence", "-o", str(out), "--previous", str(full_pack)]
    )
    assert status == 0
    return out


def test_every_file_of_the_pack_is_covered(consistent_pack):
    """
    The pack this module damages holds every kind of file the pack format has.
    """
    names = _names(consistent_pack)
    assert {"manifest.json", "manifest.sig", "controls.md", "report.html"} <= set(names)
    assert {"checkpoints/events.note", "checkpoints/refusals.note"} <= set(names)
    assert {"proofs/events.json", "proofs/refusals.json", "proofs/consistency.json"} <= set(names)
    assert {f"tables/{t}.parquet" for t in TABLES} <= set(names)
    assert any(n.startswith("policies/") for n in names)


@pytest.mark.parametrize(
    "name",
    [
        "manifest.json",
        "manifest.sig",
        "controls.md",
        "report.html",
        "checkpoints/events.note",
        "checkpoints/refusals.note",
        "proofs/events.json",
        "proofs/refusals.json",
        "proofs/consistency.json",
        *(f"tables/{t}.parquet" for t in TABLES),
        "policies/",
    ],
)
def test_one_flipped_byte_in_any_file_fails_verification(sealed, consistent_pack, tmp_path, name):
    """
    Issue 14 Done means: one flipped byte in any file of the pack (its first, middle and
    last byte; every byte of the manifest's signature) fails verify-evidence, exit 1,
    naming the failed check; the zip is rebuilt so that only the file's content changed.
    """
    if name == "policies/":
        name = next(n for n in _names(consistent_pack) if n.startswith("policies/"))
    size = len(files_of(consistent_pack)[name])
    offsets = range(size) if name == "manifest.sig" else sorted({0, size // 2, size - 1})
    key = read_public_key(Path(sealed["key"]))
    for offset in offsets:
        damaged = tmp_path / "damaged.zip"
        damaged.write_bytes(_damaged(consistent_pack, name, offset))
        report = verify_pack(damaged, key)
        assert not report.ok, (name, offset)
    status = main(["audit", "verify-evidence", str(damaged), "--key", sealed["key"], "-q"])
    assert status == 1


def test_a_flipped_byte_anywhere_in_the_zip_fails_verification(sealed, consistent_pack, tmp_path):
    """
    Issue 14 Done means: the zip itself damaged (a byte of each file's stored data, of the
    headers, of the central directory) fails too; no traceback whatever the damage.
    """
    raw = consistent_pack.read_bytes()
    key = read_public_key(Path(sealed["key"]))
    with zipfile.ZipFile(consistent_pack) as archive:
        starts = [info.header_offset for info in archive.infolist()]
    offsets = sorted({*starts, *(s + 40 for s in starts), len(raw) // 2, len(raw) - 30})
    for offset in offsets:
        damaged = tmp_path / "raw.zip"
        data = bytearray(raw)
        data[offset] ^= 0x01
        damaged.write_bytes(bytes(data))
        assert not verify_pack(damaged, key).ok, offset


def test_a_pack_verified_with_another_key_fails(sealed, full_pack, tmp_path, capsys):
    """
    Issue 14 §2: the signatures are the ledger's: another public key fails, naming the
    manifest's signature.
    """
    other = tmp_path / "other.pub"
    other.write_text(SigningKey.generate("test.invalid/ledger").verifier.to_text() + "\n")
    status, report, err = verified(full_pack, str(other), capsys)
    assert status == 1
    assert report["failed"]["check"] == "signature"
    assert "verify-evidence" in err


def test_a_pack_whose_checkpoint_is_signed_by_another_key_fails(
    sealed, full_pack, tmp_path, capsys
):
    """
    Issue 14 Done means: a checkpoint signed by another key (same name, same tree) fails,
    even when everything else, the manifest and its signature included, is consistent:
    here the pack is rebuilt and re-signed with the ledger's own key.
    """
    signing = SigningKey.from_text(Path(sealed["store"] + ".key").read_text())
    impostor = SigningKey.generate(signing.name)
    files = files_of(full_pack)
    original = Checkpoint.parse_text(
        files["checkpoints/events.note"].decode().split("\n\n")[0] + "\n"
    )
    files["checkpoints/events.note"] = sign(original, impostor).encode()
    manifest = orjson.loads(files["manifest.json"])
    data = files["checkpoints/events.note"]
    manifest["files"]["checkpoints/events.note"] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    files["manifest.json"] = (
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    text = (
        f"{signing.name}/evidence\ngovledger-evidence/1\nsha256 "
        f"{hashlib.sha256(files['manifest.json']).hexdigest()}\n"
    ).encode()
    files["manifest.sig"] = sign_text(text, signing).encode()
    forged = tmp_path / "forged.zip"
    forged.write_bytes(pack_bytes(files))
    status, report, _ = verified(forged, sealed["key"], capsys)
    assert status == 1
    assert report["failed"]["check"] == "checkpoint:events"
    assert "not signed by the trusted key" in report["failed"]["problem"]


def test_building_from_checkpoints_signed_by_another_key_is_refused(sealed, tmp_path, capsys):
    """
    A store whose checkpoints the configured key did not sign (keygen --force since) gives
    no pack that would fail verification: checkpoint_invalid, exit 1, nothing written.
    """
    store = tmp_path / "ledger.db"
    shutil.copy(sealed["store"], store)
    assert main(["--store", str(store), "keygen", "--name", "test.invalid/ledger"]) == 0
    capsys.readouterr()
    out = tmp_path / "pack.zip"
    assert main(["--store", str(store), "audit", "evidence", "-o", str(out)]) == 1
    error = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
    assert error["code"] == "checkpoint_invalid"
    assert not out.exists()


# --- determinism ------------------------------------------------------------------------


def test_the_same_inputs_give_the_same_bytes(sealed, full_pack, tmp_path):
    """
    Issue 14 §2: deterministic: built again (in another process, with another hash seed)
    the pack is byte for byte the same, although events were stored after the checkpoint
    since; DuckDB's Parquet files within it too.
    """
    again = tmp_path / "again.zip"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONHASHSEED="12345")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledger",
            "--store",
            sealed["store"],
            "audit",
            "evidence",
            "-o",
            str(again),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == full_pack.read_bytes()
    with zipfile.ZipFile(again) as archive:
        infos = archive.infolist()
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos)
    assert [i.filename for i in infos][:2] == ["manifest.json", "manifest.sig"]


def test_the_pack_holds_no_time_but_the_checkpoints(full_pack):
    """
    No volatile field: the only moments in the manifest are the checkpoints' own, and the
    report says it was generated at the events checkpoint's time.
    """
    files = files_of(full_pack)
    manifest = orjson.loads(files["manifest.json"])
    times = set(re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+Z", files["manifest.json"].decode()))
    assert times == {about["sealed_at"] for about in manifest["logs"].values()}


# --- consistency with an earlier pack -------------------------------------------------------


def test_a_later_pack_proves_it_extends_the_earlier_one(sealed, full_pack, consistent_pack, capsys):
    """
    Issue 14 §2: --previous adds the earlier pack's checkpoints and consistency proofs to
    them; verify-evidence checks them, against the auditor's own earlier pack too.
    """
    status, report, _ = verified(
        consistent_pack, sealed["key"], capsys, "--previous", str(full_pack)
    )
    assert status == 0, report["failed"]
    checks = [c["detail"] for c in report["checks"] if c["check"] == "consistency"]
    assert len(checks) == 2
    earlier = orjson.loads(files_of(full_pack)["manifest.json"])["logs"]
    later = orjson.loads(files_of(consistent_pack)["manifest.json"])
    assert later["contents"]["previous"] == {n: a["tree_size"] for n, a in earlier.items()}
    assert later["logs"]["events"]["tree_size"] > earlier["events"]["tree_size"]


def test_a_consistency_proof_from_another_earlier_checkpoint_fails(
    sealed, full_pack, consistent_pack, tmp_path, capsys
):
    """
    A pack that carries an earlier checkpoint other than the auditor's copy fails when the
    auditor gives their earlier pack: the consistency proof must start from it.
    """
    status, report, _ = verified(full_pack, sealed["key"], capsys, "--previous", str(full_pack))
    assert status == 1
    assert report["failed"]["check"] == "consistency"
    assert "is missing" in report["failed"]["problem"]
    # The later pack checked against a pack it does not start from (itself).
    status, report, _ = verified(
        consistent_pack, sealed["key"], capsys, "--previous", str(consistent_pack)
    )
    assert status == 1
    assert report["failed"]["check"] == "consistency"


def test_a_store_that_rewrote_what_the_earlier_pack_covered_gets_no_pack(
    sealed, full_pack, tmp_path, capsys
):
    """
    A store whose history differs from the earlier pack's (a fork, signed with the same
    key) cannot build a pack that extends it: tamper_detected, exit 1, nothing written.
    """
    store = tmp_path / "fork.db"
    with GovernanceLedger(LedgerConfig(store=str(store))) as app:
        record(app, sealed["now"], seed=99)
        app.evaluate_gate("SpecApproval", "WP-fork", "AUTONOMOUS", "approve", 0.99, model_id="m")
    shutil.copy(sealed["store"] + ".key", str(store) + ".key")
    shutil.copy(sealed["store"] + ".key.pub", str(store) + ".key.pub")
    assert main(["--store", str(store), "seal"]) == 0
    capsys.readouterr()
    out = tmp_path / "fork.zip"
    status = main(
        ["--store", str(store), "audit", "evidence", "-o", str(out), "--previous", str(full_pack)]
    )
    assert status == 1
    error = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
    assert error["code"] == "tamper_detected"
    assert not out.exists()


# --- refusals -----------------------------------------------------------------------------


def test_an_unsealed_store_or_a_missing_key_gets_a_clear_error(tmp_path, capsys):
    """
    No checkpoint: no_checkpoint naming `govledger seal`; no signing key: key_unusable
    (the manifest is signed with it). Nothing is written either way.
    """
    store = tmp_path / "ledger.db"
    with GovernanceLedger(LedgerConfig(store=str(store))) as app:
        app.evaluate_gate("SpecApproval", "WP-1", "AUTONOMOUS", "approve", 0.99, model_id="m")
    out = tmp_path / "pack.zip"
    assert main(["--store", str(store), "audit", "evidence", "-o", str(out)]) == 2
    assert orjson.loads(capsys.readouterr().err)["error"]["code"] == "key_unusable"
    assert main(["--store", str(store), "keygen"]) == 0
    capsys.readouterr()
    status = main(["--store", str(store), "audit", "evidence", "-o", str(out)])
    error = orjson.loads(capsys.readouterr().err)["error"]
    assert (status, error["code"]) == (1, "no_checkpoint")
    assert "govledger seal" in error["message"]
    assert not out.exists()
    assert main(["--store", str(tmp_path / "none.db"), "audit", "evidence", "-o", str(out)]) == 3
    assert not (tmp_path / "none.db").exists()


def test_verify_evidence_on_what_is_not_a_pack_fails_without_a_traceback(sealed, tmp_path, capsys):
    """
    A file that is not a zip, or a zip that is not a pack, fails its first check (exit 1);
    a missing file is input_unavailable (exit 3).
    """
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    status, report, err = verified(junk, sealed["key"], capsys)
    assert (status, report["failed"]["check"]) == (1, "zip")
    assert "Traceback" not in err
    empty = tmp_path / "empty.zip"
    empty.write_bytes(pack_bytes({"notes.txt": b"hello"}))
    status, report, _ = verified(empty, sealed["key"], capsys)
    assert (status, report["failed"]["check"]) == (1, "manifest")
    assert (
        main(["audit", "verify-evidence", str(tmp_path / "nope.zip"), "--key", sealed["key"]]) == 3
    )


def test_verify_evidence_reads_as_a_list_of_checks_on_a_terminal(sealed, full_pack, capsys):
    """
    Issue 14 §4: for a person, one line per check passed and the verdict; JSON otherwise.
    """
    capsys.readouterr()
    assert (
        main(["audit", "verify-evidence", str(full_pack), "--key", sealed["key"]], terminal=True)
        == 0
    )
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("ok    manifest")
    assert out.rstrip().endswith("every check passed")


def test_a_signature_spelled_otherwise_fails(sealed, full_pack, tmp_path, capsys):
    """
    The manifest's signature signs everything but itself: a base64 spelling of the same
    signature with the unused bits of its last digit set (which lenient decoders accept)
    is a changed byte, and fails like any other.
    """
    files = files_of(full_pack)
    text, _, line = files["manifest.sig"].decode().rpartition("\n\u2014 ")
    name, _, encoded = line.rstrip("\n").partition(" ")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = encoded.rstrip("=")
    unused = {2: 4, 3: 2}.get(len(body) % 4, 0)  # bits the last digit does not carry
    assert unused
    last = alphabet.index(body[-1]) | 1  # set one unused bit
    files["manifest.sig"] = (
        f"{text}\n\u2014 {name} {body[:-1]}{alphabet[last]}{encoded[len(body) :]}\n".encode()
    )
    assert files["manifest.sig"] != files_of(full_pack)["manifest.sig"]
    respelled = tmp_path / "respelled.zip"
    respelled.write_bytes(pack_bytes(files))
    status, report, _ = verified(respelled, sealed["key"], capsys)
    assert (status, report["failed"]["check"]) == (1, "signature")


def test_a_pack_of_either_store_verifies(store_config, tmp_path):
    """
    SQLite and PostgreSQL alike (positions with gaps there): the pack proves every event of
    its decisions and every refusal, and verifies with the public key.
    """
    key = SigningKey.generate("test.invalid/ledger")
    (tmp_path / "ledger.pub").write_text(key.verifier.to_text() + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVLEDGER_", "PG"))}
    env.update(
        PYTHONPATH=str(ROOT),
        GOVLEDGER_STORE=store_config.store,
        GOVLEDGER_SIGNING_KEY=key.to_text(),
        GOVLEDGER_PROJECTION=str(tmp_path / "p.duckdb"),
    )
    with GovernanceLedger(store_config) as app:
        for n in range(4):
            app.evaluate_gate("ScopeChange", f"WP-{n}", "FULL_HUMAN", "approve", 0.7, model_id="m")
        app.append([{"type": "gov_decision_created", "event_id": str(uuid.uuid4())}])

    def govledger(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ledger", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    assert govledger("seal").returncode == 0
    done = govledger("audit", "evidence", "-o", "pack.zip")
    assert done.returncode == 0, done.stderr
    done = govledger("audit", "verify-evidence", "pack.zip", "--key", "ledger.pub", "-f", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    files = files_of(tmp_path / "pack.zip")
    assert len(parquet_rows(files, "events")) == 8
    assert len(parquet_rows(files, "refusals")) == 1
