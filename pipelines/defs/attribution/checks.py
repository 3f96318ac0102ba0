"""Blocking checks of the attribution stage: every attribution model credits exactly the
conversions and the revenue of marts.journeys, and every event is in one touchpoint_health cell.
The tables themselves are model assets (pipelines/defs/ops/models.py)."""

import time

import dagster as dg

from pipelines.defs.ops.resources import JourneysResource
from transforms.attribution import MODELS, TOLERANCE, model_sums
from transforms.config import Config
from transforms.painpoints import unhealthy_cells

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


def build_attribution_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """The asset checks of this stage."""

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

    return [*[_credits_check(m) for m in MODELS], every_event_in_one_cell]
