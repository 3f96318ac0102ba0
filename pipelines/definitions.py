"""The one Definitions of the Journeys code location: assets built from the configuration."""

from __future__ import annotations

import warnings

import dagster as dg

from pipelines.defs.ingest.assets import build_raw_assets
from pipelines.defs.ops.checks import build_sql_checks
from pipelines.defs.ops.jobs import build_jobs
from pipelines.defs.ops.models import build_model_assets
from pipelines.defs.ops.privacy import erasure_specs
from pipelines.defs.ops.progress import progress_logger
from pipelines.defs.ops.publish import build_publish_asset
from pipelines.defs.ops.resources import JourneysResource
from pipelines.defs.staging.assets import build_staging_assets
from transforms.config import Config, load_config

warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)


def build_definitions(config: Config | None = None, resource: JourneysResource | None = None) -> dg.Definitions:
    resource = resource or JourneysResource.from_env()
    config = config or load_config(resource.config_dir)
    assets: list = [
        *build_raw_assets(config),
        *build_staging_assets(config),
        *build_model_assets(),
        *build_sql_checks(),
    ]
    # tables written outside an asset of their own (the raw assets' ledger, the erasure tables of
    # `journeys forget`) are external assets: in the lineage, reported materialized by their writer
    specs = [a for a in assets if isinstance(a, dg.AssetSpec)] + erasure_specs()
    asset_defs = [a for a in assets if isinstance(a, dg.AssetsDefinition)]
    checks = [a for a in assets if isinstance(a, dg.AssetChecksDefinition)]
    # publish follows every table; the daily-partitioned raw assets reach it through staging. A
    # direct dependency on them would make Dagster list every daily partition since the first
    # (1970 by default: ~20,000 keys) for each of them at every run, to version publish's inputs.
    partitioned = {k for a in asset_defs if a.partitions_def is not None for k in a.keys}
    keys = [k for a in asset_defs for k in a.keys if k not in partitioned] + [s.key for s in specs]
    publish = build_publish_asset(keys)
    asset_defs = [a for a in asset_defs if not isinstance(a, dg.AssetChecksDefinition)] + [publish]
    jobs, schedules, sensors = build_jobs(config, asset_defs, resource.landing, resource.paths.published)
    return dg.Definitions(
        assets=[*asset_defs, *specs],
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={"journeys": resource},
        executor=dg.in_process_executor,
        loggers={"progress": progress_logger, "console": dg.colored_console_logger},
    )


defs = build_definitions()
