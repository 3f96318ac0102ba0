"""Attribution: the touches, the seven models and their sums, on crafted marts in an in-memory
DuckDB; Markov removal effects and Shapley values against plain-Python brute force (absorption
probabilities by fixed-point iteration, Shapley values by averaging over every ordering)."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.builders import configured, offending
from transforms.attribution import (
    MODELS,
    NONE,
    OTHER,
    conversion_probability,
    markov_removal_effects,
    merge_rare_touchpoints,
    shapley_credits,
    shapley_values,
)
from transforms.config import AttributionSettings
from transforms.models import build_models
from transforms.warehouse import table_doc

T0 = datetime(2025, 3, 1)
DAY = 24 * 60  # minutes


def attribution_discrepancies(con):
    """sql/checks/marts/attribution/credits_sum_to_totals.sql, run by the check runner."""
    return offending(con, "marts.attribution/credits_sum_to_totals")

JOURNEY_EVENTS_DDL = """
create table marts.journey_events (
    event_id varchar, customer_id varchar, journey_id varchar, journey_number integer,
    step_index integer, occurred_at timestamp, source varchar, event_name varchar,
    touchpoint varchar, channel_group varchar, stage varchar, phase varchar, phase_order integer,
    is_conversion boolean, revenue double, sentiment double, csat double
)
"""
JOURNEYS_SQL = """
create table marts.journeys as
select
    journey_id,
    any_value(customer_id) as customer_id,
    bool_or(is_conversion) as converted,
    min(occurred_at) filter (where is_conversion) as converted_at,
    min(occurred_at) as started_at,
    max(occurred_at) as ended_at,
    sum(revenue) filter (where is_conversion) as revenue,
    count(*) as n_events
from marts.journey_events
group by journey_id
"""
# what intermediate.journey_timeline gives attribution: each event with the number of its run of
# one touchpoint among the classified events (one customer per journey here)
TIMELINE_SQL = """
create table intermediate.journey_timeline as
select
    journey_id, step_index, occurred_at, touchpoint, stage, is_conversion,
    case when touchpoint <> 'unclassified' then
        sum(is_change::integer) over (partition by journey_id order by step_index)
    end::integer as touchpoint_run
from (
    select
        *,
        touchpoint <> 'unclassified' and touchpoint is distinct from lag(
            case when touchpoint <> 'unclassified' then touchpoint end ignore nulls
        ) over (partition by journey_id order by step_index) as is_change
    from marts.journey_events
)
"""


@dataclass(frozen=True)
class E:
    """One event: touchpoint, minutes after T0, and stage."""

    touchpoint: str
    minutes: int
    stage: str = "front"


@dataclass
class J:
    """A journey: its events in order, then a conversion event if `revenue` is not None."""

    events: list[E]
    revenue: float | None = None
    conversion_minutes: int | None = None
    customer_id: str = "c"
    journey_id: str = ""

    @property
    def converted(self) -> bool:
        return self.revenue is not None

    @property
    def conversion_at(self) -> int:
        if self.conversion_minutes is not None:
            return self.conversion_minutes
        return max((e.minutes for e in self.events), default=0) + 1


@dataclass
class Warehouse:
    con: duckdb.DuckDBPyConnection
    journeys: list[J] = field(default_factory=list)

    def credits(self, model: str) -> dict[str, tuple[float, float]]:
        return {tp: (c, r) for tp, c, r in self.con.execute(
            "select touchpoint, conversions, revenue from marts.attribution where model = $m", {"m": model}
        ).fetchall()}


def make_warehouse(journeys: list[J], con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with marts.journey_events, marts.journeys and the journey timeline; `con` is reused
    (emptied first) when given, since a new DuckDB connection costs more than a small build."""
    if con is None:
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
    for schema in ("intermediate", "marts"):
        con.execute(f"drop schema if exists {schema} cascade")
        con.execute(f"create schema {schema}")
    con.execute(JOURNEY_EVENTS_DDL)
    rows = []
    for j_no, j in enumerate(journeys):
        jid = j.journey_id or f"j{j_no:03d}"
        evs = [(e.touchpoint, e.minutes, e.stage, False, None) for e in j.events]
        if j.converted:
            evs.append(("website", j.conversion_at, "front", True, j.revenue))
        for step, (tp, minutes, stage, conv, rev) in enumerate(evs, start=1):
            phase = "unclassified" if tp == "unclassified" else ("purchase" if conv else "interest")
            rows.append((f"{jid}:{step}", j.customer_id + jid, jid, 1, step, T0 + timedelta(minutes=minutes),
                         "clickstream", "x", tp, None if tp == "unclassified" else "owned",
                         None if tp == "unclassified" else stage, phase, None, conv, rev, None, None))
    if rows:
        cols = [d[0] for d in con.execute("select * from marts.journey_events limit 0").description]
        frame = pa.Table.from_pylist([dict(zip(cols, r, strict=True)) for r in rows])
        con.register("journey_events_frame", frame)
        con.execute("insert into marts.journey_events by name select * from journey_events_frame")
        con.unregister("journey_events_frame")
    con.execute(JOURNEYS_SQL)
    con.execute(TIMELINE_SQL)
    return con


