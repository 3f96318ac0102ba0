"""Assets of the funnels stage: marts.funnel_customers (the matching, in transforms/funnels.py),
marts.funnel_dropoff and marts.funnel_trends (SQL models over it), with blocking checks of the
invariants analysts rely on."""

import time
from collections.abc import Callable

import dagster as dg
import duckdb

from pipelines.defs.ops.models import describe, no_rows_check, sql_asset
from pipelines.defs.ops.resources import JourneysResource
from transforms.config import Config
from transforms.funnels import (
    build_funnel_customers,
    check_all_equals_sum,
    check_counts_balance,
    check_entered_never_increases,
)
from transforms.warehouse import preview

GROUP = "funnels"
JOURNEY_EVENTS = dg.AssetKey(["marts", "journey_events"])
CUSTOMERS = "marts.funnel_customers"
DROPOFF = "marts.funnel_dropoff"
TRENDS = "marts.funnel_trends"


def _check(name: str, description: str, find: Callable[[duckdb.DuckDBPyConnection], list[tuple]],
           what: str) -> dg.AssetChecksDefinition:
    """A blocking check on marts.funnel_dropoff that passes when `find` returns no rows."""
    return no_rows_check(DROPOFF, name, description, find, what)


def build_funnels_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    """Assets and asset checks of this stage, built from the configuration."""

    @dg.asset(
        key=CUSTOMERS.split("."),
        deps=[JOURNEY_EVENTS],
        group_name=GROUP,
        description=describe(CUSTOMERS),
        kinds={"duckdb", "sql"},
    )
    def funnel_customers(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        t0 = time.monotonic()
        funnels = journeys.config.funnels
        with journeys.connect() as con:
            info = build_funnel_customers(con, funnels)
            by_status = con.execute(
                "select funnel, status, count(*) from marts.funnel_customers group by all order by all"
            ).fetchall()
            md = {
                "rows": info["rows"],
                "attempts": info["attempts"],
                "funnels": ", ".join(f.name for f in funnels) or "none",
                "seconds": round(time.monotonic() - t0, 3),
                "seconds_per_funnel": dg.MetadataValue.json(info["seconds_per_funnel"]),
                "status_by_funnel": dg.MetadataValue.md(
                    "\n".join(f"- {f}: {s} {n:,}" for f, s, n in by_status) or "none"
                ),
                "preview": dg.MetadataValue.md(preview(con, CUSTOMERS)),
            }
        context.log.info(f"{CUSTOMERS}: {info['rows']:,} rows over {len(funnels)} funnel(s)")
        return dg.MaterializeResult(metadata=md)

    return [
        funnel_customers,
        sql_asset(DROPOFF, [CUSTOMERS], GROUP),
        sql_asset(TRENDS, [CUSTOMERS], GROUP),
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
