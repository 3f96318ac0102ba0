"""A nightly run on Spark is incremental and equals a full DuckDB run (issue 19: "incremental by
customer, as on DuckDB").

The shared Spark run (tests/spark/conftest.py: `spark_run`, the days of `spark_landing`) is the
first step. Its warehouse folder and the landing zone are copied (file times kept, so the
ledger's fingerprints still hold) and a later day is landed: a late event of an existing
customer (dated days back) and a sign-in that links two existing customers. The pipeline then
runs once more with `engine: spark` over the copies: it must load the new day only, rebuild the
models kept by customer for the customers that day touches only, and publish every table a
full DuckDB run over the same landing zone publishes (bench.golden.compare: the
12-significant-digit rule). The file sorts after test_spark_run.py and test_spark_ingest.py,
which read the shared run's tables from the session's catalog: this run registers its own.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from bench.golden import compare
from tests.conftest import run_pipeline
from tests.spark.test_spark_run import _materialized

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

NEW_DAY = date(2025, 3, 8)  # the day after the generated ones (tests/spark/conftest.py: SMALL)


def _clickstream(landing: Path) -> list[dict]:
    events = []
    for f in sorted((landing / "clickstream").glob("*/*.jsonl")):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if isinstance(e, dict) and isinstance(e.get("anonymousId"), str) and e.get("timestamp"):
                events.append(e)
    return events


def land_new_day(landing: Path) -> None:
    """NEW_DAY's clickstream file: a late event of one browser (dated three days back) and the
    sign-in of another browser as a third browser's user (links their two customers)."""
    events = _clickstream(landing)
    users: dict[str, set[str]] = {}
    for e in events:
        if isinstance(e.get("userId"), str):
            users.setdefault(e["anonymousId"], set()).add(e["userId"])
    signed_in = sorted(a for a, u in users.items() if len(u) == 1)
    anon_a, anon_b = signed_in[0], signed_in[1]
    late_anon = next(e["anonymousId"] for e in events if e["anonymousId"] not in (anon_a, anon_b))
    at = datetime(NEW_DAY.year, NEW_DAY.month, NEW_DAY.day, 9)
    page = {"page": {"url": "https://shop.example.com/p/SKU-1", "referrer": ""}}
    rows = [
        {"messageId": "inc-late-1", "type": "track", "event": "Product Viewed", "anonymousId": late_anon,
         "timestamp": (at - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), "context": page, "properties": {}},
        {"messageId": "inc-link-1", "type": "track", "event": "Signed In", "anonymousId": anon_a,
         "userId": next(iter(users[anon_b])), "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "context": page,
         "properties": {}},
    ]
    folder = landing / "clickstream" / NEW_DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _count(path: Path, relation: str) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.table(relation).count("*").fetchall()[0][0]
    finally:
        con.close()


def test_a_spark_run_loads_and_builds_only_what_is_new(spark: Any, spark_landing: Path, duck_run: Any,
                                                        spark_run: Any, tmp_path: Path) -> None:
    from conftest import spark_config  # tests/spark/conftest.py

    landing = tmp_path / "landing"
    shutil.copytree(spark_landing, landing, symlinks=True)  # copy2: sizes and times kept
    land_new_day(landing)
    folder = tmp_path / "sparked"
    sparked = spark_run.published.parent
    shutil.copytree(sparked, folder, symlinks=True, ignore=shutil.ignore_patterns("java", "spark-tmp"))
    nightly = run_pipeline(landing, folder / spark_run.published.name, config_dir=spark_config(tmp_path / "config"))
    assert nightly.result.success
    full = run_pipeline(landing, tmp_path / "duck" / "journeys.duckdb")
    assert full.result.success

    diffs = compare(full.published, nightly.published)
    assert len(diffs) > 20
    assert [d for d in diffs if d.verdict != "identical"] == []

    # the new day only was read, for the customers it touches only
    md = _materialized(nightly)
    assert md["raw._partitions"]["mode"] == "spark (incremental load)", md["raw._partitions"]
    assert md["raw._partitions"]["days_loaded"] == 1
    dirty = md["intermediate.dirty_customers"]
    assert dirty["mode"] == "incremental", dirty
    n_customers = _count(nightly.published, "marts.customers")
    assert 2 <= dirty["customers"] < n_customers
    for relation in ("marts.journeys", "marts.journey_events", "intermediate.journey_steps",
                     "intermediate.design_alignments", "marts.customers"):
        assert md[relation].get("mode") == "incremental" and md[relation]["engine"] == "spark", relation
    # the sign-in linked two customers the first run kept apart
    assert n_customers == _count(duck_run.published, "marts.customers") - 1
    # each table is one generation, the one its link names
    root = folder / "spark"
    for relation in ("marts.journeys", "staging.events"):
        schema, table = relation.split(".")
        generations = list((root / schema).glob(f"{table}@*"))
        assert [g.name for g in generations] == [(root / schema / table).readlink().name], relation