ATTRIBUTION_TABLES = ("intermediate.attribution_touches", "intermediate.attribution_journey_transitions",
                      "intermediate.attribution_journey_sets", "intermediate.attribution_transitions", "intermediate.attribution_touch_sets", "intermediate.attribution_model_credits", "marts.attribution")


def build(journeys: list[J], con: duckdb.DuckDBPyConnection | None = None, **kw) -> Warehouse:
    con = make_warehouse(journeys, con)
    build_models(con, configured(attribution=AttributionSettings(**kw)), ATTRIBUTION_TABLES, with_upstream=False)
    return Warehouse(con, journeys)


# --------------------------------------------------------------------------- plain-Python reference

START, CONV, NULL = "(start)", "(conversion)", "(null)"


def ref_touches(j: J, lookback_minutes: float, exclude: set[str]) -> list[tuple[str, int]]:
    """(touchpoint, minutes of the run's last event) per touch, as the docs define them."""
    anchor = j.conversion_at if j.converted else max(e.minutes for e in j.events)
    cand = [e for e in j.events
            if e.touchpoint != "unclassified" and e.stage == "front" and anchor - e.minutes <= lookback_minutes]
    if any(e.touchpoint not in exclude for e in cand):
        cand = [e for e in cand if e.touchpoint not in exclude]
    touches: list[tuple[str, int]] = []
    for e in cand:
        if touches and touches[-1][0] == e.touchpoint:
            touches[-1] = (e.touchpoint, e.minutes)
        else:
            touches.append((e.touchpoint, e.minutes))
    return touches or [(NONE, anchor)]


def ref_rule_weights(model: str, touches: list[tuple[str, int]], anchor: int, half_life_minutes: float) -> list[float]:
    n = len(touches)
    if model == "first_touch":
        return [1.0 if i == 0 else 0.0 for i in range(n)]
    if model == "last_touch":
        return [1.0 if i == n - 1 else 0.0 for i in range(n)]
    if model == "linear":
        return [1.0 / n] * n
    if model == "time_decay":
        raw = [2 ** (-(anchor - t) / half_life_minutes) for _, t in touches]
        return [w / sum(raw) for w in raw]
    if model == "position_based":
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    raise ValueError(model)


def ref_chain(paths: list[tuple[list[str], bool]]) -> dict[str, Counter]:
    out: dict[str, Counter] = defaultdict(Counter)
    for tps, converted in paths:
        states = [START, *tps, CONV if converted else NULL]
        for a, b in itertools.pairwise(states):
            out[a][b] += 1
    return out


def ref_absorption(chain: dict[str, Counter], removed: str | None = None) -> float:
    """P(start -> conversion) by fixed-point iteration x = Qx + r (no linear solve)."""
    x = {s: 0.0 for s in chain}
    for _ in range(200_000):
        new = {}
        for s, outs in chain.items():
            total = sum(outs.values())
            acc = 0.0
            for t, c in outs.items():
                if t == CONV:
                    acc += c / total
                elif t not in (NULL, removed):
                    acc += c / total * x[t]
            new[s] = 0.0 if s == removed else acc
        delta = max(abs(new[s] - x[s]) for s in x)
        x = new
        if delta < 1e-16:
            break
    return x[START]


