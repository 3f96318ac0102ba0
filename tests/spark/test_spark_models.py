"""The models on Spark give DuckDB's rows (issue 19, step 4).

The pipeline runs once on DuckDB over a data set: `small_run` (a landing zone of 40 customers
over 14 days, written by transforms/generate.py under tmp_path) or `demo_run` (fixtures/landing).
The tables of its working file the models read are exported to Parquet and registered in Spark under the same
`schema.table` name. Each SQL model then runs on Spark through the generator, from DuckDB's own
inputs (so a failure names the model at fault, not one upstream), and its rows are compared
with the table DuckDB built, under the 12-significant-digit rule (conftest.normal). One Spark
session serves the whole test session.

`EXPECTED_TO_DIFFER_SMALL` / `EXPECTED_TO_DIFFER` list the models that do not match yet, each
with its cause: a test of those is an expected failure (strict, so a model that starts to
match fails until it is removed from the list).

Only the tables the SQL models read are exported (INPUTS); the MAP columns among them are
passed to the generator (`map_columns`: their text form keys the identifier and attribute sets).

Timing on the 2-core machine at a load average of 8 to 13 (h19c): the small set 5 min 18 s
(setup 120 s: the Spark start 57 s, the DuckDB pipeline and the export; then 1 to 37 s a model,
classified_events the longest; about 186 s for the 38 models, whole-stage codegen on or off
alike). Over the 2-minute budget of `make test`, so both sets stay marked `spark_models` and
out of it; the small set alone:
`.venv/bin/python -m pytest -p no:cacheprovider -m spark_models -k small tests/spark/test_spark_models.py`.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import pytest
import sqlglot

from transforms.config import load_config
from transforms.engines.spark import PortableDuckDB
from transforms.engines.spark_run import SparkEngine, spark_frame
from transforms.models import PYTHON_STEPS, graph, model_params, topological_order
from transforms.warehouse import read_model

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

# Measured on the small data set (SMALL), Spark 4.3 local[1]: the 38 SQL models match (design_alignments,
# whose recursive CTE aggregates, through the driver loop of spark_run.spark_frame).
EXPECTED_TO_DIFFER_SMALL: dict[str, str] = {}

# On the demo (fixtures/landing): taken as the small set's, not re-measured.
EXPECTED_TO_DIFFER: dict[str, str] = dict(EXPECTED_TO_DIFFER_SMALL)

_PYTHON_WRITTEN = {r for step in PYTHON_STEPS for r in step.writes}
SQL_MODELS = [r for r in topological_order(graph()) if r not in _PYTHON_WRITTEN]
# what the SQL models read: the only tables exported to Spark
INPUTS = sorted({r for m in SQL_MODELS for r in graph()[m]})


SMALL = {"customers": 40, "days": 14, "seed": 7}  # small data: the generator's, in tmp_path
_registered: dict[str, Any] = {}


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline on DuckDB over a small generated landing zone (SMALL), once per session."""
    from tests.conftest import run_pipeline as run
    from transforms.generate import generate

    landing = tmp_path_factory.mktemp("small-landing")
    generate(landing, broken_share=0, **SMALL)
    result = run(landing, tmp_path_factory.mktemp("small") / "journeys.duckdb")
    assert result.result.success
    return result


def _exported(spark: Any, run: Any, out: Any) -> duckdb.DuckDBPyConnection:
    """The tables the SQL models read (INPUTS) of `run`'s working file, as Parquet under `out`."""
    con = duckdb.connect(str(run.work), read_only=True)
    present = {f"{s}.{t}" for s, t in con.execute(
        "select schema_name, table_name from duckdb_tables()").fetchall()}  # sqlgrep: test export
    for relation in INPUTS:
        if relation in present:
            con.execute(f"copy {relation} to '{out / relation}.parquet' (format parquet)")  # sqlgrep: test export
    return con


def _register(spark: Any, con: duckdb.DuckDBPyConnection, out: Any) -> None:
    """Point Spark's `schema.table` names at `out`'s Parquet files (both data sets use the same
    names; switching costs only the catalog entries), and note their MAP columns."""
    from pyspark.sql.types import MapType

    if _registered.get("dir") == str(out):
        return
    maps: set[str] = set()
    for path in sorted(out.glob("*.parquet")):
        schema, table = path.name.split(".")[:2]
        spark.sql(f"create database if not exists {schema}")
        spark.sql(f"drop table if exists {schema}.{table}")
        spark.sql(f"create table {schema}.{table} using parquet location '{path}'")
        maps |= {f.name for f in spark.table(f"{schema}.{table}").schema.fields if isinstance(f.dataType, MapType)}
    _registered["dir"] = str(out)
    _registered["maps"] = sorted(maps)


@pytest.fixture(scope="session")
def on_spark_small(spark: Any, small_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("parquet-small")
    return _exported(spark, small_run, out), out


@pytest.fixture(scope="session")
def on_spark(spark: Any, demo_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("parquet-demo")
    return _exported(spark, demo_run, out), out


def _compare(spark: Any, exported: Any, relation: str) -> None:
    from conftest import rows  # tests/spark/conftest.py

    con, out = exported
    _register(spark, con, out)
    sql = read_model(relation)
    params = model_params(load_config(None))
    duck = rows(con.execute(f"select * from {relation}").fetchall())  # sqlgrep: test read
    t0 = time.monotonic()
    # as `journeys run` builds a model on Spark (a recursive CTE as a driver loop)
    engine = SparkEngine(spark, out, map_columns=set(_registered["maps"]))
    sparked = rows(spark_frame(engine, sqlglot.parse_one(sql, read=PortableDuckDB), params, sql).collect())
    seconds = time.monotonic() - t0
    assert len(sparked) == len(duck), f"{relation}: {len(sparked)} rows on Spark, {len(duck)} on DuckDB"
    diff = [r for r in sparked if r not in set(duck)][:3]
    assert sparked == duck, f"{relation} differs ({seconds:.1f} s on Spark), e.g. Spark row {diff}"


def _expected(relation: str, request: Any, known: dict[str, str]) -> None:
    if relation in known:
        request.applymarker(pytest.mark.xfail(reason=known[relation], strict=True))


@pytest.mark.spark_models
@pytest.mark.parametrize("relation", SQL_MODELS)
def test_model_gives_duckdb_rows_on_spark_small(spark, on_spark_small, relation, request):
    """Every SQL model on the small data set (minutes under load: not yet in make test)."""
    _expected(relation, request, EXPECTED_TO_DIFFER_SMALL)
    _compare(spark, on_spark_small, relation)


@pytest.mark.spark_models
@pytest.mark.parametrize("relation", SQL_MODELS)
def test_model_gives_duckdb_rows_on_spark(spark, on_spark, relation, request):
    """Every SQL model on the demo (minutes): run with -m spark_models."""
    _expected(relation, request, EXPECTED_TO_DIFFER)
    _compare(spark, on_spark, relation)
