"""Blocking checks of the funnels stage (marts.funnel_dropoff): the invariants analysts rely on.
The tables themselves are model assets (pipelines/defs/ops/models.py)."""

from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.defs.ops.models import no_rows_check
from transforms.config import Config
from transforms.funnels import (
    check_all_equals_sum,
    check_counts_balance,
    check_entered_never_increases,
)

GROUP = "funnels"
JOURNEY_EVENTS = dg.AssetKey(["marts", "journey_events"])
CUSTOMERS = "marts.funnel_customers"
DROPOFF = "marts.funnel_dropoff"
TRENDS = "marts.funnel_trends"


def _check(name: str, description: str, find: Callable[[duckdb.DuckDBPyConnection], list[tuple]],
           what: str) -> dg.AssetChecksDefinition:
    """A blocking check on marts.funnel_dropoff that passes when `find` returns no rows."""
    return no_rows_check(DROPOFF, name, description, find, what)


def build_funnels_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """The asset checks of this stage."""
    return [
        _check(
            "entered_never_increases",
            "Along the steps of every funnel, breakdown and value, entered never increases.",
            check_entered_never_increases, "rows_that_increase",
        ),
        _check(
            "counts_balance",
            "For every funnel, breakdown value and step: entered = reached_next + dropped + in_window, "
            "reached_next is the next step's entered, and the last step has no dropped or in_window units.",
            check_counts_balance, "rows_that_do_not_balance",
        ),
        _check(
            "all_row_equals_sum_of_values",
            "Every funnel has its 'all' rows, and for each breakdown the values (one per unit, '(none)' "
            "included) add up to the 'all' row at every step.",
            check_all_equals_sum, "steps_that_do_not_add_up",
        ),
    ]
