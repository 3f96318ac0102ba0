"""A factory for assets that are one SQL model each (sql/<schema>/<table>.sql)."""


import time
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg
import duckdb

from pipelines.defs.ops.resources import JourneysResource
from transforms.config import Config
from transforms.warehouse import build_model, preview, table_doc


def describe(relation: str, fallback: str = "") -> str:
    doc = table_doc(relation)
    return str(doc.get("description", fallback)).strip() if doc else fallback


def sql_asset(relation: str, deps: Sequence[str], group: str,
              params: Callable[[Config], dict[str, Any]] | None = None) -> dg.AssetsDefinition:
    """An asset that builds `relation` from its SQL file with parameters from the config."""
    schema, table = relation.split(".")

    @dg.asset(
        key=[schema, table],
        deps=[dg.AssetKey(d.split(".")) for d in deps],
        group_name=group,
        description=describe(relation),
        kinds={"duckdb", "sql"},
    )
    def _asset(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        t0 = time.monotonic()
        with journeys.connect() as con:
            n = build_model(con, relation, params(journeys.config) if params else {})
            md = {"rows": n, "seconds": round(time.monotonic() - t0, 3), "preview": dg.MetadataValue.md(preview(con, relation))}
        context.log.info(f"{relation}: {n:,} rows")
        return dg.MaterializeResult(metadata=md)

    _asset.__name__ = f"{schema}__{table}"
    return _asset


def no_rows_check(relation: str, name: str, description: str,
                  find: Callable[[duckdb.DuckDBPyConnection], list[tuple]], what: str) -> dg.AssetChecksDefinition:
    """A blocking check on `relation` that passes when `find` returns no rows; the rows it
    finds are shown as examples."""

    @dg.asset_check(asset=dg.AssetKey(relation.split(".")), name=name, blocking=True, description=description)
    def _check_fn(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            bad = find(con)
        return dg.AssetCheckResult(
            passed=not bad,
            metadata={
                what: len(bad),
                "examples": dg.MetadataValue.md("\n".join(f"- {', '.join(map(str, row))}" for row in bad[:20]) or "none"),
            },
        )

    return _check_fn
