"""The model assets: one asset per SQL model file (sql/<schema>/<table>.sql) and one multi-asset
per Python step, each in the group named after its schema. Their upstream assets are what the
SQL reads (transforms.models); nothing here lists a dependency."""


import dagster as dg

from pipelines.defs.ops.resources import JourneysResource
from transforms.models import PYTHON_STEPS, PythonStep, build, graph, step_for
from transforms.warehouse import count_rows, preview, table_doc


def describe(relation: str, fallback: str = "") -> str:
    doc = table_doc(relation)
    return str(doc.get("description", fallback)).strip() if doc else fallback


def _key(relation: str) -> dg.AssetKey:
    return dg.AssetKey(relation.split("."))


def sql_asset(relation: str) -> dg.AssetsDefinition:
    """An asset that builds `relation` from its SQL file, with parameters from the config."""
    schema, table = relation.split(".")

    @dg.asset(
        key=[schema, table],
        deps=[_key(d) for d in graph()[relation]],
        group_name=schema,
        description=describe(relation),
        kinds={"duckdb", "sql"},
    )
    def _asset(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        if journeys.unchanged_since is not None:
            return dg.MaterializeResult(metadata=journeys.unchanged_metadata())
        with journeys.connect() as con:
            md = build(con, relation, journeys.config, journeys.params)
            md["preview"] = dg.MetadataValue.md(preview(con, relation))
        how = f" ({md['inserted']:,} rebuilt for the run's customers)" if md.get("mode") == "incremental" else ""
        how = f" (skipped: {md['skipped']})" if md.get("skipped") else how
        context.log.info(f"{relation}: {md['rows']:,} rows{how}")
        return dg.MaterializeResult(metadata=md)

    _asset.__name__ = f"{schema}__{table}"
    return _asset


def python_step_asset(step: PythonStep) -> dg.AssetsDefinition:
    """A multi-asset for the relations one Python step writes."""

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(_key(r), deps=[_key(d) for d in step.reads], description=describe(r, step.description),
                         group_name=r.split(".")[0], kinds={"duckdb", "python"})
            for r in step.writes
        ],
        name=step.name,
        description=step.description,
    )
    def _asset(context: dg.AssetExecutionContext, journeys: JourneysResource):
        if journeys.unchanged_since is not None:
            for relation in step.writes:
                yield dg.MaterializeResult(asset_key=_key(relation), metadata=journeys.unchanged_metadata())
            return
        with journeys.connect() as con:
            md = build(con, step.writes[0], journeys.config, journeys.params)
            if md.get("summary"):
                context.log.info(str(md["summary"]))
            for relation in step.writes:
                rows = count_rows(con, relation)
                extra = {k: (dg.MetadataValue.json(v) if isinstance(v, dict | list) else v)
                         for k, v in md.items() if k != "rows"}
                yield dg.MaterializeResult(
                    asset_key=_key(relation),
                    metadata={"rows": rows, **extra, "preview": dg.MetadataValue.md(preview(con, relation))},
                )
        context.log.info(f"{step.name}: " + ", ".join(step.writes))

    return _asset


def build_model_assets() -> list[dg.AssetsDefinition]:
    """Every model of the graph as an asset."""
    assets = [sql_asset(r) for r in sorted(graph()) if step_for(r) is None]
    return assets + [python_step_asset(s) for s in PYTHON_STEPS]

