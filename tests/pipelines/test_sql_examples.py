"""Every analyst recipe in sql/examples runs against the demo warehouse and returns rows."""

from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "sql" / "examples").glob("*.sql"))


def test_there_are_recipes():
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_recipe_runs(path, demo_db):
    rows = demo_db.execute(path.read_text()).fetchall()
    assert rows, f"{path.name} returned no rows on the demo data"
