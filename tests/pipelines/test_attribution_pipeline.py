"""Attribution, touchpoint health and pain points on the demo data, through the real Dagster run
of tests/conftest.py: every model's credits sum to the conversions and the revenue, the blocking
checks pass, and the planted broken mobile-app checkout is the top pain point. Plus the wiring."""

import dagster as dg
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs.ops.checks import build_sql_checks
from tests.conftest import FIXTURE_LANDING
from tests.unit.builders import offending
from transforms.attribution import MODELS
from transforms.config import load_config

JOURNEY_EVENTS = dg.AssetKey(["marts", "journey_events"])
JOURNEYS = dg.AssetKey(["marts", "journeys"])
ATTRIBUTION = dg.AssetKey(["marts", "attribution"])
TOUCHPOINT_HEALTH = dg.AssetKey(["marts", "touchpoint_health"])
PAIN_POINTS = dg.AssetKey(["marts", "pain_points"])


def upstream_missing() -> str | None:
    """Why the demo tests cannot run yet, or None when they can."""
    if not any(p.is_file() for p in FIXTURE_LANDING.rglob("*")):
        return "fixtures/landing holds no landed files yet"
    from pipelines.definitions import build_definitions

    graph = build_definitions(load_config()).resolve_asset_graph()
    for key in (JOURNEY_EVENTS, JOURNEYS):
        if not graph.has(key) or not graph.get(key).is_materializable:
            return f"no asset produces {'.'.join(key.path)} yet (journeys stage, issue 4)"
    return None


_MISSING = upstream_missing()
needs_upstream = pytest.mark.skipif(_MISSING is not None, reason=f"attribution demo tests wait for upstream: {_MISSING}")


# --------------------------------------------------------------------------- wiring


def test_attribution_assets_keys_deps_and_blocking_checks():
    graph = build_definitions(load_config()).resolve_asset_graph()
    touches = dg.AssetKey(["intermediate", "attribution_touches"])
    # attribution touches come from the per-journey runs of intermediate.journey_timeline (issue 15)
    assert set(graph.get(touches).parent_keys) == {dg.AssetKey(["intermediate", "journey_timeline"]), JOURNEYS,
                                                  dg.AssetKey(["intermediate", "dirty_customers"])}
    assert touches in graph.get(ATTRIBUTION).parent_keys
    # the aggregates read small per-journey and per-customer tables, not the events (issue 16)
    assert set(graph.get(TOUCHPOINT_HEALTH).parent_keys) == {dg.AssetKey(["intermediate", "journey_cells"]), JOURNEYS}
    assert set(graph.get(PAIN_POINTS).parent_keys) == {dg.AssetKey(["intermediate", "support_steps"]), TOUCHPOINT_HEALTH}
    assert graph.get(dg.AssetKey(["intermediate", "journey_cells"])).parent_keys == {
        JOURNEY_EVENTS, dg.AssetKey(["intermediate", "dirty_customers"])}
    defs = build_definitions(load_config())
    for key in (ATTRIBUTION, TOUCHPOINT_HEALTH, PAIN_POINTS):
        assert defs.resolve_assets_def(key).descriptions_by_key[key].startswith("One row per")
    checks = [spec for a in build_sql_checks() for spec in a.check_specs
              if spec.asset_key in (ATTRIBUTION, TOUCHPOINT_HEALTH)]
    # one check over every model (sql/checks/marts/attribution/credits_sum_to_totals.sql)
    assert {c.name for c in checks if c.asset_key == ATTRIBUTION} == {"credits_sum_to_totals"}
    assert all(c.blocking for c in checks)


# --------------------------------------------------------------------------- demo data


@needs_upstream
def test_stage_checks_passed(demo_run):
    evaluations = {(e.asset_key, e.check_name): e.passed for e in demo_run.result.get_asset_check_evaluations()}
    ours = {k: v for k, v in evaluations.items() if k[0] in (ATTRIBUTION, TOUCHPOINT_HEALTH)}
    assert set(ours) == {(ATTRIBUTION, "credits_sum_to_totals"), (TOUCHPOINT_HEALTH, "every_event_in_one_cell")}
    assert all(ours.values()), ours


@needs_upstream
def test_every_model_credits_every_conversion_and_all_revenue(demo_db):
    assert offending(demo_db, "marts.attribution/credits_sum_to_totals") == []
    models = {m for m, in demo_db.execute("select distinct model from marts.attribution").fetchall()}
    assert models == set(MODELS)
    (conversions,) = demo_db.execute("select count(*) from marts.journeys where converted").fetchall()[0]
    assert conversions > 0


@needs_upstream
def test_broken_app_checkout_is_the_top_pain_point(demo_db):
    rows = demo_db.execute("select rank, touchpoint, phase, kind, label from marts.pain_points order by rank").fetchall()
    assert rows, "no pain point flagged on the demo data"
    rank, touchpoint, phase, kind, label = rows[0]
    assert (rank, touchpoint, phase) == (1, "mobile_app", "purchase"), rows[:5]
    assert label.startswith("Mobile app · purchase: ")


@needs_upstream
def test_touchpoint_health_covers_every_event(demo_db):
    (in_cells, events) = demo_db.execute(
        "select (select sum(n_events) from marts.touchpoint_health), (select count(*) from marts.journey_events)"
    ).fetchall()[0]
    assert in_cells == events
