"""The README's read-side table lists exactly the columns projections/_tables.py declares."""

from __future__ import annotations

import re
from pathlib import Path

from projections import TABLES

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_lists_every_projection_table_with_its_columns():
    """
    Each table is declared once (projections/_tables.py); its documentation must not drift.
    """
    text = README.read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| [^|]+ \| (.+) \|$", text, flags=re.MULTILINE))
    for name, table in TABLES.items():
        documented = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", rows[name]))
        assert documented == [c.name for c in table.columns], name
