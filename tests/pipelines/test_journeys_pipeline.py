"""Journeys on the demo data, through the real Dagster run of tests/conftest.py: paths add up,
transition probabilities sum to 1, converted journeys end with a conversion, every event is in
exactly one journey, and the stage's asset checks pass. Plus the stage's wiring."""

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs.ops.checks import build_sql_checks
from tests.conftest import FIXTURE_LANDING
from transforms.config import load_config

CLASSIFIED_EVENTS = dg.AssetKey(["intermediate", "classified_events"])
CUSTOMER_PROFILES = dg.AssetKey(["intermediate", "customer_profiles"])
JOURNEY_TIMELINE = dg.AssetKey(["intermediate", "journey_timeline"])
JOURNEY_STEPS = dg.AssetKey(["intermediate", "journey_steps"])
STAGING_EVENTS = dg.AssetKey(["staging", "events"])
# a model incremental by customer also waits for the run's dirty set (issue 16)
DIRTY = dg.AssetKey(["intermediate", "dirty_customers"])
JOURNEY_KEYS = [dg.AssetKey(["marts", t]) for t in
                ("journey_events", "journeys", "journey_paths", "touchpoint_transitions", "customers", "sessions")]


def upstream_missing() -> str | None:
    """Why the demo tests cannot run yet, or None when they can."""
    if not any(p.is_file() for p in FIXTURE_LANDING.rglob("*")):
        return "fixtures/landing holds no landed files yet"
    from pipelines.definitions import build_definitions

    graph = build_definitions(load_config()).resolve_asset_graph()
    if not graph.has(CLASSIFIED_EVENTS) or not graph.get(CLASSIFIED_EVENTS).is_materializable:
        return "no asset produces intermediate.classified_events yet (identity stage, issue 3)"
    return None


_MISSING = upstream_missing()
needs_upstream = pytest.mark.skipif(_MISSING is not None, reason=f"journeys demo tests wait for upstream: {_MISSING}")


# --------------------------------------------------------------------------- wiring


def test_journey_assets_keys_deps_and_blocking_checks():
    defs = build_definitions(load_config())
    graph = defs.resolve_asset_graph()
    deps = {k: set(graph.get(k).parent_keys) for k in JOURNEY_KEYS}
    # the one wide event table reads staging.events once; everything else goes by key
    assert deps[dg.AssetKey(["marts", "journey_events"])] == {STAGING_EVENTS, CLASSIFIED_EVENTS, JOURNEY_TIMELINE,
                                                              CUSTOMER_PROFILES, DIRTY}
    # journeys and transitions come from the per-journey runs, not from a sort of every event
    assert deps[dg.AssetKey(["marts", "journeys"])] == {JOURNEY_TIMELINE, JOURNEY_STEPS, CUSTOMER_PROFILES, DIRTY}
    assert set(graph.get(JOURNEY_STEPS).parent_keys) == {JOURNEY_TIMELINE, DIRTY}
    # the aggregates count small per-journey tables, each built from the per-journey runs
    transitions, variants = (dg.AssetKey(["intermediate", t]) for t in ("journey_transitions", "journey_path_variants"))
    assert deps[dg.AssetKey(["marts", "touchpoint_transitions"])] == {transitions}
    assert deps[dg.AssetKey(["marts", "journey_paths"])] == {variants}
    assert JOURNEY_STEPS in set(graph.get(transitions).parent_keys) & set(graph.get(variants).parent_keys)
    assert dg.AssetKey(["marts", "journeys"]) in set(graph.get(variants).parent_keys)
    for key in JOURNEY_KEYS:
        assert defs.resolve_assets_def(key).descriptions_by_key[key].startswith("One row per")
    checks = [spec for a in build_sql_checks() for spec in a.check_specs if spec.asset_key in JOURNEY_KEYS]
    assert {c.name for c in checks} == {"every_event_once", "journeys_end_at_conversions", "paths_add_up",
                                        "probabilities_sum_to_one"}
    assert all(c.blocking for c in checks)


