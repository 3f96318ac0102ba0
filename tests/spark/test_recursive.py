"""A query `with recursive` on Spark runs as a driver loop (transforms/engines/spark_run.py:
`spark_frame`): the rows equal DuckDB's, also where the recursive part aggregates over the
recursive reference (which Spark refuses: design_alignments) or joins a table on it and the
loop reads a level twice (the funnel programme's chain)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

EDGES = "select * from (values (1, 2), (2, 3), (3, 4), (1, 3), (5, 6)) t(a, b)"

CASES = {
    "a chain back through a table, joined on the recursive reference": (
        f"with recursive edges as ({EDGES}), chain as ("
        " select a, b, 0 as depth from edges where a = 1"
        " union all select e.a, e.b, c.depth + 1 from edges as e inner join chain as c on e.a = c.b"
        ") select a, b, depth from chain"),
    "the cheapest path per node at each level, aggregated over the recursive reference": (
        f"with recursive edges as ({EDGES}), best (node, cost, path) as ("
        " select 1, 0, [1]"
        " union all select e.b, min(best.cost + 1), arg_min(list_append(best.path, e.b),"
        "  {'c': best.cost + 1, 'p': list_append(best.path, e.b)})"
        " from best inner join edges as e on e.a = best.node group by e.b"
        ") select node, cost, path from best"),
}


@pytest.mark.parametrize("sql", list(CASES.values()), ids=list(CASES))
def test_recursive_query_gives_duckdb_rows(spark: Any, sql: str, tmp_path: Any) -> None:
    import duckdb
    from conftest import rows  # tests/spark/conftest.py

    from transforms.engines.spark import PortableDuckDB
    from transforms.engines.spark_run import SparkEngine, spark_frame

    duck = rows(duckdb.connect().execute(sql).fetchall())
    sparked = rows(spark_frame(SparkEngine(spark, tmp_path), sqlglot.parse_one(sql, read=PortableDuckDB), {}).collect())
    assert sparked == duck and len(duck) > 3
