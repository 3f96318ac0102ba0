"""staging.events, staging.profiles, quarantine.rejected, their private companions and the run
ledger. The raw assets file every landed record into the staged tables as they read it; this
multi-asset derives what follows from them (profiles, partition counts, the run log) and
checks that every record read is accounted for. Each table is an asset in the group named
after its schema, so the lineage shows every table the stage writes."""


import time

import dagster as dg

from pipelines.defs.ingest.assets import LEDGER_KEY
from pipelines.defs.ops.models import describe
from pipelines.defs.ops.resources import JourneysResource, utcnow
from pipelines.defs.ops.run_history import stopped_run_outcomes
from transforms.config import Config
from transforms.privacy import ensure_privacy_tables
from transforms.runlog import published_successes, stage_runs, unsettled_runs
from transforms.staging import build_staging
from transforms.warehouse import preview

STAGING_KEYS = {
    rel: dg.AssetKey(rel.split("."))
    for rel in ("staging.events", "staging.profiles", "quarantine.rejected", "intermediate.duplicate_events",
                "intermediate.profile_versions", "intermediate.partition_counts",
                "marts.pipeline_runs")
}


def build_staging_assets(config: Config) -> list:
    # the staged rows come from the raw assets' loads; the counts and run log read their ledger.
    # Each raw asset is a dependency on its last day: with the default (every day) Dagster lists
    # the ~20,000 daily keys since 1970 of each raw asset at every run to version this step's
    # inputs (0.27 s a source), then, past 100 keys, uses the asset's last materialization anyway.
    # The price: the UI's "stale" mark on staging follows the raw assets' newest day only (a
    # backfill of older days does not set it); runs never read it (the ledger decides what loads)
    raw_keys = [dg.AssetDep(dg.AssetKey(["raw", name]), partition_mapping=dg.LastPartitionMapping())
                for name in config.sources] + [LEDGER_KEY]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(key, deps=raw_keys, description=describe(rel), group_name=key.path[0], kinds={"duckdb", "sql"})
            for rel, key in STAGING_KEYS.items()
        ],
        name="staging",
    )
    def staging(context: dg.AssetExecutionContext, journeys: JourneysResource):
        if journeys.unchanged_since is not None:
            for key in STAGING_KEYS.values():
                yield dg.MaterializeResult(asset_key=key, metadata=journeys.unchanged_metadata())
            return
        t0 = time.monotonic()
        with journeys.connect() as con:
            ensure_privacy_tables(con)  # marts.erasures exists (empty) before any erasure
            if journeys.config.settings.engine == "spark":  # the landing zone read and staged on Spark
                from transforms.engines.spark_run import ingest_on_spark

                counts = ingest_on_spark(con, journeys.config, journeys.landing, secret=journeys.hash_secret,
                                         run_id=context.run_id, started=utcnow())
                context.log_event(dg.AssetMaterialization(
                    LEDGER_KEY, metadata={"engine": "spark", "records_read": counts["read"], "mode": counts["mode"],
                                          "days_loaded": counts["days_loaded"]}))
            else:
                counts = build_staging(con)
            stopped = unsettled_runs(con, context.run_id)
            outcomes = stopped_run_outcomes(context.instance, stopped, published_successes(journeys.paths.published, stopped),
                                            recorded_by=context.run_id)
            n_runs = stage_runs(con, context.run_id, outcomes)
            if stopped:
                context.log.warning(
                    f"marts.pipeline_runs: recorded {len(stopped)} earlier run(s) that stopped before publishing: "
                    + ", ".join(f"{r or 'unknown run'} ({o.status})" for r, o in outcomes.items())
                )
            seconds = round(time.monotonic() - t0, 3)
            for rel, key in STAGING_KEYS.items():
                n = n_runs if rel == "marts.pipeline_runs" else counts[rel]
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={"rows": n, "seconds": seconds, "preview": dg.MetadataValue.md(preview(con, rel))},
                )
        context.log.info(
            f"staging.events: {counts['staging.events']:,} events; "
            f"quarantine.rejected: {counts['quarantine.rejected']:,} records; "
            f"{counts['intermediate.duplicate_events']:,} duplicates"
        )

    # counts_add_up, its blocking check, is sql/checks/staging/events/counts_add_up.sql
    return [staging]
