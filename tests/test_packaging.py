"""The wheel carries the schemas and validates events without the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_ships_the_schemas_and_validates_from_them(tmp_path):
    """
    Schemas are the single source of truth and ship inside the wheel (ledger/schemas).
    """
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("govledger-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    assert "ledger/schemas/gov_decision_created.schema.json" in names
    assert "ledger/schemas/hsk.gov_decision@0.4.schema.json" in names
    probe = (
        "import ledger._schemas as s, ledger.validation as v;"
        "print(s.schema_dir());"
        "v.normalise({'type':'gov_decision_created','event_id':'5b1c2a2e-6c2b-4b1a-9a55-7d0f3f2d8a11',"
        "'timestamp':'2026-02-19T15:00:00Z','actor':'agent','decision_id':'d','gate_type':'g',"
        "'target_ref':'t','automation_level':'ASSISTED'})"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(tmp_path / "site" / "ledger" / "schemas") in done.stdout
