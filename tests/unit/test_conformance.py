"""Designed journeys (issue 18): designs.yaml validation, the alignment behind
marts.journey_conformance against a brute-force reference, a hand-worked example per deviation
kind, marts.design_gaps, and the planted broken mobile checkout on the demo data."""

from __future__ import annotations

import itertools
import subprocess

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.e2e.test_cli import journeys
from tests.unit.journey_marts import E, build_designs
from transforms.config import ConfigError, load_config

ABC = [{"event_name": "A"}, {"event_name": "B"}, {"event_name": "C"}]


def conformance(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    cur = con.execute("select * from marts.journey_conformance order by journey_id")
    names = [d[0] for d in cur.description]
    return {r[names.index("journey_id")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def deviations(row: dict) -> list[tuple[str, str]]:
    return sorted((d["kind"], d["location"]) for d in row["deviations"])


def one(events: list[E], steps: list[dict], **design) -> dict:
    con = duckdb.connect()
    build_designs(con, events, [{"name": "d", "steps": steps, **design}])
    rows = conformance(con)
    assert list(rows) == ["c1-001"]
    return rows["c1-001"]


# --------------------------------------------------------------------------- hand-worked examples


def test_a_journey_that_follows_the_design_fits():
    # A, B, B (B repeatable), C: every move follows a step; optional D is not missed
    row = one([E("c1-001", 0, "A"), E("c1-001", 1, "B"), E("c1-001", 2, "X", touchpoint="app"),
               E("c1-001", 3, "B"), E("c1-001", 4, "C")],
              [ABC[0], {"event_name": "B", "repeatable": True}, {"event_name": "D", "optional": True}, ABC[2]])
    assert row["fits"] and row["fitness"] == 1.0 and row["alignment_cost"] == 0
    assert row["n_moves"] == 3  # X at a planned touchpoint is left out; B, B collapse
    assert deviations(row) == []


def test_skipped_step():
    # A, C against A > B > C: B is skipped. fitness = 1 - 1 / (2 moves + 3 required steps)
    row = one([E("c1-001", 0, "A"), E("c1-001", 5, "C")], ABC)
    assert deviations(row) == [("skipped_step", "B")]
    assert not row["fits"] and row["alignment_cost"] == 1 and row["fitness"] == pytest.approx(0.8)
    assert row["n_skipped_steps"] == 1 and row["n_followed_moves"] == 2


def test_step_out_of_order():
    # A, C, B against A > B > C costs 2 whichever way: the smallest path [1, 0, 2] keeps B,
    # so C comes out of order and, never followed, is skipped. fitness = 1 - 2 / (3 + 3)
    row = one([E("c1-001", 0, "A"), E("c1-001", 5, "C"), E("c1-001", 10, "B")], ABC)
    assert deviations(row) == [("out_of_order", "C"), ("skipped_step", "C")]
    assert row["alignment_cost"] == 2 and row["fitness"] == pytest.approx(2 / 3)
    assert row["n_out_of_order"] == 1


def test_a_repeated_step_that_is_not_repeatable_is_out_of_order():
    row = one([E("c1-001", 0, "A"), E("c1-001", 1, "B"), E("c1-001", 2, "A"), E("c1-001", 3, "B")], ABC[:2])
    assert deviations(row) == [("out_of_order", "A"), ("out_of_order", "B")]


def test_unplanned_touchpoint():
    # A (app), a chat, B (app): the design plans only the app. fitness = 1 - 1 / (3 + 2)
    row = one([E("c1-001", 0, "A"), E("c1-001", 1, "ticket_created", touchpoint="chat"),
               E("c1-001", 2, "comment", touchpoint="chat"), E("c1-001", 3, "B")],
              [{"event_name": "A", "touchpoint": "app"}, {"event_name": "B", "touchpoint": "app"}])
    assert deviations(row) == [("unplanned_touchpoint", "chat")]
    assert row["fitness"] == pytest.approx(0.8) and row["n_unplanned_touchpoints"] == 1


def test_also_planned_touchpoints_and_back_stage_events_are_not_deviations():
    row = one([E("c1-001", 0, "A"), E("c1-001", 1, "page", touchpoint="web"),
               E("c1-001", 2, "email_sent", touchpoint="crm", stage="back"), E("c1-001", 3, "B")],
              [{"event_name": "A", "touchpoint": "app"}, {"event_name": "B", "touchpoint": "app"}],
              also_planned=["web"])
    assert row["fits"] and row["n_moves"] == 2


def test_stall_beyond_the_target():
    # B 30 minutes after A, target 10m: a stall; the alignment itself is perfect
    row = one([E("c1-001", 0, "A"), E("c1-001", 30, "B"), E("c1-001", 31, "C")],
              [ABC[0], {"event_name": "B", "target": "10m"}, {"event_name": "C", "target": "10m"}])
    assert deviations(row) == [("stall", "B")]
    assert [d["seconds"] for d in row["deviations"]] == [1800.0]
    assert not row["fits"] and row["fitness"] == 1.0 and row["n_stalls"] == 1


def test_journeys_enter_at_step_one_and_only_for_their_persona():
    con = duckdb.connect()
    build_designs(con, [
        E("c1-001", 0, "B"), E("c1-001", 1, "A"), E("c1-001", 2, "B"),  # enters at A: the first B is before
        E("c2-001", 0, "B"),                                              # never enters
        E("c3-001", 0, "A", persona="enterprise_buyer"),                 # another persona
    ], [{"name": "d", "persona": "consumer", "steps": ABC[:2]}])
    rows = conformance(con)
    assert list(rows) == ["c1-001"] and rows["c1-001"]["fits"] and rows["c1-001"]["n_moves"] == 2


def test_design_gaps_rank_by_customers_and_compare_conversion():
    events = []
    for i in range(4):  # four customers follow A > B and convert
        events += [E(f"f{i}-001", 0, "A"), E(f"f{i}-001", 1, "B", is_conversion=True)]
    for i in range(3):  # three stop after A; one of them also goes to chat
        events += [E(f"s{i}-001", 0, "A")]
    events += [E("s0-001", 5, "ticket_created", touchpoint="chat")]
    con = duckdb.connect()
    build_designs(con, events, [{"name": "checkout", "steps": [{"event_name": "A", "touchpoint": "app"},
                                                               {"name": "B", "event_name": "B", "touchpoint": "app"}]}])
    gaps = con.execute("select rank, kind, location, n_customers, conversion_rate_deviating, "
                       "conversion_rate_following, label from marts.design_gaps order by rank").fetchall()
    assert gaps[0][:6] == (1, "skipped_step", "B", 3, 0.0, 1.0)
    assert gaps[0][6] == ("checkout: 3 of 7 customers (43%) skip 'B'; their journeys convert 0% against "
                          "100% for the others.")
    assert gaps[1][:6] == (2, "unplanned_touchpoint", "chat", 1, 0.0, pytest.approx(4 / 6))


# --------------------------------------------------------------------------- against brute force


def reference_cost(moves: list[set[int]], steps: list[dict]) -> int:
    """The cheapest alignment by enumerating every assignment of moves to steps (0 = deviate):
    the followed steps must not go back, and a step follows itself only when repeatable; each
    deviating move and each required step never followed costs 1."""
    best = None
    for choice in itertools.product(*[[0, *sorted(m)] for m in moves]):
        followed = [k for k in choice if k]
        if any(b < a or (b == a and not steps[a - 1].get("repeatable")) for a, b in itertools.pairwise(followed)):
            continue
        cost = choice.count(0) + sum(1 for k, s in enumerate(steps, 1) if not s.get("optional") and k not in followed)
        best = cost if best is None else min(best, cost)
    return best


def reference_trace(events: list[str], steps: list[dict]) -> list[set[int]] | None:
    """The moves the design sees: from the first event matching step 1; 'X' is an unplanned
    touchpoint, 'Y' an event at the planned touchpoint that matches no step (left out); runs of
    equal moves collapse."""
    matches = [{k for k, s in enumerate(steps, 1) if s["event_name"] == e} for e in events]
    start = next((i for i, m in enumerate(matches) if 1 in m), None)
    if start is None:
        return None
    keys = [("x" if e == "X" else frozenset(m)) for e, m in zip(events[start:], matches[start:], strict=True)
            if e == "X" or m]
    collapsed = [k for i, k in enumerate(keys) if i == 0 or k != keys[i - 1]]
    return [set() if k == "x" else set(k) for k in collapsed]


step_st = st.fixed_dictionaries({"event_name": st.sampled_from("ABC"), "optional": st.booleans(),
                                 "repeatable": st.booleans()})
design_st = st.lists(step_st, min_size=1, max_size=4).map(
    lambda s: [{**s[0], "optional": False}, *s[1:]])
journeys_st = st.lists(st.lists(st.sampled_from("ABCXY"), min_size=1, max_size=7), min_size=1, max_size=4)
CON = duckdb.connect()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design_st, journeys_st)
def test_alignment_fitness_matches_brute_force(steps, traces):
    steps = [{**s, "touchpoint": "app"} for s in steps]
    events = [E(f"c{j}-001", i, e, touchpoint="web" if e == "X" else "app")
              for j, trace in enumerate(traces) for i, e in enumerate(trace)]
    build_designs(CON, events, [{"name": "d", "steps": steps}])
    rows = conformance(CON)
    required = sum(1 for s in steps if not s["optional"])
    for j, trace in enumerate(traces):
        moves = reference_trace(trace, steps)
        if moves is None:
            assert f"c{j}-001" not in rows
            continue
        row = rows[f"c{j}-001"]
        cost = reference_cost(moves, steps)
        assert row["n_moves"] == len(moves)
        assert row["alignment_cost"] == cost, (trace, steps)
        assert row["fitness"] == pytest.approx(1 - cost / (len(moves) + required))
        assert row["fits"] == (cost == 0)
        # the deviations listed are the alignment's: they add up to its cost
        assert row["n_skipped_steps"] + row["n_out_of_order"] + row["n_unplanned_touchpoints"] == cost
        assert row["n_followed_moves"] == len(moves) - row["n_out_of_order"] - row["n_unplanned_touchpoints"]


# --------------------------------------------------------------------------- configuration


def test_the_shipped_designs_load():
    assert [d.name for d in load_config().designs] == ["mobile_checkout", "sales_led_deal", "self_serve_purchase"]


@pytest.mark.parametrize(("text", "message"), [
    ("designs:\n  - name: d\n    steps: [{touchpoint: moblie_app}]\n",
     "designs[0] (d).steps[0].touchpoint: unknown touchpoint 'moblie_app'"),
    ("designs:\n  - name: d\n    persona: gamer\n    steps: [{phase: awareness}]\n",
     "designs[0] (d).persona: unknown persona 'gamer'"),
    ("designs:\n  - name: d\n    steps: [{phase: awareness, optional: true}]\n",
     "designs[0]: step 1 cannot be optional"),
    ("designs:\n  - name: d\n    steps: [{phase: awareness}, {phase: interest, target: soon}]\n",
     "designs[0].steps[1]: 'soon' is not a duration"),
    ("designs:\n  - name: d\n    steps: [{phase: awareness, wait: 1d}]\n",
     "designs[0].steps[0].wait: unknown key (remove it or check its spelling)"),
    ("designs:\n  - name: d\n    steps: [{optional: false}]\n",
     "a step needs at least one of `phase`, `touchpoint` or `event_name`"),
])
def test_a_bad_design_names_file_key_and_fix(tmp_path, text, message):
    (tmp_path / "designs.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert str(tmp_path / "designs.yaml") in str(e.value)
    assert message in str(e.value)


def test_journeys_check_refuses_a_bad_design_with_exit_code_2(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "designs.yaml").write_text("designs:\n  - name: d\n    steps: [{phase: purchse}]\n")
    r: subprocess.CompletedProcess = journeys(["check", "--config", str(config)], tmp_path)
    assert r.returncode == 2, r.stderr
    assert f"{config / 'designs.yaml'}: designs[0] (d).steps[0].phase: unknown phase 'purchse'." in r.stderr
    assert "Traceback" not in r.stderr


# --------------------------------------------------------------------------- the demo's planted story


def test_the_broken_mobile_checkout_is_the_top_gap_of_the_mobile_checkout_design(demo_db):
    top = demo_db.execute(
        "select kind, location, n_customers, conversion_rate_deviating, conversion_rate_following, label "
        "from marts.design_gaps where design = 'mobile_checkout' and rank = 1").fetchall()
    assert len(top) == 1
    kind, location, n_customers, deviating, following, label = top[0]
    assert (kind, location) == ("skipped_step", "Order Completed")
    assert n_customers >= 10 and deviating < following
    assert label.startswith("mobile_checkout: ") and "skip 'Order Completed'" in label
