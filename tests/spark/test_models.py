"""The models on Spark give DuckDB's rows (issue 19, step 4).

The demo pipeline runs once over fixtures/landing (`demo_run`, on DuckDB). Every table of its
working file that a model reads is exported to Parquet and registered in Spark under the same
`schema.table` name. Each SQL model then runs on Spark through the generator, from DuckDB's own
inputs (so a failure names the model at fault, not one upstream), and its rows are compared
with the table DuckDB built, under the 12-significant-digit rule.

`EXPECTED_TO_DIFFER` lists the models that do not match yet, each with its cause: a test of
those is an expected failure (strict, so a model that starts to match fails until it is
removed from the list).

These tests take about 6 minutes on the 2-core machine (marts.journey_events alone 190 s on
Spark), far over the 90 s budget of the Spark tests in `make test`: they are marked
`spark_models`, left out by default, and run with
`.venv/bin/python -m pytest -p no:cacheprovider -m spark_models tests/spark/test_models.py`.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import pytest

from transforms.config import load_config
from transforms.engines.spark import to_spark
from transforms.models import PYTHON_STEPS, graph, model_params, topological_order
from transforms.warehouse import bind, read_model

pytestmark = [pytest.mark.spark_models, pytest.mark.spark, pytest.mark.xdist_group("spark")]

# Measured on the demo (fixtures/landing), Spark 4.3 local[1]: 17 of 34 SQL models match.
EXPECTED_TO_DIFFER: dict[str, str] = {
    "intermediate.design_steps": "a parameter that is a list of structs is not a Spark SQL literal",
    "intermediate.design_touchpoints": "several unnest() in one select multiply in Spark (10 rows, 5)",
    "intermediate.identity_pairs": "row_number() over () without order",
    "intermediate.text_sentiment": "Spark cannot parse the generated SQL at '&' (a DuckDB list operator)",
    "intermediate.identity_nodes": "a MAP column in a set operation or distinct",
    "intermediate.identifier_sets": "MAP values differ (entry order or the comparison of maps)",
    "intermediate.classified_events": "Spark cannot parse the generated SQL at 'NOT'",
    "intermediate.customer_profiles": "like ... escape comes out as LIKE_ESCAPE()",
    "marts.lifecycle": "to_days() passes through untranslated",
    "marts.retention": "to_days() passes through untranslated",
    "intermediate.design_alignments": "a Java error in Spark, not analysed yet",
    "marts.touchpoint_health": "values differ, not analysed yet",
    "marts.funnel_dropoff": "quantile_cont(x, p) comes out as percentile_cont with two arguments",
    "marts.funnel_trends": "unnest() inside a cast: Spark wants the generator outside expressions",
    "marts.pain_points": "ASOF join",
    "marts.journey_conformance": "values differ (a list of structs), not analysed yet",
    "marts.attribution": "values differ, not analysed yet",
}

_PYTHON_WRITTEN = {r for step in PYTHON_STEPS for r in step.writes}
SQL_MODELS = [r for r in topological_order(graph()) if r not in _PYTHON_WRITTEN]


@pytest.fixture(scope="session")
def on_spark(spark: Any, demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every relation of the demo's working file, as Parquet, registered in Spark."""
    out = tmp_path_factory.mktemp("parquet")
    con = duckdb.connect(str(demo_run.work), read_only=True)
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where schema_name not in ('main', '_journeys')"
    ).fetchall()
    for schema, table in tables:
        path = out / f"{schema}.{table}.parquet"
        con.execute(f"copy {schema}.{table} to '{path}' (format parquet)")  # sqlgrep: test export
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"create table if not exists {schema}.{table} using parquet location '{path}'")
    return con


def _spark_args(sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    from pyspark.sql import functions as F

    args = {}
    for name, value in bind(sql, params).items():
        args[name] = F.array(*[F.lit(v) for v in value]) if isinstance(value, list | tuple) else value
    return args or None


@pytest.mark.parametrize("relation", SQL_MODELS)
def test_model_gives_duckdb_rows_on_spark(spark, on_spark, relation, request):
    from conftest import rows  # tests/spark/conftest.py

    if relation in EXPECTED_TO_DIFFER:
        request.applymarker(pytest.mark.xfail(reason=EXPECTED_TO_DIFFER[relation], strict=True))
    sql = read_model(relation)
    params = model_params(load_config(None))
    duck = rows(on_spark.execute(f"select * from {relation}").fetchall())  # sqlgrep: test read
    t0 = time.monotonic()
    sparked = rows(spark.sql(to_spark(sql), args=_spark_args(sql, params)).collect())
    seconds = time.monotonic() - t0
    assert len(sparked) == len(duck), f"{relation}: {len(sparked)} rows on Spark, {len(duck)} on DuckDB"
    diff = [r for r in sparked if r not in set(duck)][:3]
    assert sparked == duck, f"{relation} differs ({seconds:.1f} s on Spark), e.g. Spark row {diff}"
