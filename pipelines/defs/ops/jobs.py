"""Jobs, the nightly schedule and the landing sensor."""


import hashlib
import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from pipelines.defs.ops.run_history import WAREHOUSE_TAG, record_run_failure
from transforms.config import Config
from transforms.ingest import fingerprint
from transforms.landing import landed_days, landed_files

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def raw_op_config(config: Config, names: Sequence[str] | None = None, only_changed: bool = True) -> dict:
    """Run config telling each raw asset whether to skip unchanged day folders."""
    names = list(names) if names is not None else list(config.sources)
    return {"ops": {f"raw__{n}": {"config": {"only_changed": only_changed}} for n in names}}


def range_tags(start: date, end: date) -> dict[str, str]:
    return {RANGE_START: start.isoformat(), RANGE_END: end.isoformat()}


def landing_run_key(start: date, end: date, fingerprints: dict[str, str]) -> str:
    """The sensor's run key: the same landed files give the same key in every process
    (Python's hash() of a string changes from one process to the next)."""
    digest = hashlib.sha256(json.dumps(fingerprints, sort_keys=True).encode()).hexdigest()[:16]
    return f"landing-{start}-{end}-{digest}"


def build_jobs(config: Config, assets: Sequence[dg.AssetsDefinition], landing: Path, warehouse: Path | None = None):
    raw_keys = [dg.AssetKey(["raw", n]) for n in config.sources]
    tags = {WAREHOUSE_TAG: str(warehouse)} if warehouse is not None else None
    refresh = dg.define_asset_job(
        "refresh",
        tags=tags,
        selection=dg.AssetSelection.all(),
        description="Load the landing days asked for, then rebuild staging, identity, journeys and marts, and publish.",
        hooks={record_run_failure},
    )
    backfills = [
        dg.define_asset_job(
            f"backfill_{name}",
            # all(): what Dagster runs, not the external tables the raw assets report (raw._partitions)
            selection=(dg.AssetSelection.assets(dg.AssetKey(["raw", name])).downstream() & dg.AssetSelection.all())
            - dg.AssetSelection.assets(*[k for k in raw_keys if k.path[1] != name]),
            tags=tags,
            description=f"Reprocess source '{name}' over a date range in one run, then refresh the marts once.",
            hooks={record_run_failure},
        )
        for name in config.sources
    ]
    tz = config.settings.schedule_timezone

    @dg.schedule(
        name="nightly",
        cron_schedule="0 2 * * *",
        execution_timezone=tz,
        job=refresh,
        description=(f"Every night at 02:00 ({tz}): load yesterday's landing folders of every source (those not "
                     "loaded as they are) and refresh every mart; with nothing new, the run does nothing."),
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def nightly(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time
        yesterday = (when - timedelta(days=1)).date()
        return dg.RunRequest(
            run_key=f"nightly-{yesterday.isoformat()}",
            run_config=raw_op_config(config, only_changed=True),
            tags=range_tags(yesterday, yesterday),
        )

    @dg.sensor(
        name="landing_sensor",
        job=refresh,
        minimum_interval_seconds=60,
        description="Starts a run when files land in a day folder, or when a processed file changes.",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def landing_sensor(context: dg.SensorEvaluationContext):
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        current = landing_fingerprints(config, landing)
        changed = sorted({date.fromisoformat(k.split("/")[1]) for k, fp in current.items() if seen.get(k) != fp})
        if not changed:
            return dg.SkipReason("No new or changed landing files.")
        context.update_cursor(json.dumps(current, sort_keys=True))
        start, end = changed[0], changed[-1]
        return dg.RunRequest(
            run_key=landing_run_key(start, end, current),
            run_config=raw_op_config(config, only_changed=True),
            tags=range_tags(start, end),
        )

    checks = dg.define_asset_job(
        "checks",
        tags=tags,
        selection=dg.AssetSelection.all_asset_checks(),
        description="Run every asset check on the tables as they are, building nothing (`journeys check`).",
    )
    return [refresh, *backfills, checks], [nightly], [landing_sensor]


def landing_fingerprints(config: Config, landing: Path) -> dict[str, str]:
    """'<source>/<day>' -> fingerprint of the files in that landing day folder. The sensor reads
    only the landing zone (never the warehouse), so it never waits for a running job."""
    out = {}
    for name, src in config.sources.items():
        for day in landed_days(landing, name, src, config.settings):
            out[f"{name}/{day.isoformat()}"] = fingerprint(landed_files(landing, name, src, day))
    return out

