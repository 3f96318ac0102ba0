"""Assets of the journeys stage: marts.journey_events, marts.journeys, marts.journey_paths,
marts.touchpoint_transitions and marts.customers, one SQL model each, with blocking checks
of the invariants analysts rely on."""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.defs.ops.models import no_rows_check, sql_asset
from transforms.config import Config
from transforms.journeys import (
    events_not_once,
    journey_errors,
    journey_params,
    path_count_errors,
    transition_probability_errors,
)

GROUP = "journeys"
UPSTREAM_EVENTS = "intermediate.classified_events"
UPSTREAM_PROFILES = "intermediate.customer_profiles"

# relation -> the relations it reads
MODELS: dict[str, list[str]] = {
    "marts.journey_events": [UPSTREAM_EVENTS, UPSTREAM_PROFILES],
    "marts.journeys": ["marts.journey_events"],
    "marts.journey_paths": ["marts.journeys"],
    "marts.touchpoint_transitions": ["marts.journey_events", "marts.journeys"],
    "marts.customers": ["marts.journeys", UPSTREAM_PROFILES],
}


def _params(config: Config) -> dict:
    return journey_params(config.settings.journeys)


def _check(relation: str, name: str, description: str,
           find: Callable[[duckdb.DuckDBPyConnection], list[tuple]], what: str) -> dg.AssetChecksDefinition:
    return no_rows_check(relation, name, description, find, what)


def build_journeys_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    """Assets and asset checks of this stage, built from the configuration."""
    assets: list[dg.AssetsDefinition | dg.AssetChecksDefinition] = [
        sql_asset(relation, deps, GROUP, _params) for relation, deps in MODELS.items()
    ]
    assets += [
        _check(
            "marts.journey_events", "every_event_once",
            "Every event of intermediate.classified_events (hence of staging.events) is in marts.journey_events exactly once.",
            events_not_once, "events_not_exactly_once",
        ),
        _check(
            "marts.journeys", "journeys_end_at_conversions",
            "A converted journey ends with its only conversion event; converted, n_events and step_index agree with the events.",
            journey_errors, "journeys_with_problems",
        ),
        _check(
            "marts.journey_paths", "paths_add_up",
            "For each level and persona ('all' included), n_journeys over the paths adds up to the journeys of marts.journeys.",
            path_count_errors, "groups_that_do_not_add_up",
        ),
        _check(
            "marts.touchpoint_transitions", "probabilities_sum_to_one",
            "Transition probabilities out of each from_touchpoint sum to 1 (within 1e-9).",
            transition_probability_errors, "from_touchpoints_off",
        ),
    ]
    return assets