def ref_shapley(sets: list[tuple[frozenset[str], float]], players: list[str]) -> dict[str, float]:
    """Average marginal contribution over every ordering of the players."""
    def v(coalition: frozenset[str]) -> float:
        return math.fsum(val for s, val in sets if s <= coalition)

    phi = dict.fromkeys(players, 0.0)
    perms = list(itertools.permutations(players))
    for order in perms:
        so_far: frozenset[str] = frozenset()
        for p in order:
            phi[p] += v(so_far | {p}) - v(so_far)
            so_far = so_far | {p}
    return {p: val / len(perms) for p, val in phi.items()}


def reference(journeys: list[J], lookback_days: float = 30, half_life_days: float = 7,
              exclude: tuple[str, ...] = ("direct",)) -> dict[str, dict[str, tuple[float, float]]]:
    lookback, half_life = lookback_days * DAY, half_life_days * DAY
    out: dict[str, dict[str, list[float]]] = {m: defaultdict(lambda: [0.0, 0.0]) for m in MODELS}
    paths, sets = [], []
    for j in journeys:
        if not j.events and not j.converted:
            continue
        touches = ref_touches(j, lookback, set(exclude))
        paths.append(([t for t, _ in touches], j.converted))
        if not j.converted:
            continue
        sets.append((frozenset(t for t, _ in touches), 1.0, j.revenue or 0.0))
        for model in MODELS[:5]:
            for (tp, _), w in zip(touches, ref_rule_weights(model, touches, j.conversion_at, half_life), strict=True):
                out[model][tp][0] += w
                out[model][tp][1] += w * (j.revenue or 0.0)
    n_conv = sum(1 for j in journeys if j.converted)
    revenue = math.fsum(j.revenue or 0.0 for j in journeys if j.converted)
    chain = ref_chain(paths)
    if n_conv:
        p = ref_absorption(chain)
        effects = {s: 1 - ref_absorption(chain, s) / p for s in chain if s != START}
        total = sum(effects.values())
        for s, e in effects.items():
            out["markov"][s] = [e / total * n_conv, e / total * revenue]
        players = sorted({tp for s, _, _ in sets for tp in s})
        conv = ref_shapley([(s, c) for s, c, _ in sets], players)
        rev = ref_shapley([(s, r) for s, _, r in sets], players)
        for p in players:
            out["shapley"][p] = [conv[p], rev[p]]
    return {m: {tp: (c, r) for tp, (c, r) in d.items()} for m, d in out.items()}


def assert_credits_equal(actual: dict[str, tuple[float, float]], expected: dict[str, tuple[float, float]], model: str) -> None:
    nonzero_actual = {k: v for k, v in actual.items() if abs(v[0]) > 1e-12 or abs(v[1]) > 1e-9}
    nonzero_expected = {k: v for k, v in expected.items() if abs(v[0]) > 1e-12 or abs(v[1]) > 1e-9}
    assert set(nonzero_actual) == set(nonzero_expected), model
    for tp, (c, r) in nonzero_expected.items():
        assert nonzero_actual[tp][0] == pytest.approx(c, rel=1e-9, abs=1e-9), (model, tp)
        assert nonzero_actual[tp][1] == pytest.approx(r, rel=1e-9, abs=1e-7), (model, tp)


# --------------------------------------------------------------------------- crafted cases

