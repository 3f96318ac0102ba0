"""Wiring: what the Dagster code location exposes."""

import dagster as dg

from pipelines.definitions import defs


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
