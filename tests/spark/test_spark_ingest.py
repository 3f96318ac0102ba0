"""The landing zone ingested on Spark gives the DuckDB ingest's tables (issue 19, point 2).

Over fixtures/landing (with its deliberately bad lines and files) and a small generated zone,
`transforms.engines.spark_ingest.ingest` writes each table the DuckDB ingest writes; each is
compared with the DuckDB pipeline's (tests/conftest.run_pipeline, the same hash secret) under
the 12-significant-digit rule, rows as multisets. Columns that say when or by which run a
row was written differ by construction and are left out (`RUN_COLUMNS`). The accounting
identity read = accepted + rejected + duplicates holds per partition on Spark's tables, and
the totals equal DuckDB's.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import FIXTURE_LANDING, TEST_SECRET, run_pipeline
from transforms.config import load_config
from transforms.engines.spark_ingest import TABLES, ingest

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

RUN_COLUMNS = {"_loaded_at", "run_id", "started_at", "loaded_at", "found_at"}
SMALL = {"customers": 12, "days": 5, "seed": 11}


def _duck_rows(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> Counter:
    from conftest import normal  # tests/spark/conftest.py

    rel = con.table(relation).select(*columns)
    return Counter(tuple(normal(v) for v in r) for r in rel.fetchall())


def _spark_rows(spark: Any, relation: str, columns: list[str]) -> Counter:
    from conftest import normal

    return Counter(tuple(normal(v) for v in r) for r in spark.table(relation).select(*columns).collect())


def _compare(spark: Any, landing: Any, tmp_path: Any) -> dict[str, int]:
    t0 = time.monotonic()
    run = run_pipeline(landing, tmp_path / "duck" / "journeys.duckdb")
    assert run.result.success
    t1 = time.monotonic()
    counts = ingest(spark, landing, load_config(None), tmp_path / "spark", secret=TEST_SECRET)
    t2 = time.monotonic()
    print(f"\n{landing.name}: DuckDB pipeline {t1 - t0:.1f} s, Spark ingest {t2 - t1:.1f} s; {counts}")
    con = duckdb.connect(str(run.work), read_only=True)
    try:
        for relation in TABLES:
            duck_columns = [c for c in con.table(relation).columns]
            spark_columns = spark.table(relation).columns
            assert spark_columns == duck_columns, f"{relation}: columns {spark_columns} on Spark, {duck_columns} on DuckDB"
            kept = [c for c in duck_columns if c not in RUN_COLUMNS]
            duck, sparked = _duck_rows(con, relation, kept), _spark_rows(spark, relation, kept)
            assert sum(sparked.values()) == sum(duck.values()), \
                f"{relation}: {sum(sparked.values())} rows on Spark, {sum(duck.values())} on DuckDB"
            only_spark, only_duck = list((sparked - duck).elements())[:2], list((duck - sparked).elements())[:2]
            assert sparked == duck, f"{relation} differs: on Spark only {only_spark}; on DuckDB only {only_duck}"
            assert counts[relation] == sum(duck.values())
    finally:
        con.close()
    unbalanced = [r for r in spark.table("intermediate.partition_counts").collect()
                  if r.n_read != r.n_accepted + r.n_rejected + r.n_duplicates]
    assert not unbalanced, f"read != accepted + rejected + duplicates on Spark: {unbalanced[:3]}"
    assert counts["read"] == counts["accepted"] + counts["rejected"] + counts["duplicates"] > 0
    return counts


def _with_bad_files(landing: Path) -> Path:
    """A copy of fixtures/landing (its bad lines: invalid JSON, bad timestamps, missing fields,
    duplicates) with the files the readers treat apart: a damaged gzip archive, a line that
    is not UTF-8, a CSV record whose quoted field holds a line break and a row with a field
    too many, and entries no source reads (a name no glob takes, a misnamed day folder, a link)."""
    shutil.copytree(FIXTURE_LANDING, landing)
    event = json.dumps({"messageId": "gz-1", "type": "page", "anonymousId": "a-gz", "name": "Home",
                        "timestamp": "2025-03-01T10:00:00Z"})
    whole = gzip.compress(((event + "\n" + event.replace("gz-1", "gz-2") + "\n") * 50).encode())
    (landing / "clickstream/2025-03-01/extra.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (landing / "clickstream/2025-03-02/latin1.jsonl").write_bytes(
        event.replace("gz-1", "l1-1").encode() + b"\n" + b'{"messageId": "caf\xe9"}\n')
    (landing / "crm/2025-03-01/activities-extra.csv").write_text(
        "activity_id,contact_id,email,activity_type,occurred_at,channel,amount\n"
        'x-1,c-1,"a@example.com",note,2025-03-01 10:00:00,"email\nfollow-up",\n'
        "x-2,c-2,b@example.com,note,2025-03-01 11:00:00,email,,surplus\n", encoding="utf-8")
    (landing / "clickstream/2025-03-01/notes.txt").write_text("not an event\n", encoding="utf-8")
    (landing / "clickstream/20250302").mkdir()
    (landing / "clickstream/20250302/events.jsonl").write_text(event + "\n", encoding="utf-8")
    (landing / "support/link.jsonl").symlink_to(landing / "clickstream/2025-03-01/notes.txt")
    return landing


def test_fixture_landing_gives_duckdb_tables(spark, tmp_path):
    """fixtures/landing with bad lines and files (`_with_bad_files`): every ingest table equal
    to DuckDB's, the unread entries listed with the same reasons."""
    counts = _compare(spark, _with_bad_files(tmp_path / "landing"), tmp_path)
    assert counts["rejected"] > 0 and counts["duplicates"] > 0 and counts["quarantine.unread_files"] >= 3


def test_generated_landing_gives_duckdb_tables(spark, tmp_path):
    """A small generated landing zone (transforms/generate.py, with its broken records)."""
    from transforms.generate import generate

    landing = tmp_path / "landing"
    generate(landing, broken_share=0.05, **SMALL)
    counts = _compare(spark, landing, tmp_path)
    assert counts["accepted"] > 0
