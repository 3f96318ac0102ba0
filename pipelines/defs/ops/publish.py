"""Publishing: the analyst file is replaced atomically once every table of the run is built."""


from collections.abc import Sequence

import dagster as dg

from pipelines.defs.ops.resources import JourneysResource, utcnow
from transforms.runlog import finish_run
from transforms.warehouse import publish

PUBLISH_KEY = dg.AssetKey(["warehouse", "published"])


def build_publish_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=list(deps),
        group_name="publish",
        kinds={"duckdb"},
        description=(
            "The file analysts open (JOURNEYS_WAREHOUSE): every table of the working database "
            "except the private raw payloads and intermediate steps (raw._partitions, the load "
            "ledger, is kept), written to a fresh file and renamed over the previous one in one "
            "step, so readers never see a half-written table and are never locked out. The run's "
            "rows of marts.pipeline_runs say succeeded in the file it publishes."
        ),
    )
    def published(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        with journeys.connect() as con:
            con.execute("checkpoint")
        s = journeys.config.settings
        at = utcnow()
        info = publish(journeys.paths, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads,
                       finalize=lambda fresh: finish_run(fresh, context.run_id, at))
        # the working file follows; a run killed just before this line is found succeeded in the
        # analyst file by the next run (transforms.runlog.published_successes)
        with journeys.connect() as con:
            finish_run(con, context.run_id, at)
        context.log.info(
            f"Published {journeys.paths.published}: {info['tables']} tables, "
            f"{info['bytes'] / 1e6:.1f} MB in {info['seconds']}s"
        )
        return dg.MaterializeResult(metadata={"path": str(journeys.paths.published), **info})

    return published
