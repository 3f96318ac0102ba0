"""The SQL files are the DAG: what a model reads comes from its own SQL."""

from __future__ import annotations

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from transforms.incremental import DIRTY, incremental_key
from transforms.models import ModelError, all_models, header_depends, reads, topological_order


def test_reads_finds_qualified_tables_and_not_ctes() -> None:
    sql = """
    with a as (select * from staging.events), b as (select * from a join identity.customer_ids using (x))
    select * from b left join (select 1 from marts.journeys) as j on true
    """
    assert reads(sql) == ("identity.customer_ids", "marts.journeys", "staging.events")


def test_an_unqualified_table_is_refused_with_the_fix() -> None:
    with pytest.raises(ModelError, match="reads 'events' without its schema: write <schema>.events"):
        reads("select * from events", where="sql/marts/x.sql")


def test_unparsable_sql_names_the_file() -> None:
    with pytest.raises(ModelError, match="sql/marts/x.sql cannot be parsed"):
        reads("select from from where (", where="sql/marts/x.sql")


def test_topological_order_and_cycles() -> None:
    deps = {"marts.b": ["marts.a"], "marts.a": ["staging.events"], "marts.c": ["marts.a", "marts.b"]}
    assert topological_order(deps) == ["marts.a", "marts.b", "marts.c"]
    with pytest.raises(ModelError, match="cycle"):
        topological_order({"marts.a": ["marts.b"], "marts.b": ["marts.a"]})


# the per-source templates (records, erased_lines) name raw.<source> in words
SINGLE_SOURCE_MODELS = sorted(r for r, m in all_models().items()
                              if "__source__" not in m.path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("relation", SINGLE_SOURCE_MODELS)
def test_each_header_names_what_the_model_reads(relation: str) -> None:
    """The `-- depends on:` header is for readers; it must say what the SQL really reads."""
    m = all_models()[relation]
    assert header_depends(m.path) == m.reads


SQL_ASSETS = ["marts.journey_events", "marts.journeys", "marts.journey_paths", "marts.touchpoint_transitions",
              "marts.customers", "marts.funnel_dropoff", "marts.funnel_trends", "marts.touchpoint_health",
              "marts.pain_points"]


@pytest.mark.parametrize("relation", SQL_ASSETS)
def test_sql_assets_depend_on_exactly_what_their_sql_reads(relation: str) -> None:
    graph = build_definitions().resolve_asset_graph()
    parents = {".".join(k.path) for k in graph.get(dg.AssetKey(relation.split("."))).parent_keys}
    # a model incremental by customer also waits for the run's dirty set (transforms.incremental)
    dirty = {DIRTY} if incremental_key(relation) else set()
    assert parents == set(all_models()[relation].reads) | dirty
