"""Assets of the attribution stage: marts.attribution (with its intermediate helpers),
marts.touchpoint_health and marts.pain_points, with blocking checks that every attribution
model credits exactly the conversions and the revenue of marts.journeys."""

import time

import dagster as dg

from pipelines.defs.ops.models import describe, sql_asset
from pipelines.defs.ops.resources import JourneysResource
from transforms.attribution import MODELS, TOLERANCE, build_attribution, model_sums
from transforms.config import Config
from transforms.painpoints import pain_point_params, touchpoint_health_params, unhealthy_cells
from transforms.warehouse import preview

GROUP = "attribution"
JOURNEY_EVENTS = dg.AssetKey(["marts", "journey_events"])
JOURNEYS = dg.AssetKey(["marts", "journeys"])
ATTRIBUTION = dg.AssetKey(["marts", "attribution"])
TOUCHPOINT_HEALTH = dg.AssetKey(["marts", "touchpoint_health"])
PAIN_POINTS = dg.AssetKey(["marts", "pain_points"])


def _credits_check(model: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=ATTRIBUTION,
        name=f"{model}_credits_sum_to_totals",
        blocking=True,
        description=(
            f"The {model} credits sum to the number of converting journeys and to their revenue in "
            f"marts.journeys (within {TOLERANCE:g} x max(1, |total|))."
        ),
    )
    def _check(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            credited, expected, credited_revenue, expected_revenue = model_sums(con, model)
        tol_n = TOLERANCE * max(1.0, abs(expected))
        tol_r = TOLERANCE * max(1.0, abs(expected_revenue))
        return dg.AssetCheckResult(
            passed=abs(credited - expected) <= tol_n and abs(credited_revenue - expected_revenue) <= tol_r,
            metadata={
                "credited_conversions": credited,
                "conversions": expected,
                "credited_revenue": credited_revenue,
                "revenue": expected_revenue,
            },
        )

    return _check


def build_attribution_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    """Assets and asset checks of this stage, built from the configuration."""

    @dg.asset(
        key=ATTRIBUTION,
        deps=[JOURNEY_EVENTS, JOURNEYS],
        description=describe("marts.attribution"),
        group_name=GROUP,
        kinds={"duckdb", "sql", "python"},
    )
    def attribution(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        with journeys.connect() as con:
            out = build_attribution(con, journeys.config.settings.attribution)
            md = {**out, "preview": dg.MetadataValue.md(preview(con, "marts.attribution", 10))}
        context.log.info(
            f"marts.attribution: {out['rows']:,} rows; {out['conversions']:,.0f} conversions, "
            f"revenue {out['revenue']:,.2f}, {len(MODELS)} models"
        )
        return dg.MaterializeResult(metadata=md)

    health = sql_asset(
        "marts.touchpoint_health", ["marts.journey_events", "marts.journeys"], GROUP, touchpoint_health_params,
    )
    pain_points = sql_asset(
        "marts.pain_points", ["marts.touchpoint_health", "marts.journey_events", "marts.journeys"], GROUP,
        pain_point_params,
    )

    @dg.asset_check(
        asset=TOUCHPOINT_HEALTH,
        name="every_event_in_one_cell",
        blocking=True,
        description="The cells' n_events add up to the events of marts.journey_events, and no cell appears twice.",
    )
    def every_event_in_one_cell(journeys: JourneysResource) -> dg.AssetCheckResult:
        t0 = time.monotonic()
        with journeys.connect() as con:
            bad = unhealthy_cells(con)
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={
                "problems": len(bad),
                "examples": dg.MetadataValue.md("\n".join(f"- {b}" for b in bad) or "none"),
                "seconds": round(time.monotonic() - t0, 3),
            },
        )

    return [attribution, *[_credits_check(m) for m in MODELS], health, pain_points, every_event_in_one_cell]
