"""The one evaluator of EventMatch conditions (sql/macros/match.sql): what each kind of
condition row means, and that the classification rules and the funnels' steps both use it
rather than a copy of their own."""

import duckdb
import pytest

from transforms.warehouse import SQL_DIR, load_match_macros

USERS = ("intermediate/classified_events.sql", "intermediate/funnel_programme/match_events.sql")


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    load_match_macros(c)
    yield c
    c.close()


@pytest.mark.parametrize(("kind", "pattern", "value", "holds"), [
    ("always", "", None, True),
    ("equals", "purchase", "purchase", True),
    ("equals", "purchase", "Purchase", False),
    ("empty", "", None, True),
    ("empty", "", "", True),
    ("empty", "", "/cart", False),
    ("glob", "/checkout%", "/Checkout/step-1", True),  # globs arrive lowercased; the value is lowered
    ("glob", "/checkout%", "/cart", False),
    ("glob", "/checkout%", None, False),
    ("regex", "^/p/[0-9]+$", "/p/42", True),
    ("regex", "^/p/[0-9]+$", "/P/42", False),  # a regex is taken as written
    ("flag", "true", "true", True),
    ("flag", "true", "false", False),
    ("unknown kind", "x", "x", False),
])
def test_condition_holds_per_kind(con, kind, pattern, value, holds):
    got = con.execute("select condition_holds($k, $p, $v)", {"k": kind, "p": pattern, "v": value}).fetchall()[0][0]
    assert got is holds


def test_classification_and_funnels_share_the_one_evaluator():
    evaluator = "when 'glob' then"
    holders = sorted(str(p.relative_to(SQL_DIR)) for p in SQL_DIR.rglob("*.sql") if evaluator in p.read_text())
    assert holders == ["macros/match.sql"]
    for user in USERS:
        assert "condition_holds(k.kind, k.pattern, d.value)" in (SQL_DIR / user).read_text(), user
