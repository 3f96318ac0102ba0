"""The portability lint (issue 19): the models stay in the subset of DuckDB SQL that the Spark
generator translates to the same rows. A new construct outside it fails here; the ones today's
models still use are listed in portability_known_violations.txt, to be removed one by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from transforms.engines.portability import lint, lint_models

KNOWN = Path(__file__).with_name("portability_known_violations.txt")

CLEAN = """
with events as (
    select customer_id, occurred_at, touchpoints
    from staging.events
)
select customer_id, touchpoints[1] as first_touchpoint, touchpoints[-1] as last_touchpoint,
    epoch(max(occurred_at) - min(occurred_at)) as seconds, list(touchpoints order by occurred_at) as path,
    row_number() over (partition by customer_id order by occurred_at) as n
from events
group by all
"""

OUTSIDE = {
    "asof join": "select a.x from t a asof join u b on a.t >= b.t",
    "rowid": "select rowid, x from t",
    "row_number() over () without order": "select row_number() over () as n from t",
    "pivot": "pivot t on k using sum(v)",
    "unpivot": "unpivot t on a, b into name k value v",
    "macro": "create macro plus_one(a) as a + 1",
    "several unnest() in one select": "select unnest(a), unnest(b) from t",
    "unnest() inside an expression": "select unnest(a) + max(b) as x from t",
    "map value in distinct or group by": "select distinct map(['a'], [x]) from t",
    "map value in a join": "select 1 from t join u on t.m = map(['a'], [u.x])",
    "list slice with a negative bound": "select v[2:-1] from t",
    "format() other than format('{:,}', n)": "select format('{:.2f}', n) from t",
    "json_valid()": "select json_valid(j) from t",
    "hash()": "select hash(x) from t",
    "json_extract() of a list of paths": "select json_extract(j, $paths::varchar[]) from t",
    "list() ordered in mixed directions": "select list(v order by a, b desc) from t",
    "columns() other than columns(lambda c: c = $name)": "select columns(lambda c: c like 'f_%') from t",
    "range() table with a step": "select x from range(0, 10, 2) as r(x)",
    "window over an alias of its select":
        "select u, date_trunc('week', t) as w, row_number() over (partition by u order by w) as n from t group by u, w",
}


def test_a_model_in_the_subset_passes():
    assert lint(CLEAN) == []


def test_generated_forms_are_in_the_subset():
    """A macro of sql/macros/ is inlined (`inline_macros`), json_extract_string of a list of
    paths becomes a transform (`json_paths`): both have a rule tested on both engines."""
    assert lint("select condition_holds(k.kind, k.pattern, d.value) from k, d") == []
    assert lint("select json_extract_string(j, $paths::varchar[]) from t") == []


def test_the_funnel_programmes_forms_are_in_the_subset():
    """A range read as a table (`range_table`), histogram() as an aggregate and over a window
    (`histogram`), a column chosen by a bound name (`column_by_name`), a window ordered by an
    aggregate: each has a rule or a Spark form, tested on both engines."""
    assert lint("select r.k, s.i from r cross join range(1, $n + 1) as s(i)") == []
    assert lint("select k, histogram(x) as h, histogram(x) over (partition by k) as w from t group by k, x") == []
    assert lint("select columns(lambda c: c = $breakdown)::varchar as v from t") == []
    assert lint("select u, date_trunc('week', t) as w, row_number() over (partition by u order by min(t)) as n"
                " from t group by u, w") == []


def test_named_unnests_side_by_side_are_in_the_subset():
    """The generator zips them (`zip_unnest`), as DuckDB does."""
    assert lint("select k, unnest(a) as x, unnest(b)::date as y from t") == []


@pytest.mark.parametrize("construct, sql", OUTSIDE.items(), ids=list(OUTSIDE))
def test_a_construct_outside_the_subset_fails_with_its_line(construct, sql):
    found = lint("-- a model\n" + sql, "marts/example.sql")
    assert [(v.file, v.construct) for v in found] == [("marts/example.sql", construct)]
    assert found[0].line == 2
    assert str(found[0]).startswith("sql/marts/example.sql:2: ")


def test_an_unparsable_file_is_one_violation():
    [v] = lint("select from from where", "marts/broken.sql")
    assert v.construct.startswith("unparsable")


def known() -> set[tuple[str, str]]:
    lines = KNOWN.read_text(encoding="utf-8").splitlines()
    return {tuple(line.split("\t")) for line in lines if line and not line.startswith("#")}


def test_no_model_adds_a_construct_outside_the_subset():
    new = [v for v in lint_models() if (v.file, v.construct) not in known()]
    assert not new, "outside the portable subset (see transforms/engines/portability.py):\n" + "\n".join(map(str, new))


def test_the_known_list_holds_no_fixed_violation():
    """A model made portable leaves the list, so the list says what is left to do."""
    fixed = known() - {(v.file, v.construct) for v in lint_models()}
    assert not fixed, f"no longer found, remove from {KNOWN.name}: {sorted(fixed)}"
