"""Blocking checks of the journeys stage (marts.journey_events, marts.journeys, marts.journey_paths,
marts.touchpoint_transitions): the invariants analysts rely on. The tables themselves are model
assets (pipelines/defs/ops/models.py)."""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.defs.ops.models import no_rows_check
from transforms.config import Config
from transforms.journeys import (
    events_not_once,
    journey_errors,
    path_count_errors,
    transition_probability_errors,
)


def _check(relation: str, name: str, description: str,
           find: Callable[[duckdb.DuckDBPyConnection], list[tuple]], what: str) -> dg.AssetChecksDefinition:
    return no_rows_check(relation, name, description, find, what)


def build_journeys_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """The asset checks of this stage."""
    return [
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
