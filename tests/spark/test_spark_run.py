"""`journeys run` with `engine: spark` publishes DuckDB's tables (issue 19, acceptance).

The pipeline runs twice over a small generated landing zone with bad lines and files (tests/spark/
conftest.py: `spark_landing`, `duck_run`, `spark_run`): on DuckDB, and with `engine: spark`
(local master), ingestion and the models on Spark (transforms/engines/spark_run.py). Every
table of the two analyst files is compared under the 12-significant-digit rule
(bench.golden.compare: same columns and types, same rows); the tables the ingest writes are
compared in the working files, rows as multisets, and so is the run log's accounting. One Spark
session serves the test session; the runner's session is that one (getOrCreate).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.golden import compare
from tests.conftest import run_pipeline
from transforms.engines.spark_ingest import TABLES
from transforms.generate import generate
from transforms.models import graph

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

# columns that say when or by which run a row was written: they differ by construction
RUN_COLUMNS = {"_loaded_at", "run_id", "started_at", "loaded_at", "found_at", "finished_at", "fingerprint"}


def _materialized(run: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for e in run.result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            out[".".join(m.asset_key.path)] = {k: getattr(v, "value", v) for k, v in m.metadata.items()}
    return out


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], Counter]:
    from conftest import normal  # tests/spark/conftest.py

    columns = [c for c in con.table(relation).columns if c not in RUN_COLUMNS]
    return columns, Counter(tuple(normal(v) for v in r) for r in con.table(relation).select(*columns).fetchall())


def test_spark_run_publishes_the_tables_duckdb_publishes(spark: Any, duck_run: Any, spark_run: Any) -> None:
    diffs = compare(duck_run.resource.paths.published, spark_run.resource.paths.published)
    assert len(diffs) > 20  # 25 published tables
    assert [d for d in diffs if d.verdict != "identical"] == []

    # the models ran on Spark, and the published ones are Spark tables (Parquet, in the catalog)
    md = _materialized(spark_run)
    on_spark = [r for r, m in md.items() if m.get("engine") == "spark"]
    for relation in ("marts.journeys", "intermediate.identity_components", "intermediate.funnel_attempts",
                     "intermediate.funnel_period_attempts", "intermediate.design_alignments"):
        assert relation in on_spark, relation
    published = {d.relation for d in diffs}
    built = published & set(graph())
    assert len(built) > 15
    root = spark_run.work.parent / "spark"
    for relation in sorted(built & set(on_spark)):
        schema, table = relation.split(".")
        assert list((root / schema / table).glob("*.parquet")), relation
        assert spark.catalog.tableExists(relation), relation


def test_spark_run_ingests_what_duckdb_ingests(duck_run: Any, spark_run: Any) -> None:
    """The landing zone read on Spark: each table the ingest writes holds DuckDB's rows, read =
    accepted + rejected + duplicates per partition, and the run log counts as on DuckDB."""
    md = _materialized(spark_run)
    assert md["staging.events"]["rows"] > 0 and md["raw._partitions"]["engine"] == "spark"
    duck = duckdb.connect(str(duck_run.work), read_only=True)  # the working files: not every table is published
    sparked = duckdb.connect(str(spark_run.work), read_only=True)
    try:
        for relation in (*TABLES, "marts.pipeline_runs"):
            d_columns, d_rows = _rows(duck, relation)
            s_columns, s_rows = _rows(sparked, relation)
            assert s_columns == d_columns, relation
            only_spark, only_duck = list((s_rows - d_rows).elements())[:2], list((d_rows - s_rows).elements())[:2]
            assert s_rows == d_rows, f"{relation} differs: with Spark only {only_spark}; with DuckDB only {only_duck}"
        counts = [tuple(r) for r in sparked.table("intermediate.partition_counts")
                  .select("n_read", "n_accepted", "n_rejected", "n_duplicates").fetchall()]
    finally:
        duck.close()
        sparked.close()
    assert all(read == accepted + rejected + duplicates for read, accepted, rejected, duplicates in counts)
    totals = [sum(c) for c in zip(*counts, strict=True)]
    assert totals[2] > 0  # the broken records (the small set lands no duplicate)


def test_a_spark_master_that_does_not_answer_fails_the_run_in_a_line(tmp_path: Path) -> None:
    """A Spark Connect URL nobody answers fails the run at once, naming the URL and the settings."""
    import socket

    from conftest import spark_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    landing = tmp_path / "landing"
    generate(landing, broken_share=0, customers=3, days=1, seed=3)
    run = run_pipeline(landing, tmp_path / "wh" / "journeys.duckdb",
                       config_dir=spark_config(tmp_path / "config", f"sc://127.0.0.1:{port}"), raise_on_error=False)
    assert not run.result.success
    messages = [str(e.event_specific_data.error.cause.message if e.event_specific_data.error.cause
                    else e.event_specific_data.error.message)
                for e in run.result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert any(f"the Spark Connect server at sc://127.0.0.1:{port} did not answer" in m
               and "spark_master" in m for m in messages), messages
