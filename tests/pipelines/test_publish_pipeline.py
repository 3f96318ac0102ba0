"""Publishing through real Dagster runs: a run that finds an earlier analyst file updates a copy
of it, and the result equals the same working file published fresh (so no writer of a published
table forgot to give it a new version)."""

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.defs.ops.publish import PUBLISH_KEY
from tests.conftest import PipelineRun, run_pipeline
from tests.pipelines.test_ingest_pipeline import make_landing
from transforms.warehouse import WarehousePaths, publish

# one xdist worker runs the whole module: the first run (`first`) is made once, not per worker
pytestmark = pytest.mark.xdist_group("publish_pipeline")


@pytest.fixture(scope="module")
def first(tmp_path_factory) -> PipelineRun:
    """The first nightly run over `make_landing`'s three days into a new warehouse: the starting
    point of every test here, which works on its own copy (`copy_of_first`)."""
    root = tmp_path_factory.mktemp("publish-first")
    run = run_pipeline(make_landing(root / "landing"), root / "wh" / "journeys.duckdb", only_changed=True)
    assert run.result.success
    return run


def copy_of_first(first: PipelineRun, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the landing zone and of the warehouse folder of `first` (file times and modes
    kept, so the ledger sees every day as loaded): (landing, warehouse)."""
    landing = Path(first.resource.landing_dir)
    shutil.copytree(landing, tmp_path / "landing")
    shutil.copytree(first.published.parent, tmp_path / "wh")
    return tmp_path / "landing", tmp_path / "wh" / first.published.name


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


def test_a_second_run_publishes_incrementally_and_equals_a_fresh_publish(first, tmp_path):
    landing, wh = copy_of_first(first, tmp_path)
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
    assert list(md["phase_seconds"]) == ["record the build", "checkpoint working file", "copy previous",
                                         "compare and drop", "whole tables", "rows by customer", "rows by day",
                                         "final checkpoint", "sync and rename"]

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


def test_a_nightly_publish_replaces_only_the_dirty_customers_rows(first, tmp_path):
    landing, wh = copy_of_first(first, tmp_path)
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


def staged(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def equals_a_fresh_publish(run, wh: Path, tmp_path: Path) -> None:
    fresh = WarehousePaths(published=tmp_path / "fresh" / "journeys.duckdb")
    fresh.published.parent.mkdir(exist_ok=True)
    fresh.published.unlink(missing_ok=True)
    shutil.copyfile(run.work, fresh.work)
    assert publish(fresh, full=True)["mode"] == "full"
    incremental, full = every_row(wh), every_row(fresh.published)
    assert incremental.keys() == full.keys()
    assert {t for t in full if incremental[t] != full[t]} == set()


def test_a_nightly_publish_replaces_only_the_loaded_days_rows_of_staging(first, tmp_path):
    landing, wh = copy_of_first(first, tmp_path)
    assert publish_metadata(first)["mode"] == "full"
    after_first = tmp_path / "after_first.duckdb"
    shutil.copyfile(wh, after_first)
    by_day = "select _partition, count(*) from staging.events group by all order by all"

    # a new day of one source: 2 events (one a late copy of an event staged on the first day) and a bad line
    new_day = landing / "clickstream" / "2025-03-04"
    new_day.mkdir()
    (new_day / "events.jsonl").write_text("\n".join([
        json.dumps({"messageId": "n1", "type": "page", "anonymousId": "a1", "timestamp": "2025-03-04T10:00:00Z"}),
        json.dumps({"messageId": "m0-3", "type": "page", "anonymousId": "a3", "timestamp": "2025-03-01T13:00:00Z"}),
        "{oops",
    ]) + "\n")
    second = run_pipeline(landing, wh, only_changed=True)
    md = publish_metadata(second)
    assert md["mode"] == "incremental"
    assert {"staging.events", "quarantine.rejected"} <= set(md["changed_tables"])
    assert md["rows_replaced_by_day"] == {
        "staging.events": {"days": 1, "deleted": 0, "inserted": 1, "moved": 0},  # the late copy is a duplicate
        "quarantine.rejected": {"days": 1, "deleted": 0, "inserted": 1},
    }
    assert "2 only in the rows of the landing days loaded: 2 rows written" in md["summary"]
    old = dict(staged(after_first, by_day))
    assert dict(staged(wh, by_day)) == {**old, date(2025, 3, 4): 1}
    equals_a_fresh_publish(second, wh, tmp_path)

    # an old day is loaded again without event m0-0, whose first landed copy (kept by staging)
    # was on that day: its kept row moves to the next day's copy. The analyst file is put back
    # to the first run's, so the publish replaces the days of both later runs.
    first_day = landing / "clickstream" / "2025-03-01" / "events.jsonl"
    first_day.write_text("".join(line + "\n" for line in first_day.read_text().splitlines() if '"m0-0"' not in line))
    shutil.copyfile(after_first, wh)
    third = run_pipeline(landing, wh, only_changed=True)
    md = publish_metadata(third)
    assert md["mode"] == "incremental"
    # m0-0..m0-4 of the first day go, n1 comes; m0-1..m0-4 come back, m0-0 (moved) from the second day
    assert md["rows_replaced_by_day"]["staging.events"] == {"days": 2, "deleted": 5, "inserted": 6, "moved": 1}
    assert staged(wh, "select _partition from staging.events where event_id = 'clickstream:m0-0'") == [
        (date(2025, 3, 2),)]
    equals_a_fresh_publish(third, wh, tmp_path)

