"""Publishing: the analyst file is replaced atomically once every table of the run is built."""


from collections.abc import Sequence

import dagster as dg

from pipelines.defs.ops.resources import JourneysResource
from transforms.warehouse import publish

PUBLISH_KEY = dg.AssetKey(["warehouse", "published"])


def build_publish_asset(deps: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISH_KEY,
        deps=list(deps),
        group_name="publish",
        kinds={"duckdb"},
        description=(
            "The file analysts open (JOURNEYS_WAREHOUSE): a copy of the working database, "
            "checkpointed and renamed over the previous file in one step, so readers never see a "
            "half-written table and are never locked out."
        ),
    )
    def published(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        with journeys.connect() as con:
            con.execute("checkpoint")
        info = publish(journeys.paths)
        context.log.info(f"Published {journeys.paths.published} ({info['bytes'] / 1e6:.1f} MB in {info['seconds']}s)")
        return dg.MaterializeResult(metadata={"path": str(journeys.paths.published), **info})

    return published
