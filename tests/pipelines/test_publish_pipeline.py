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


def rows_of(path: Path, relation: str, customers: list[str]) -> tuple[int, int]:
    """(rows of `customers`, all rows) of `relation` in the file at `path`."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            "select count(*) filter (where customer_id in (select unnest($c::varchar[]))), count(*) "
            "from query_table($r)", {"c": customers, "r": relation}).fetchall()[0]
    finally:
        con.close()


def test_a_nightly_publish_replaces_only_the_dirty_customers_rows(tmp_path):
    landing = make_landing(tmp_path / "landing")
    wh = tmp_path / "wh" / "journeys.duckdb"
    first = run_pipeline(landing, wh, only_changed=True)
    before = tmp_path / "before.duckdb"
    shutil.copyfile(wh, before)
    assert publish_metadata(first)["mode"] == "full"

    # one known visitor comes back on a new day: one customer's history changes
    new_day = landing / "clickstream" / "2025-03-04"
    new_day.mkdir()
    (new_day / "events.jsonl").write_text(json.dumps(
        {"messageId": "n1", "type": "page", "anonymousId": "a1", "timestamp": "2025-03-04T10:00:00Z",
         "context": {"page": {"url": "https://shop.example.com/p/1"}}}) + "\n")
    second = run_pipeline(landing, wh, only_changed=True)
    md = publish_metadata(second)
    assert md["mode"] == "incremental"
    con = duckdb.connect(str(second.work), read_only=True)
    dirty = [c for (c,) in con.execute("select customer_id from intermediate.dirty_customers").fetchall()]
    con.close()
    assert len(dirty) == 1

    replaced = md["rows_replaced_by_customer"]
    assert {"marts.journey_events", "marts.journeys", "marts.customers"} <= set(replaced)
    for relation in ("marts.journey_events", "marts.customers"):
        old_mine, old_all = rows_of(before, relation, dirty)
        new_mine, new_all = rows_of(wh, relation, dirty)
        assert replaced[relation] == {"deleted": old_mine, "inserted": new_mine}
        assert new_all - new_mine == old_all - old_mine > 0  # every other customer's rows kept
    assert rows_of(wh, "marts.journey_events", dirty)[0] == rows_of(before, "marts.journey_events", dirty)[0] + 1
    # a table the run did not change is neither copied nor rewritten
    assert "marts.erasures" in every_row(wh) and "marts.erasures" not in md["changed_tables"]
    assert f"{len(replaced)} only in the rows of the run's customers" in md["summary"]

    # the result equals the same working file published fresh, comments included
    fresh = WarehousePaths(published=tmp_path / "fresh" / "journeys.duckdb")
    fresh.published.parent.mkdir()
    shutil.copyfile(second.work, fresh.work)
    publish(fresh, full=True)
    incremental, full = every_row(wh), every_row(fresh.published)
    assert {t for t in full if incremental.get(t) != full[t]} == set()
    comments = ("select table_name, comment from duckdb_tables() where schema_name = 'marts' "
                "and table_name in ('journey_events', 'customers') order by all")
    a, b = duckdb.connect(str(wh), read_only=True), duckdb.connect(str(fresh.published), read_only=True)
    assert a.execute(comments).fetchall() == b.execute(comments).fetchall()
    assert all(c for _, c in a.execute(comments).fetchall())
    a.close()
    b.close()
