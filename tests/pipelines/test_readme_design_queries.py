"""The two example queries of README.md's "Designed journeys, retention and lifecycle" section
run: on a small crafted warehouse, and on the demo warehouse, where each returns rows."""

import re

import duckdb
import pytest

from tests.conftest import PROJECT
from tests.unit.journey_marts import DESIGN_MODELS, UPSTREAM, E, build, config_with, load

SECTION = "## Designed journeys, retention and lifecycle"


def section_queries() -> list[str]:
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    return [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)```", text[start:end], re.S)]


QUERIES = section_queries()


def test_the_section_has_two_queries():
    assert len(QUERIES) == 2


@pytest.mark.parametrize("n", range(len(QUERIES)))
def test_query_runs_on_a_crafted_warehouse(n):
    con = duckdb.connect()
    load(con, [E("a-001", 0, "A"), E("a-001", 5, "B"), E("b-001", 0, "A"), E("b-001", 7 * 1440, "page", touchpoint="web")])
    build(con, config_with([{"name": "d", "steps": [{"event_name": "A", "touchpoint": "app"},
                                                    {"event_name": "B", "touchpoint": "app"}]}]),
          UPSTREAM + DESIGN_MODELS + ["intermediate.return_weeks", "intermediate.customer_firsts",
                                      "marts.retention", "marts.lifecycle"])
    assert con.execute(QUERIES[n]).fetchall()


@pytest.mark.parametrize("n", range(len(QUERIES)))
def test_query_returns_rows_on_the_demo(n, demo_db):
    assert demo_db.execute(QUERIES[n]).fetchall()