def test_touches_follow_the_documented_rules() -> None:
    journeys = [
        # crm is back-stage, unclassified is never a touch, repeats collapse, direct dropped
        J([E("paid_search", 0), E("crm", 1, "back"), E("website", 2), E("unclassified", 3), E("website", 4),
           E("direct", 5), E("email", 6)], revenue=100.0, journey_id="a"),
        # direct is the only thing left: it stays
        J([E("direct", 0), E("direct", 1)], revenue=50.0, journey_id="b"),
        # touches older than the lookback (30 days) before the conversion are left out
        J([E("display", 0), E("email", 31 * DAY)], revenue=10.0, conversion_minutes=31 * DAY + 60, journey_id="c"),
        # nothing attributable at all: '(none)'
        J([E("crm", 0, "back")], revenue=5.0, journey_id="d"),
        # not converted: touches up to the last event
        J([E("website", 0), E("email", 10)], journey_id="e"),
    ]
    w = build(journeys, exclude_touchpoints=["direct"])
    got = {jid: [tp for tp, in w.con.execute(
        "select touchpoint from intermediate.attribution_touches where journey_id = $j order by touch_index", {"j": jid}
    ).fetchall()] for jid in "abcde"}
    assert got == {
        "a": ["paid_search", "website", "email"],
        "b": ["direct"],
        "c": ["email"],
        "d": [NONE],
        "e": ["website", "email"],
    }
    assert attribution_discrepancies(w.con) == []


def test_rule_based_models_on_a_four_touch_journey() -> None:
    # touches at days 0, 7, 14 and 21 before a conversion on day 21 + 0: half-life 7 days
    j = J([E("paid_search", 0), E("email", 7 * DAY), E("website", 14 * DAY), E("referral", 21 * DAY)],
          revenue=200.0, conversion_minutes=21 * DAY)
    w = build([j])
    assert w.credits("first_touch")["paid_search"] == (1.0, 200.0)
    assert w.credits("last_touch")["referral"] == (1.0, 200.0)
    assert w.credits("linear")["email"] == pytest.approx((0.25, 50.0))
    pb = w.credits("position_based")
    assert [pb[t][0] for t in ("paid_search", "email", "website", "referral")] == pytest.approx([0.4, 0.1, 0.1, 0.4])
    td = w.credits("time_decay")
    weights = [1 / 8, 1 / 4, 1 / 2, 1]  # 2^(-21/7), 2^(-14/7), 2^(-7/7), 2^0
    expected = [x / sum(weights) for x in weights]
    assert [td[t][0] for t in ("paid_search", "email", "website", "referral")] == pytest.approx(expected)
    assert td["referral"][1] == pytest.approx(200 * 8 / 15)


@pytest.mark.parametrize(("n", "expected"), [
    (1, [1.0]),
    (2, [0.5, 0.5]),
    (3, [0.4, 0.2, 0.4]),
    (5, [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]),
])
def test_position_based_40_20_40(n: int, expected: list[float]) -> None:
    tps = ["paid_search", "email", "website", "referral", "display"][:n]
    w = build([J([E(tp, i) for i, tp in enumerate(tps)], revenue=10.0)])
    pb = w.credits("position_based")
    assert [pb[tp][0] for tp in tps] == pytest.approx(expected)


def test_markov_matches_hand_solved_chain() -> None:
    # start -> direct | email | paid_search (1/3 each); direct -> conv; email -> conv | website;
    # paid_search -> website; website -> null | email.  x_email = 1/2 + x_website / 2,
    # x_website = x_email / 2  =>  x_email = 2/3, x_website = 1/3, P = (1 + 2/3 + 1/3) / 3 = 2/3.
    transitions = [
        ("(start)", "direct", 1), ("(start)", "email", 1), ("(start)", "paid_search", 1),
        ("direct", "(conversion)", 1), ("email", "(conversion)", 1), ("email", "website", 1),
        ("paid_search", "website", 1), ("website", "(null)", 1), ("website", "email", 1),
    ]
    p, effects = markov_removal_effects(transitions)
    assert p == pytest.approx(2 / 3)
    assert conversion_probability(transitions, removed="direct") == pytest.approx(1 / 3)
    assert effects == pytest.approx({"direct": 0.5, "email": 0.5, "website": 0.25, "paid_search": 1 / 6})


def test_markov_with_nothing_converting_credits_nothing() -> None:
    w = build([J([E("website", 0)]), J([E("email", 0), E("website", 5)])])
    assert all(c == (0.0, 0.0) for c in w.credits("markov").values())
    assert attribution_discrepancies(w.con) == []


