"""The landing zone ingested on Spark (issue 19, point 2): what test_spark_run.py does not see.

test_spark_run.py compares the working file's copies of the ingest tables with DuckDB's (over
a small landing zone with bad lines and files: tests/spark/conftest.py, `spark_landing`). Here
the Spark run's own tables (transforms/engines/spark_ingest.py: Parquet, registered in the
catalog, which the models on Spark read) are checked: each holds the rows its copy holds, and
read = accepted + rejected + duplicates per partition on Spark's counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb
import pytest

from transforms.engines.spark_ingest import TABLES

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

RUN_COLUMNS = {"_loaded_at", "run_id", "started_at", "loaded_at", "found_at"}


def test_the_spark_tables_hold_what_the_working_file_holds(spark: Any, spark_run: Any) -> None:
    from conftest import normal  # tests/spark/conftest.py

    con = duckdb.connect(str(spark_run.work), read_only=True)
    try:
        for relation in TABLES:
            columns = con.table(relation).columns
            assert spark.table(relation).columns == columns, relation
            kept = [c for c in columns if c not in RUN_COLUMNS]
            copied = Counter(tuple(normal(v) for v in r) for r in con.table(relation).select(*kept).fetchall())
            on_spark = Counter(tuple(normal(v) for v in r) for r in spark.table(relation).select(*kept).collect())
            assert on_spark == copied, f"{relation}: {sum(on_spark.values())} rows on Spark, {sum(copied.values())} copied"
    finally:
        con.close()
    counts = spark.table("intermediate.partition_counts").collect()
    unbalanced = [r for r in counts if r.n_read != r.n_accepted + r.n_rejected + r.n_duplicates]
    assert counts and not unbalanced, f"read != accepted + rejected + duplicates on Spark: {unbalanced[:3]}"
    assert sum(r.n_rejected for r in counts) > 0
