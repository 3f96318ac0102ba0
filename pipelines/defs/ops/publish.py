"""Publishing: the analyst file is replaced atomically once every table of the run is built."""


import time
from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from pipelines.defs.ops.resources import JourneysResource, utcnow
from transforms.incremental import finish_run as finish_incremental
from transforms.runlog import finish_run
from transforms.warehouse import VACUUM_DEAD_SHARE, compact_if_due, publish, run_sql

PUBLISH_KEY = dg.AssetKey(["warehouse", "published"])
PUBLISH_OP = "warehouse__published"


class PublishConfig(dg.Config):
    full_rewrite: bool = Field(
        default=False,
        description=("Write the analyst file fresh instead of copying the previous one and replacing the "
                     "tables that changed. `journeys forget` sets it: only a fresh file holds no bytes of "
                     "deleted rows."),
    )


def full_rewrite_config() -> dict:
    """Run config asking the publish step for a fresh analyst file."""
    return {"ops": {PUBLISH_OP: {"config": {"full_rewrite": True}}}}


def build_publish_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=list(deps),
        group_name="publish",
        kinds={"duckdb"},
        description=(
            "The file analysts open (JOURNEYS_WAREHOUSE): every table of the working database "
            "except the private raw payloads and intermediate steps (raw._partitions, the load "
            "ledger, is kept). The previous analyst file is copied and only the tables that changed "
            "since are replaced in the copy (a fresh file when there is none, the schemas changed, "
            "or after an erasure), then it is renamed over the previous one in one step, so readers "
            "never see a half-written table and are never locked out. The run's rows of "
            "marts.pipeline_runs say succeeded in the file it publishes."
        ),
    )
    def published(context: dg.AssetExecutionContext, config: PublishConfig,
                  journeys: JourneysResource) -> dg.MaterializeResult:
        if journeys.unchanged_since is not None:  # the analyst file is left as it is, byte for byte
            context.log.info(f"Nothing new since {journeys.unchanged_metadata()['nothing_new_since']}: nothing published")
            return dg.MaterializeResult(metadata={"path": str(journeys.paths.published), **journeys.unchanged_metadata()})
        t0 = time.monotonic()
        with journeys.connect() as con:
            finish_incremental(con)  # every model is built: the next run compares with this one
            t1 = time.monotonic()
            compacted = compact_if_due(con)  # tables with many deleted rows: this checkpoint merges them
            run_sql(con, "ops/catalog/checkpoint")  # the working file is whole before it is copied
        journeys.close_connection()
        before = {"record the build": round(t1 - t0, 3), "checkpoint working file": round(time.monotonic() - t1, 3)}  # publishing attaches the working file: no connection may hold it
        s = journeys.config.settings
        at = utcnow()
        info = publish(journeys.paths, full=config.full_rewrite, memory_limit=s.duckdb_memory_limit,
                       threads=s.duckdb_threads, finalize=lambda fresh: finish_run(fresh, context.run_id, at))
        # the working file follows, with the same rows as the analyst file (so marts.pipeline_runs
        # keeps its version); a run killed just before this line is found succeeded in the analyst
        # file by the next run (transforms.runlog.published_successes)
        with journeys.connect() as con:
            finish_run(con, context.run_id, at)
        context.log.info(f"Published {journeys.paths.published}: {info['summary']} in {info['seconds']}s")
        compacted_analyst = info.pop("compacted_tables", {})
        for where, tables in (("working file", compacted), ("analyst file", compacted_analyst)):
            if tables:
                context.log.info(f"Compacted the {where}: {len(tables)} table(s) had {VACUUM_DEAD_SHARE:.0%} or more "
                                 f"deleted rows (e.g. {next(iter(tables))}), so its row groups were merged this run")
        changed, dropped = info.pop("changed_tables"), info.pop("dropped_tables")
        by_customer = info.pop("rows_replaced_by_customer", {})
        phases = {**before, **info.pop("phase_seconds")}
        return dg.MaterializeResult(metadata={
            "path": str(journeys.paths.published), **info,
            "changed_tables": dg.MetadataValue.json(changed),
            "dropped_tables": dg.MetadataValue.json(dropped),
            "rows_replaced_by_customer": dg.MetadataValue.json(by_customer),
            "phase_seconds": dg.MetadataValue.json(phases),
            "compacted": dg.MetadataValue.json({"working file": compacted, "analyst file": compacted_analyst}),
        })

    return published
