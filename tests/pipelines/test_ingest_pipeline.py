"""Ingestion through real Dagster runs: replaying partitions in any order leaves identical
tables, and the counts check holds."""

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_pipeline

# one xdist worker runs the whole module: its module-scoped fixtures are built once, not per worker
pytestmark = pytest.mark.xdist_group("ingest_pipeline")

# Columns that record when or by which run something was loaded: they differ between runs by design.
VOLATILE = {"_loaded_at", "started_at", "finished_at", "run_id", "loaded_at"}
LEDGERS = {"marts.pipeline_runs"}


def snapshot(path: Path) -> dict[str, list]:
    """Every table's rows, sorted, without the load-time columns."""
    con = duckdb.connect(str(path), read_only=True)
    out = {}
    try:
        tables = con.execute(  # _journeys: publish's bookkeeping (versions differ from run to run)
            "select schema_name, table_name from duckdb_tables() where schema_name <> '_journeys' order by all").fetchall()
        for schema, table in tables:
            rel = f"{schema}.{table}"
            if rel in LEDGERS:
                continue
            cols = [c for (c,) in con.execute(
                "select column_name from duckdb_columns() where schema_name = $s and table_name = $t order by column_index",
                {"s": schema, "t": table}).fetchall() if c not in VOLATILE]
            select = ", ".join(f'"{c}"::varchar' for c in cols)
            out[rel] = sorted(map(repr, con.execute(f"select {select} from {rel}").fetchall()))  # noqa: S608 - catalog names
    finally:
        con.close()
    return out


def make_landing(root: Path) -> Path:
    days = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    for i, d in enumerate(days):
        folder = root / "clickstream" / d.isoformat()
        folder.mkdir(parents=True)
        lines = [json.dumps({"messageId": f"m{i}-{j}", "type": "page", "anonymousId": f"a{j}",
                             "timestamp": f"{d.isoformat()}T1{j}:00:00Z",
                             "context": {"page": {"url": f"https://shop.example.com/p/{j}"}}}) for j in range(5)]
        lines.append(json.dumps({"messageId": "m0-0", "type": "page", "anonymousId": "a0", "timestamp": "2025-03-01T10:00:00Z"}))
        lines.append("{oops")
        (folder / "events.jsonl").write_text("\n".join(lines) + "\n")
        crm = root / "crm" / d.isoformat()
        crm.mkdir(parents=True)
        (crm / "activities.csv").write_text(
            "activity_id,contact_id,email,activity_type,occurred_at,channel,amount\n"
            f"A{i},C{i},c{i}@example.com,call,{d.isoformat()} 09:00:00,phone,\n"
        )
    return root


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    return make_landing(tmp_path_factory.mktemp("landing"))


@pytest.fixture(scope="module")
def fresh(landing, tmp_path_factory):
    """One run over `landing` into a new warehouse, read (never written) by the tests that use it."""
    return run_pipeline(landing, tmp_path_factory.mktemp("fresh") / "journeys.duckdb")


def test_any_order_and_replays_leave_identical_tables(landing, fresh, tmp_path):
    a = fresh
    assert a.result.success
    b_wh = tmp_path / "b" / "journeys.duckdb"
    for d in (date(2025, 3, 3), date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 1)):
        b = run_pipeline(landing, b_wh, start=d, end=d)
        assert b.result.success
    assert snapshot(a.published) == snapshot(b.published)
    # the whole range again, over a copy of the first run's files (the module's run stays as it was)
    (tmp_path / "a").mkdir()
    for f in a.published.parent.glob("*journeys*.duckdb"):
        shutil.copyfile(f, tmp_path / "a" / f.name)
    again = run_pipeline(landing, tmp_path / "a" / "journeys.duckdb")
    assert again.result.success and again.work.exists()
    assert snapshot(again.published) == snapshot(a.published)


def test_counts_add_up_and_are_recorded(fresh):
    run = fresh
    checks = {e.check_name: e.passed for e in run.result.get_asset_check_evaluations()}
    assert checks["counts_add_up"] is True
    with run.connect() as con:
        rows = con.execute(
            "select source, _partition, n_read, n_accepted, n_rejected, n_duplicates, status "
            "from marts.pipeline_runs where source = 'clickstream' order by _partition").fetchall()
    assert [r[2:] for r in rows] == [(7, 5, 1, 1, "succeeded"), (7, 5, 1, 1, "succeeded"), (7, 5, 1, 1, "succeeded")]
    for r in rows:
        assert r[2] == r[3] + r[4] + r[5]


def test_changed_file_is_reloaded_unchanged_days_skipped(landing, fresh, tmp_path):
    # a copy of the module's landing zone and of `fresh`'s files (file times kept: every day is as loaded)
    own = tmp_path / "landing"
    shutil.copytree(landing, own)
    wh = tmp_path / "w" / "journeys.duckdb"
    wh.parent.mkdir()
    for f in fresh.published.parent.glob("*journeys*.duckdb"):
        shutil.copyfile(f, wh.parent / f.name)
    f = own / "clickstream" / "2025-03-02" / "events.jsonl"
    f.write_text(f.read_text() + json.dumps({"messageId": "late", "type": "page", "anonymousId": "z",
                                             "timestamp": "2025-02-27T10:00:00Z"}) + "\n")
    run = run_pipeline(own, wh, only_changed=True)
    md = {e.asset_key.path[1]: e.step_materialization_data.materialization.metadata
          for e in run.result.get_asset_materialization_events() if e.asset_key.path[0] == "raw"}
    assert md["clickstream"]["days_loaded"].value == 1
    assert md["clickstream"]["days_unchanged"].value == 2
    with run.connect() as con:
        late = con.execute("select occurred_at::date, _partition from staging.events where source_event_id = 'late'").fetchall()
    assert late == [(date(2025, 2, 27), date(2025, 3, 2))]  # a late event keeps its own time
    shutil.rmtree(own)


def test_published_file_is_readable_while_the_working_file_is_private(fresh):
    run = fresh
    assert run.published.exists() and run.work.exists() and run.published != run.work
    with run.connect() as con:
        tables = {f"{s}.{t}" for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()}
        comment = con.execute("select comment from duckdb_tables() where table_name = 'journeys'").fetchall()[0][0]
        column_comments = con.execute(
            "select count(*) from duckdb_columns() where table_name = 'events' and comment <> ''").fetchall()[0][0]
        assert con.execute("select mask_pii('mail me at a@b.co')").fetchall() == [("mail me at [email]",)]
    work = duckdb.connect(str(run.work), read_only=True)
    try:
        private = {f"{s}.{t}" for s, t in work.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('raw', 'intermediate')").fetchall()}
        n_events = work.execute("select count(*) from staging.events").fetchall()[0][0]
    finally:
        work.close()
    # intermediate steps stay in the working file; landed payloads (clear-text emails) stay in
    # the landing files, the raw layer: no copy of them is kept in either file
    assert {"intermediate.duplicate_events", "intermediate.profile_versions", "raw._partitions"} <= private
    assert {t for t in private if t.startswith("raw.")} == {"raw._partitions"}
    assert tables & private == {"raw._partitions"}
    assert {"staging.events", "quarantine.rejected", "identity.customer_ids", "marts.journeys"} <= tables
    assert comment and column_comments > 5  # the table documentation is published too
    with run.connect() as con:
        assert con.execute("select count(*) from staging.events").fetchall()[0][0] == n_events