# --------------------------------------------------------------------------- demo data


@needs_upstream
def test_phase_paths_for_all_add_up_to_the_journeys(demo_db):
    (paths,) = demo_db.execute(
        "select sum(n_journeys) from marts.journey_paths where level = 'phase' and persona = 'all'"
    ).fetchall()[0]
    (journeys,) = demo_db.execute("select count(*) from marts.journeys").fetchall()[0]
    assert journeys > 0
    assert paths == journeys
    (shares,) = demo_db.execute(
        "select max(abs(s - 1)) from (select sum(share) as s from marts.journey_paths group by definition, level, persona)"
    ).fetchall()[0]
    assert shares < 1e-9


@needs_upstream
def test_transition_probabilities_sum_to_one_per_from_touchpoint(demo_db):
    sums = demo_db.execute(
        "select from_touchpoint, sum(probability) from marts.touchpoint_transitions group by all"
    ).fetchall()
    assert sums and all(abs(total - 1) <= 1e-9 for _, total in sums)
    (starts,) = demo_db.execute(
        "select sum(n) from marts.touchpoint_transitions where from_touchpoint = '(start)'"
    ).fetchall()[0]
    (conversions,) = demo_db.execute(
        "select coalesce(sum(n), 0) from marts.touchpoint_transitions where to_touchpoint = '(conversion)'"
    ).fetchall()[0]
    assert demo_db.execute("select count(*), count(*) filter (where converted) from marts.journeys").fetchall()[0] == (
        starts, conversions)


@needs_upstream
def test_every_converted_journey_ends_with_a_conversion_event(demo_db):
    bad = demo_db.execute(
        """
        select j.journey_id
        from marts.journeys as j
        inner join marts.journey_events as e
            on e.journey_id = j.journey_id and e.step_index = j.n_events
        where j.converted and not (e.is_conversion and e.occurred_at = j.converted_at)
        """
    ).fetchall()
    assert bad == []
    (n_converted,) = demo_db.execute("select count(*) from marts.journeys where converted").fetchall()[0]
    assert n_converted > 0
    # and no conversion sits anywhere but at a journey's end
    (early,) = demo_db.execute(
        """
        select count(*) from marts.journey_events as e
        inner join marts.journeys as j on e.journey_id = j.journey_id
        where e.is_conversion and e.step_index <> j.n_events
        """
    ).fetchall()[0]
    assert early == 0


@needs_upstream
def test_every_staging_event_is_in_journey_events_exactly_once(demo_db):
    missing_or_repeated = demo_db.execute(
        """
        with s as (select event_id from staging.events),
        j as (select event_id, count(*) as n from marts.journey_events group by all)
        select count(*) filter (where j.n is null or j.n <> 1), count(*) filter (where s.event_id is null)
        from s full outer join j on s.event_id = j.event_id
        """
    ).fetchall()[0]
    assert missing_or_repeated == (0, 0)


@needs_upstream
def test_customers_add_up_to_their_journeys(demo_db):
    assert demo_db.execute(
        "select sum(n_journeys), sum(n_conversions), sum(n_events) from marts.customers"
    ).fetchall() == demo_db.execute(
        "select count(*), count(*) filter (where converted), sum(n_events) from marts.journeys"
    ).fetchall()


@needs_upstream
def test_journey_checks_ran_and_passed(demo_run):
    evaluations = {e.check_name: e for e in demo_run.result.get_asset_check_evaluations()
                   if e.asset_key in JOURNEY_KEYS}
    assert set(evaluations) == {"every_event_once", "journeys_end_at_conversions", "paths_add_up",
                                "probabilities_sum_to_one"}
    assert all(e.passed for e in evaluations.values())