def test_shapley_hand_computed_three_touchpoints() -> None:
    # sets {A}: 10 conversions, {A,B}: 6, {B,C}: 4, {A,B,C}: 3 (revenue = 100 x conversions)
    # v(A)=10 v(B)=0 v(C)=0 v(AB)=16 v(AC)=10 v(BC)=4 v(ABC)=23; with weights 1/3, 1/6, 1/6, 1/3:
    # phi_A = 10/3 + (16-0)/6 + (10-0)/6 + (23-4)/3  = 14
    # phi_B =  0/3 + (16-10)/6 + (4-0)/6 + (23-10)/3 = 6
    # phi_C =  0/3 + (10-10)/6 + (4-0)/6 + (23-16)/3 = 3
    sets = [(("A",), 10.0, 1000.0), (("A", "B"), 6.0, 600.0), (("B", "C"), 4.0, 400.0), (("A", "B", "C"), 3.0, 300.0)]
    values = shapley_values(sets)
    assert {p: v[0] for p, v in values.items()} == pytest.approx({"A": 14.0, "B": 6.0, "C": 3.0})
    assert {p: v[1] for p, v in values.items()} == pytest.approx({"A": 1400.0, "B": 600.0, "C": 300.0})


def test_shapley_efficiency_symmetry_and_dummy() -> None:
    # B and C are interchangeable; D is in no set (a dummy player)
    sets = [(("A", "B"), 5.0, 50.0), (("A", "C"), 5.0, 50.0), (("B",), 2.0, 7.0), (("C",), 2.0, 7.0), (("A",), 1.0, 3.0)]
    values = shapley_values(sets, players=["A", "B", "C", "D"])
    assert values["B"] == pytest.approx(values["C"])
    assert values["D"] == (0.0, 0.0)
    assert sum(v[0] for v in values.values()) == pytest.approx(15.0)
    assert sum(v[1] for v in values.values()) == pytest.approx(117.0)


def test_shapley_cap_merges_the_rarest_into_other() -> None:
    sets = [(("A",), 10.0, 10.0), (("A", "B"), 5.0, 5.0), (("C",), 2.0, 2.0), (("D", "B"), 1.0, 1.0), (("E",), 1.0, 1.0)]
    capped, players, merged = merge_rare_touchpoints(sets, 3)
    assert players == sorted(["A", "B", OTHER])
    assert merged == ["C", "D", "E"]
    assert sorted(capped) == sorted([(("A",), 10.0, 10.0), (("A", "B"), 5.0, 5.0), ((OTHER,), 3.0, 3.0),
                                     (("(other)", "B"), 1.0, 1.0)])
    credits, _ = shapley_credits(sets, 3)
    assert math.fsum(c.conversions for c in credits) == pytest.approx(19.0)
    assert {c.touchpoint: c.n_converting_journeys for c in credits} == {"A": 15, "B": 6, OTHER: 4}


def test_shapley_cap_in_the_table() -> None:
    tps = ["paid_search", "email", "website", "referral", "display"]
    journeys = [J([E(tp, 0)], revenue=float(i + 1)) for i, tp in enumerate(tps) for _ in range(i + 1)]
    w = build(journeys, shapley_max_touchpoints=3)
    shapley = w.credits("shapley")
    assert set(shapley) == {"display", "referral", OTHER}
    assert shapley[OTHER][0] == pytest.approx(1 + 2 + 3)
    assert attribution_discrepancies(w.con) == []


def test_every_model_present_with_documented_columns() -> None:
    w = build([J([E("paid_search", 0), E("email", 5)], revenue=30.0), J([E("website", 0)])])
    models = {m for m, in w.con.execute("select distinct model from marts.attribution").fetchall()}
    assert models == set(MODELS)
    for relation in ("marts.attribution", "intermediate.attribution_touches", "intermediate.attribution_transitions",
                     "intermediate.attribution_touch_sets", "intermediate.attribution_model_credits"):
        columns = [d[0] for d in w.con.execute(f"select * from {relation} limit 0").description]
        doc = table_doc(relation)
        assert doc is not None and str(doc["description"]).startswith("One row per"), relation
        assert set(columns) == set(doc["columns"]), relation
    shares = w.con.execute("select model, sum(share) from marts.attribution group by model").fetchall()
    assert all(s == pytest.approx(1.0) for _, s in shares)


