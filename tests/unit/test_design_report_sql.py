"""The report's SQL for issue 18 (sql/report/design_*, retention_*, lifecycle_*) on a small
crafted warehouse: what each returns, row by row."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from tests.unit.journey_marts import DESIGN_MODELS, T0, UPSTREAM, E, build, config_with, load
from transforms.designs import design_params
from transforms.warehouse import run_sql

DESIGN = {"name": "checkout", "persona": "consumer", "description": "Pay and complete.", "steps": [
    {"name": "Start", "event_name": "A", "touchpoint": "app"},
    {"name": "Pay", "event_name": "B", "touchpoint": "app", "target": "10m"},
    {"name": "Help", "event_name": "H", "touchpoint": "app", "optional": True},
    {"name": "Done", "event_name": "C", "touchpoint": "app"},
]}


@pytest.fixture
def con():
    con = duckdb.connect()
    events = [
        E("a-001", 0, "A"), E("a-001", 5, "B"), E("a-001", 6, "C", is_conversion=True),    # fits
        E("b-001", 0, "A"), E("b-001", 60, "B"), E("b-001", 61, "C", is_conversion=True),  # stalls at Pay
        E("c-001", 0, "A"), E("c-001", 5, "B"),                                            # skips Done
        E("c-001", 7 * 1440, "page", touchpoint="web"),                                    # unplanned; week 1
    ]
    load(con, events)
    config = config_with([DESIGN])
    build(con, config, UPSTREAM + DESIGN_MODELS + ["intermediate.return_weeks", "intermediate.customer_firsts", "marts.retention", "marts.lifecycle"])
    return con


PARAMS = design_params(config_with([DESIGN]))


def rows(cur) -> list[dict]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_design_map_sets_each_designed_step_beside_what_journeys_do(con):
    out = rows(run_sql(con, "report/design_map", PARAMS))
    assert [(r["step"], r["step_name"], r["is_optional"], r["target_seconds"]) for r in out] == [
        (1, "Start", False, None), (2, "Pay", False, 600.0), (3, "Help", True, None), (4, "Done", False, None)]
    assert {r["n_journeys"] for r in out} == {3}
    assert [r["share_reaching"] for r in out] == [1.0, 1.0, None, pytest.approx(2 / 3)]
    assert [r["n_journeys_stalling"] for r in out] == [0, 1, 0, 0]
    assert out[0]["share_fitting"] == pytest.approx(1 / 3) and out[0]["conversion_rate"] == pytest.approx(2 / 3)


def test_design_top_gaps_keeps_the_first_n_per_design(con):
    out = rows(run_sql(con, "report/design_top_gaps", {"top_gaps": 2}))
    assert [(r["rank"], r["kind"], r["location"]) for r in out] == [
        (1, "skipped_step", "Done"), (2, "unplanned_touchpoint", "web")]
    assert out[0]["label"] == ("checkout: 1 of 3 customers (33%) skip 'Done'; their journeys convert 0% against "
                               "100% for the others.")


def test_retention_triangle_of_a_persona(con):
    out = run_sql(con, "report/retention_triangle", {"persona": "consumer"}).fetchall()
    # three customers first seen in week 0; only c comes back, in week 1 (the newest week)
    assert out == [(T0.date(), 0, 3, 3, 1.0, True), (T0.date(), 1, 3, 1, pytest.approx(1 / 3), False)]


def test_lifecycle_weeks_of_a_persona(con):
    out = run_sql(con, "report/lifecycle_weeks", {"persona": "all"}).fetchall()
    assert out == [(T0.date(), 3, 0, 0, 0), (T0.date() + timedelta(days=7), 0, 1, 0, -2)]