@needs_upstream
def test_journey_tables_and_columns_are_documented_in_the_warehouse(demo_db):
    tables = dict(demo_db.execute(
        "select table_name, comment from duckdb_tables() where schema_name = 'marts'"
    ).fetchall())
    undocumented = demo_db.execute(
        """
        select table_name, column_name from duckdb_columns()
        where schema_name = 'marts' and coalesce(comment, '') = ''
          and table_name in ('journey_events', 'journeys', 'journey_paths', 'touchpoint_transitions', 'customers',
                             'sessions')
        """
    ).fetchall()
    for key in JOURNEY_KEYS:
        assert (tables.get(key.path[1]) or "").startswith("One row per"), key
    assert undocumented == []


# --------------------------------------------------------------------------- visits (issue 17)


@needs_upstream
def test_demo_paths_go_visit_by_visit_without_back_stage_steps(demo_db):
    back = {t.name for t in load_config().taxonomy.touchpoints if t.stage == "back"}
    assert back  # the demo taxonomy has the back-stage crm touchpoint, and it has events
    assert demo_db.execute("select count(*) from marts.journey_events where stage = 'back'").fetchall()[0][0] > 0
    paths = [p for (p,) in demo_db.execute("select path from marts.journey_paths where level = 'touchpoint'").fetchall()]
    paths += [p for (p,) in demo_db.execute("select touchpoint_path from marts.journeys").fetchall()]
    assert not [p for p in paths if back & set(p.split(" > "))]
    nodes = demo_db.execute("select from_touchpoint, to_touchpoint from marts.touchpoint_transitions").fetchall()
    assert not [n for n in nodes if back & set(n)]
    # each journey's path, rebuilt from its events: a visit is one item named by how it began, any
    # other front-stage event one item; so no two consecutive steps come from one visit
    entry = dict(demo_db.execute("select session_id, entry_touchpoint from marts.sessions").fetchall())
    events = demo_db.execute(
        "select journey_id, session_id, event_id, touchpoint, stage from marts.journey_events "
        "where journey_id is not null order by journey_id, step_index"
    ).fetchall()
    items: dict[str, list[tuple[str, str]]] = {}
    for journey_id, session_id, event_id, touchpoint, stage in events:
        seen = items.setdefault(journey_id, [])
        if session_id is not None:
            key, name = session_id, entry[session_id]
        elif touchpoint != "unclassified" and stage == "front":
            key, name = event_id, touchpoint
        else:
            continue
        if key not in [k for k, _ in seen]:
            seen.append((key, name))
    rebuilt = {}
    for journey_id, seen in items.items():
        steps: list[str] = []
        for _, name in seen:
            if name != "unclassified" and (not steps or steps[-1] != name):
                steps.append(name)
        rebuilt[journey_id] = " > ".join(steps)
    published = dict(demo_db.execute("select journey_id, touchpoint_path from marts.journeys where n_touchpoint_steps > 0").fetchall())
    assert published == {j: p for j, p in rebuilt.items() if p}
    # a session's events all carry its id, and no session crosses to another customer
    assert demo_db.execute(
        "select count(*) from marts.sessions as s inner join marts.journey_events as e on s.session_id = e.session_id "
        "where e.customer_id <> s.customer_id"
    ).fetchall()[0][0] == 0
    assert demo_db.execute("select sum(n_events) from marts.sessions").fetchall()[0][0] == demo_db.execute(
        "select count(session_id) from marts.journey_events").fetchall()[0][0]


@needs_upstream
def test_demo_touchpoint_paths_are_concentrated(demo_db):
    # issue 17: before visits, the ten most common converting touchpoint paths held 25 of 137
    # conversions (18%); visit by visit they hold 55 (40%)
    (top10, converted) = demo_db.execute(
        """
        select
            (select sum(n_converted) from (
                select n_converted from marts.journey_paths
                where definition = 'all' and level = 'touchpoint' and persona = 'all'
                order by n_converted desc limit 10)),
            (select count(*) filter (where converted) from marts.journeys)
        """
    ).fetchall()[0]
    assert converted > 0
    assert top10 / converted >= 0.35
