"""Wiring: what the Dagster code location exposes."""

import dagster as dg
import duckdb

from pipelines.definitions import defs

# the runner's bookkeeping, not data: which table changed since the last publish
# (transforms/warehouse.py) and what the last build saw, for the next run's dirty set and
# fingerprints (transforms/incremental.py), and how identity last built (transforms/identity.py):
# the inner state of publish, of the runner and of identity's incremental build
BOOKKEEPING = {"intermediate._table_versions", "_journeys.published_tables",
               "intermediate._incremental_state", "intermediate._model_fingerprints",
               "intermediate._identity_moves", "intermediate._identity_moves_state", "intermediate._profile_digests",
               "intermediate._identity_state", "intermediate._identity_partition_sets",
               "intermediate._identity_loads", "intermediate._identity_duplicates",
               "intermediate._day_writes", "intermediate._scope_events"}


def test_assets_jobs_schedules_sensors():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"raw/clickstream", "raw/crm", "raw/crm_contacts", "raw/support", "staging/events",
            "staging/profiles", "quarantine/rejected", "quarantine/unread_files", "marts/pipeline_runs",
            "warehouse/published"} <= keys
    assert defs.resolve_job_def("refresh") is not None
    assert defs.resolve_job_def("backfill_crm") is not None
    assert defs.resolve_schedule_def("nightly").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("landing_sensor") is not None


def test_raw_assets_are_daily_single_run_backfills():
    for name in ("clickstream", "crm", "support"):
        asset = defs.resolve_assets_def(dg.AssetKey(["raw", name]))
        assert isinstance(asset.partitions_def, dg.DailyPartitionsDefinition)
        assert asset.partitions_def.start.date().isoformat() == "1970-01-01"  # no fixed first day: any year loads
        assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_counts_check_is_blocking():
    checks = {c.name: c for a in defs.asset_checks for c in a.check_specs}
    assert checks["counts_add_up"].blocking


def test_every_table_written_is_an_asset_in_the_group_of_its_schema(demo_run):
    """Every table a full run leaves in the working and the analyst file (including the raw
    assets' ledger raw._partitions and the erasure tables of `journeys forget`) is an asset of the
    one Definitions, in the group named after its schema."""
    tables: set[str] = set()
    for path in (demo_run.work, demo_run.published):
        with duckdb.connect(str(path), read_only=True) as con:
            tables |= {f"{s}.{t}" for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = current_database()").fetchall()}
    assert {"raw._partitions", "marts.erasures", "intermediate.erased_identifiers", "staging.events"} <= tables
    graph = defs.resolve_asset_graph()
    keys = {".".join(k.path) for k in graph.get_all_asset_keys()}
    assert tables - BOOKKEEPING - keys == set()
    assert {t: graph.get(dg.AssetKey(t.split("."))).group_name for t in tables - BOOKKEEPING} == {
        t: t.split(".")[0] for t in tables - BOOKKEEPING}
    # the tables written outside an asset of their own sit in the lineage between writer and reader
    ledger = graph.get(dg.AssetKey(["raw", "_partitions"]))
    assert dg.AssetKey(["raw", "crm"]) in ledger.parent_keys
    assert dg.AssetKey(["staging", "events"]) in ledger.child_keys
    erased = graph.get(dg.AssetKey(["intermediate", "erased_identifiers"]))
    assert {dg.AssetKey(["raw", "crm"]), dg.AssetKey(["marts", "erasures"])} <= set(erased.child_keys)


def test_raw_assets_report_their_ledger(demo_run):
    """Each raw asset that loads days reports raw._partitions materialized (an external asset)."""
    reported = [m for m in demo_run.result.get_asset_materialization_events()
                if m.asset_key == dg.AssetKey(["raw", "_partitions"])]
    assert {m.step_key for m in reported} == {"raw__clickstream", "raw__crm", "raw__crm_contacts", "raw__support"}
