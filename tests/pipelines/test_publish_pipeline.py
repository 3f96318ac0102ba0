"""Publishing through real Dagster runs: a run that finds an earlier analyst file updates a copy
of it, and the result equals the same working file published fresh (so no writer of a published
table forgot to give it a new version)."""

import json
import shutil
from pathlib import Path

import duckdb

from pipelines.defs.ops.publish import PUBLISH_KEY
from tests.conftest import run_pipeline
from tests.pipelines.test_ingest_pipeline import make_landing
from transforms.warehouse import WarehousePaths, publish


def publish_metadata(run) -> dict:
    (event,) = [e for e in run.result.get_asset_materialization_events() if e.asset_key == PUBLISH_KEY]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def every_row(path: Path) -> dict[str, list]:
    """Every table but publish's bookkeeping, every column, rows sorted."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name <> '_journeys' order by all"
        ).fetchall():
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()  # noqa: S608 - catalog names
            out[f"{schema}.{table}"] = sorted(map(repr, rows))
        return out
    finally:
        con.close()


def test_a_second_run_publishes_incrementally_and_equals_a_fresh_publish(tmp_path):
    landing = make_landing(tmp_path / "landing")
    wh = tmp_path / "wh" / "journeys.duckdb"
    first = run_pipeline(landing, wh, only_changed=True)
    md = publish_metadata(first)
    assert (md["mode"], md["reason"]) == ("full", "no analyst file yet")

    # a new day lands and one file of an old day changes
    new_day = landing / "clickstream" / "2025-03-04"
    new_day.mkdir()
    (new_day / "events.jsonl").write_text(json.dumps(
        {"messageId": "n1", "type": "page", "anonymousId": "a9", "timestamp": "2025-03-04T10:00:00Z",
         "context": {"page": {"url": "https://shop.example.com/p/9"}}}) + "\n")
    old = landing / "crm" / "2025-03-02" / "activities.csv"
    old.write_text(old.read_text() + "A9,C9,c9@example.com,call,2025-03-02 10:00:00,phone,12.5\n")
    second = run_pipeline(landing, wh, only_changed=True)
    md = publish_metadata(second)
    assert md["mode"] == "incremental" and md["copied_bytes"] > 0
    assert {"staging.events", "raw._partitions", "marts.pipeline_runs"} <= set(md["changed_tables"])
    assert md["summary"].startswith(f"{len(md['changed_tables'])} of {md['tables']} tables changed")

    fresh = WarehousePaths(published=tmp_path / "fresh" / "journeys.duckdb")
    fresh.published.parent.mkdir()
    shutil.copyfile(second.work, fresh.work)
    assert publish(fresh, full=True)["mode"] == "full"
    incremental, full = every_row(wh), every_row(fresh.published)
    assert incremental.keys() == full.keys()
    assert {t for t in full if incremental[t] != full[t]} == set()
    assert len(incremental["staging.events"]) == 20  # 3 days of 5 page views and 1 activity, 1 new of each
