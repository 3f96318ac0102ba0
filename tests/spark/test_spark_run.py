"""`journeys run` with `engine: spark` publishes DuckDB's tables (issue 19, acceptance).

The pipeline runs twice over one small generated landing zone (SMALL, under tmp_path): on
DuckDB, and with `engine: spark` (local master), the models on Spark (transforms/engines/
spark_run.py). Every table of the two analyst files is compared under the 12-significant-digit
rule (bench.golden.compare: same columns and types, same rows); the published tables the models
build exist as Spark Parquet tables. One Spark session serves the test session (tests/spark/
conftest.py: `spark`); the runner's session is that one (getOrCreate).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from bench.golden import compare
from tests.conftest import run_pipeline
from transforms.generate import generate
from transforms.models import graph

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

SMALL = {"customers": 20, "days": 7, "seed": 7}
DEFAULTS = Path(__file__).resolve().parents[2] / "transforms" / "defaults"


def spark_config(folder: Path, master: str = "local[1]") -> Path:
    """The default configuration with `engine: spark`."""
    shutil.copytree(DEFAULTS, folder)
    with open(folder / "settings.yaml", "a", encoding="utf-8") as f:
        f.write(f"\nengine: spark\nspark_master: {master}\n")
    return folder


def _materialized(run: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for e in run.result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            out[".".join(m.asset_key.path)] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    return out


def test_spark_run_publishes_the_tables_duckdb_publishes(spark: Any, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate(landing, broken_share=0, **SMALL)
    t0 = time.monotonic()
    duck = run_pipeline(landing, tmp_path / "duck" / "journeys.duckdb")
    t1 = time.monotonic()
    sparked = run_pipeline(landing, tmp_path / "spark" / "journeys.duckdb", config_dir=spark_config(tmp_path / "config"))
    t2 = time.monotonic()
    print(f"duckdb run {t1 - t0:.1f} s, spark run {t2 - t1:.1f} s")
    assert duck.result.success and sparked.result.success

    diffs = compare(duck.resource.paths.published, sparked.resource.paths.published)
    assert len(diffs) > 20  # 25 published tables on the small set
    assert [d for d in diffs if d.verdict != "identical"] == []

    # the models ran on Spark, and the published ones are Spark tables (Parquet, in the catalog)
    md = _materialized(sparked)
    on_spark = [r for r, m in md.items() if m.get("engine") == "spark"]
    assert "marts.journeys" in on_spark and "intermediate.identity_components" in on_spark
    published = {d.relation for d in diffs}
    built = published & set(graph())
    assert len(built) > 15
    for relation in sorted(built & set(on_spark)):
        schema, table = relation.split(".")
        assert list((tmp_path / "spark" / "spark" / schema / table).glob("*.parquet")), relation
        assert spark.catalog.tableExists(relation), relation


def test_a_model_that_fails_on_spark_says_why(spark: Any, tmp_path: Path) -> None:
    """A master `journeys run` cannot start yet fails the run naming the setting and the fix."""
    landing = tmp_path / "landing"
    generate(landing, broken_share=0, customers=5, days=2, seed=3)
    run = run_pipeline(landing, tmp_path / "wh" / "journeys.duckdb",
                       config_dir=spark_config(tmp_path / "config", "spark://nowhere:7077"), raise_on_error=False)
    assert not run.result.success
    messages = [str(e.event_specific_data.error.cause.message if e.event_specific_data.error.cause
                    else e.event_specific_data.error.message)
                for e in run.result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any("spark_master 'spark://nowhere:7077'" in m and "local[N]" in m for m in messages), messages