def test_empty_warehouse_builds_empty_credits() -> None:
    w = build([])
    assert w.con.execute("select count(*) from marts.attribution").fetchall() == [(0,)]
    assert attribution_discrepancies(w.con) == []


# --------------------------------------------------------------------------- properties

SHARED_CON = duckdb.connect()
TOUCHPOINTS = ["paid_search", "email", "website", "direct", "referral", "crm", "unclassified"]


@st.composite
def journey_sets(draw: st.DrawFn) -> list[J]:
    n = draw(st.integers(1, 12))
    out = []
    for i in range(n):
        k = draw(st.integers(0 if i % 3 == 0 else 1, 5))
        minutes = sorted(draw(st.lists(st.integers(0, 45 * DAY), min_size=k, max_size=k)))
        events = []
        for m in minutes:
            tp = draw(st.sampled_from(TOUCHPOINTS))
            events.append(E(tp, m, "back" if tp == "crm" else "front"))
        converted = draw(st.booleans()) or not events
        revenue = draw(st.one_of(st.just(0.0), st.floats(1, 10_000, allow_nan=False))) if converted else None
        out.append(J(events, revenue=revenue, customer_id=f"c{i}"))
    return out


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys=journey_sets())
def test_every_model_matches_the_brute_force_reference(journeys: list[J]) -> None:
    # table comments are checked in test_every_model_present_with_documented_columns; skipping
    # them here makes each example three times faster
    with mock.patch("transforms.warehouse.apply_comments"):
        w = build(journeys, SHARED_CON, exclude_touchpoints=["direct"])
    assert attribution_discrepancies(w.con) == []
    expected = reference(journeys)
    for model in MODELS:
        assert_credits_equal(w.credits(model), expected[model], model)


@settings(max_examples=examples(80), deadline=None)
@given(paths=st.lists(
    st.tuples(st.lists(st.sampled_from("ABCD"), min_size=1, max_size=6), st.booleans()), min_size=1, max_size=15,
))
def test_markov_removal_effects_match_fixed_point_iteration(paths: list[tuple[list[str], bool]]) -> None:
    collapsed = [([k for k, _ in itertools.groupby(tps)], conv) for tps, conv in paths]
    chain = ref_chain(collapsed)
    transitions = [(a, b, n) for a, outs in chain.items() for b, n in outs.items()]
    p, effects = markov_removal_effects(transitions)
    p_ref = ref_absorption(chain)
    assert p == pytest.approx(p_ref, abs=1e-12)
    for s, e in effects.items():
        expected = 1 - ref_absorption(chain, s) / p_ref if p_ref > 0 else 0.0
        assert e == pytest.approx(expected, abs=1e-9), s


@settings(max_examples=examples(80), deadline=None)
@given(sets=st.lists(
    st.tuples(st.sets(st.sampled_from("ABCDE"), min_size=1), st.integers(1, 20), st.floats(0, 1e5, allow_nan=False)),
    min_size=1, max_size=10,
))
def test_shapley_enumeration_matches_orderings_and_is_efficient(sets: list[tuple[set[str], int, float]]) -> None:
    rows = [(tuple(sorted(s)), float(n), r) for s, n, r in sets]
    players = sorted({p for s, _, _ in sets for p in s})
    values = shapley_values(rows, players)
    ref = ref_shapley([(frozenset(s), float(n)) for s, n, _ in sets], players)
    ref_rev = ref_shapley([(frozenset(s), r) for s, _, r in sets], players)
    for p in players:
        assert values[p][0] == pytest.approx(ref[p], rel=1e-9, abs=1e-9)
        assert values[p][1] == pytest.approx(ref_rev[p], rel=1e-9, abs=1e-6)
    assert math.fsum(v[0] for v in values.values()) == pytest.approx(sum(n for _, n, _ in sets), rel=1e-12)
    # the subset game gives each set's value equally to its members
    closed = Counter()
    for s, n, _ in sets:
        for p in s:
            closed[p] += n / len(s)
    assert {p: v[0] for p, v in values.items()} == pytest.approx(dict(closed))
