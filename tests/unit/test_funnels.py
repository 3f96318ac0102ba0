"""Funnels: a brute-force reference that enumerates every attempt, compared with the SQL on
hypothesis timelines for each mode; and the known cases from PostHog's and Amplitude's docs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.conftest import examples
from tests.unit.builders import configured, offending
from transforms.config import FunnelConfig, parse_duration
from transforms.funnels import FunnelError
from transforms.models import build_models

BASE = datetime(2025, 3, 3)  # a Monday
MIN_US = 60_000_000


# the check files of marts.funnel_dropoff (sql/checks/marts/funnel_dropoff/), run by the check runner
def check_entered_never_increases(con):
    return offending(con, "marts.funnel_dropoff/entered_never_increases")


def check_counts_balance(con):
    return offending(con, "marts.funnel_dropoff/counts_balance")


def check_all_equals_sum(con):
    return offending(con, "marts.funnel_dropoff/all_row_equals_sum_of_values")

JOURNEY_EVENTS_DDL = """
create table marts.journey_events (
    event_id varchar, customer_id varchar, occurred_at timestamp, source varchar, source_rank integer,
    event_name varchar, touchpoint varchar, channel_group varchar, stage varchar, phase varchar,
    phase_order integer, rule_id varchar, is_conversion boolean, revenue double, sentiment double,
    csat double, satisfaction varchar, device varchar, channel varchar, url varchar, url_path varchar,
    referrer varchar, utm_source varchar, utm_medium varchar, utm_campaign varchar, text varchar,
    properties json, persona varchar, journey_id varchar, journey_number integer, step_index integer
)
"""


@dataclass(frozen=True)
class Ev:
    event_id: str
    customer_id: str
    journey_id: str
    minute: int
    name: str
    source_rank: int = 1
    device: str | None = None
    source: str = "clickstream"
    phase: str = "interest"
    touchpoint: str = "website"

    @property
    def t(self) -> int:
        return self.minute * MIN_US


def warehouse(events: list[Ev]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("set threads = 1")  # tiny inputs: one thread is fastest
    con.execute("create schema marts")
    con.execute("create schema intermediate")
    con.execute(JOURNEY_EVENTS_DDL)
    if events:
        rows = [
            {"event_id": e.event_id, "customer_id": e.customer_id, "journey_id": e.journey_id,
             "occurred_at": BASE + timedelta(minutes=e.minute), "source": e.source, "source_rank": e.source_rank,
             "event_name": e.name, "device": e.device, "phase": e.phase, "touchpoint": e.touchpoint,
             "persona": "p_" + e.customer_id}
            for e in events
        ]
        con.execute("insert into marts.journey_events by name select unnest($rows, recursive := true)", {"rows": rows})
        # numbered as the mart numbers them: journeys in id order, steps in time order
        con.execute(
            """
            update marts.journey_events as e
            set journey_number = n.journey_number, step_index = n.step_index
            from (
                select
                    event_id,
                    dense_rank() over (partition by customer_id order by journey_id) as journey_number,
                    row_number() over (partition by journey_id order by occurred_at, source_rank, event_id) as step_index
                from marts.journey_events
            ) as n
            where e.event_id = n.event_id
            """
        )
    return con


def timeline(spec: str, customer: str = "c1", start: int = 0) -> list[Ev]:
    """'A@0 A@30 B@45' -> events of one customer (minutes), ids in order of the spec."""
    out = []
    for i, item in enumerate(spec.split()):
        name, minute = item.split("@")
        out.append(Ev(f"{customer}:{start + i:03d}", customer, f"{customer}-001", int(minute), name))
    return out


def steps(*names: str) -> list[dict]:
    return [{"event": {"event_name": n}} for n in names]


def funnel(name="f", step_names=("A", "B", "C"), **kw) -> FunnelConfig:
    return FunnelConfig(name=name, steps=steps(*step_names), **kw)


def attempts(con) -> dict[tuple[str, str], tuple]:
    rows = con.execute(
        "select funnel, unit_id, furthest_step, "
        "case when furthest_step = n_steps then 'converted' when open_until_at > as_of then 'in_window' "
        "else 'dropped' end, is_excluded, "
        "list_transform(step_at, lambda t: case when t is null then null else (epoch_us(t) - $base) // 60000000 end) "
        "from intermediate.funnel_attempts join intermediate.funnel_definitions using (funnel)",
        {"base": int((BASE - datetime(1970, 1, 1)).total_seconds() * 1_000_000)},
    ).fetchall()
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in rows}


def dropoff(con, name="f", breakdown="all", value="all") -> list[tuple]:
    return con.execute(
        "select step_index, entered, reached_next, dropped, in_window from marts.funnel_dropoff "
        "where funnel = $f and breakdown = $b and breakdown_value = $v order by step_index",
        {"f": name, "b": breakdown, "v": value},
    ).fetchall()


FUNNEL_TABLES = ("intermediate.funnel_definitions", "intermediate.funnel_breakdown_groups", "marts.funnel_customers",
                 "marts.funnel_dropoff", "marts.funnel_trends", "marts.funnel_step_trends")


def build_funnel_marts(con: duckdb.DuckDBPyConnection, funnels: list[FunnelConfig]) -> None:
    """Every funnel table from the marts.journey_events in `con`, as the assets build them."""
    build_models(con, configured(funnels=funnels), FUNNEL_TABLES, with_upstream=False)


def run(events: list[Ev], *funnels: FunnelConfig) -> duckdb.DuckDBPyConnection:
    con = warehouse(events)
    build_funnel_marts(con, list(funnels))
    assert check_entered_never_increases(con) == []
    assert check_counts_balance(con) == []
    assert check_all_equals_sum(con) == []
    return con


# --------------------------------------------------------------------------- the brute-force reference


def _matches(ev: Ev, globs) -> bool:
    return ev.name in ([globs] if isinstance(globs, str) else globs)


def _step_globs(f: FunnelConfig) -> list:
    return [s.event.event_name for s in f.steps]


def _mask(ev: Ev, f: FunnelConfig) -> int:
    m = sum(1 << i for i, g in enumerate(_step_globs(f)) if _matches(ev, g))
    x = sum(1 << i for i, e in enumerate(f.exclusions) if _matches(ev, e.event.event_name))
    return m | (x << 16)


def _us(d: str | None) -> int | None:
    return None if d is None else int(parse_duration(d) * 1_000_000)


def _max_matching(events: list[Ev], globs: list) -> int:
    """Largest number of steps that distinct events can match (tries every assignment)."""
    best = 0

    def go(k: int, used: frozenset, n: int) -> None:
        nonlocal best
        best = max(best, n)
        if k == len(globs):
            return
        go(k + 1, used, n)
        for e in events:
            if e.event_id not in used and _matches(e, globs[k]):
                go(k + 1, used | {e.event_id}, n + 1)

    go(0, frozenset(), 0)
    return best


def reference(events: list[Ev], f: FunnelConfig, as_of: int, can_start=lambda e: True) -> dict[str, dict]:
    """unit -> furthest step, status, step minutes, excluded, breakdown value: every attempt
    enumerated, then the DESIGN rules applied plainly. Only events for which `can_start` holds
    start attempts (step trends: the events of one week)."""
    n, w = len(f.steps), _us(f.window)
    globs = _step_globs(f)
    units: dict[str, list[Ev]] = {}
    for e in events:
        units.setdefault(e.customer_id if f.unit == "customer" else e.journey_id, []).append(e)
    out = {}
    for unit, evs in units.items():
        evs = sorted(evs, key=lambda e: (e.t, e.source_rank, e.event_id))
        if f.mode == "any_order":
            chain = _any_order_attempt(evs, globs, w, can_start)
        else:
            chain = _ordered_attempt(evs, f, globs, w, can_start)
        if chain is None:
            continue
        furthest = chain[-1][0]
        start = chain[0][1]
        ids = {e.event_id for _, e in chain}
        excluded = False
        for ex in f.exclusions:
            fr, to = ex.from_step, ex.to_step or n
            if furthest < fr:
                continue
            from_t = [e.t for k, e in chain if k <= fr][-1]
            later = [e.t for k, e in chain if k >= to]
            to_t = later[0] if later else start.t + w
            if any(_matches(x, ex.event.event_name) and x.event_id not in ids and from_t <= x.t <= to_t for x in evs):
                excluded = True
        if furthest == n:
            status = "converted"
        elif start.t + w > as_of and (f.mode != "strict" or max(e.t for e in evs) <= chain[-1][1].t):
            status = "in_window"
        else:
            status = "dropped"
        times = [None] * n
        for k, e in chain:
            times[k - 1] = e.minute
        values = [e.device for _, e in chain if e.device is not None]
        attribution = f.breakdown_attribution
        if attribution == "first_touch":
            value = values[0] if values else None
        elif attribution == "last_touch":
            value = values[-1] if values else None
        else:
            at = [e.device for k, e in chain if k == int(attribution[5:])]
            value = at[0] if at else None
        out[unit] = {"furthest": furthest, "status": status, "times": times, "excluded": excluded,
                     "device": value if value is not None else "(none)"}
    return out


def _ordered_attempt(evs: list[Ev], f: FunnelConfig, globs: list, w: int, can_start):
    n, strict = len(f.steps), f.mode == "strict"
    chains = []

    def strict_ok(chain, x) -> bool:
        ids = {e.event_id for _, e in chain} | {x.event_id}
        t0 = chain[0][1].t
        return not any(t0 < y.t < x.t and y.event_id not in ids for y in evs)

    def extend(chain) -> None:
        chains.append(chain)
        last_step, last = chain[-1]
        start = chain[0][1]
        used = {e.event_id for _, e in chain}
        for k in range(last_step + 1, n + 1):
            lo, hi = _us(f.steps[k - 1].min_gap) or 0, _us(f.steps[k - 1].max_gap)
            for x in evs:
                if x.event_id in used or not _matches(x, globs[k - 1]):
                    continue
                if x.t < last.t or x.t - start.t > w:
                    continue
                if x.t - last.t < lo or (hi is not None and x.t - last.t > hi):
                    continue
                if strict and not strict_ok(chain, x):
                    continue
                extend([*chain, (k, x)])
            if not f.steps[k - 1].optional:
                break

    for s in evs:
        if _matches(s, globs[0]) and can_start(s):
            extend([(1, s)])
    if not chains:
        return None
    furthest = max(c[-1][0] for c in chains)
    cands = [c for c in chains if c[-1][0] == furthest]
    # the first to arrive at the furthest step, then the latest start that reaches it (PostHog's UDF)
    first = min(c[-1][1].t for c in cands)
    cands = [c for c in cands if c[-1][1].t == first]

    def start_key(c):
        return (c[0][1].t, _mask(c[0][1], f))

    best = max(start_key(c) for c in cands)
    cands = [c for c in cands if start_key(c) == best]

    def reverse_keys(c):
        keys = []
        for i, (k, e) in enumerate(c):
            used = sorted(_mask(e2, f) for _, e2 in c[: i + 1] if e2.t == e.t)
            keys.append((-k, e.t, _mask(e, f), used))
        return keys[::-1]

    return min(cands, key=reverse_keys)


def _any_order_attempt(evs: list[Ev], globs: list, w: int, can_start):
    step_events = [e for e in evs if any(_matches(e, g) for g in globs)]
    if not any(can_start(s) for s in step_events):
        return None
    windows = []
    for s in [s for s in step_events if can_start(s)]:
        window = [e for e in step_events if s.t <= e.t <= s.t + w]
        chain, size = [], 0
        for i in range(len(window)):
            now = _max_matching(window[: i + 1], globs)
            if now > size:
                chain.append((now, window[i]))
                size = now
        windows.append((size, chain[-1][1].t, s.t, chain))
    # the most steps; the first to arrive there; for that arrival the latest start
    furthest = max(x[0] for x in windows)
    arrival = min(x[1] for x in windows if x[0] == furthest)
    return max((x for x in windows if x[0] == furthest and x[1] == arrival), key=lambda x: x[2])[3]


# --------------------------------------------------------------------------- hypothesis

NAMES = "ABCX"
_glob = st.one_of(st.sampled_from("ABC"), st.lists(st.sampled_from("ABC"), min_size=2, max_size=2, unique=True))


@st.composite
def timelines(draw) -> list[Ev]:
    events = []
    for c in range(draw(st.integers(1, 6))):
        k = draw(st.integers(1, 8))
        minutes = sorted(draw(st.lists(st.integers(0, 12), min_size=k, max_size=k)))
        names = draw(st.lists(st.sampled_from(NAMES), min_size=k, max_size=k))
        ranks = draw(st.lists(st.integers(1, 2), min_size=k, max_size=k))
        cut = draw(st.integers(0, k))  # events from `cut` on belong to the customer's second journey
        for i in range(k):
            minute = minutes[i] * 10
            events.append(Ev(
                event_id=f"e{draw(st.integers(0, 999)):03d}-{c}{i}", customer_id=f"c{c}",
                journey_id=f"c{c}-{1 if i < cut else 2:03d}", minute=minute, name=names[i],
                source_rank=ranks[i], device=[None, "web", "ios"][(ord(names[i]) + minute // 10) % 3],
            ))
    return events


@st.composite
def funnels(draw, mode: str) -> FunnelConfig:
    n = draw(st.integers(2, 4))
    step_list = []
    for i in range(n):
        s: dict = {"event": {"event_name": draw(_glob)}}
        if mode != "any_order" and i > 0:
            if i < n - 1 and draw(st.booleans()):
                s["optional"] = True
            lo = draw(st.sampled_from([None, "0m", "10m"]))
            hi = draw(st.sampled_from([None, "0m", "10m", "30m"]))
            if lo is not None and hi is not None and parse_duration(hi) < parse_duration(lo):
                hi = None
            if lo is not None:
                s["min_gap"] = lo
            if hi is not None:
                s["max_gap"] = hi
        step_list.append(s)
    exclusions = []
    if draw(st.booleans()):
        fr = draw(st.integers(1, n - 1))
        to = draw(st.one_of(st.none(), st.integers(fr + 1, n)))
        exclusions.append({"event": {"event_name": draw(st.sampled_from(["X", "C"]))}, "from_step": fr, "to_step": to})
    return FunnelConfig(
        name=f"f_{mode}", steps=step_list, mode=mode, exclusions=exclusions,
        window=draw(st.sampled_from(["20m", "40m", "60m"])), unit=draw(st.sampled_from(["customer", "journey"])),
        breakdowns=["device"],
        breakdown_attribution=draw(st.sampled_from(["first_touch", "last_touch", "step_1", "step_2"])),
    )


def _compare(con, events: list[Ev], f: FunnelConfig) -> None:
    as_of = max(e.t for e in events)
    expected = reference(events, f, as_of)
    got = {unit: v for (name, unit), v in attempts(con).items() if name == f.name}
    assert set(got) == set(expected), f"units differ for {f}"
    for unit, exp in expected.items():
        furthest, status, excluded, times = got[unit]
        assert (furthest, status, excluded, times) == (exp["furthest"], exp["status"], exp["excluded"], exp["times"]), (
            f"{f.name} unit {unit}: got {(furthest, status, excluded, times)}, expected {exp}\n{f}"
        )
    values = dict(con.execute(
        "select unit_id, breakdown_value from intermediate.funnel_breakdown_values where funnel = $f", {"f": f.name}
    ).fetchall())
    assert values == {u: e["device"] for u, e in expected.items()}
    kept = [e for e in expected.values() if not e["excluded"]]
    n = len(f.steps)
    rows = []
    for i in range(1, n + 1):
        entered = sum(e["furthest"] >= i for e in kept)
        nxt = sum(e["furthest"] > i for e in kept) if i < n else entered
        rows.append((i, entered, nxt, sum(e["furthest"] == i and e["status"] == "dropped" for e in kept),
                     sum(e["furthest"] == i and e["status"] == "in_window" for e in kept)))
    assert dropoff(con, f.name) == rows


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=timelines(), ordered=funnels("ordered"), strict=funnels("strict"), any_order=funnels("any_order"))
def test_sql_matches_brute_force_reference(events, ordered, strict, any_order):
    con = run(events, ordered, strict, any_order)
    for f in (ordered, strict, any_order):
        _compare(con, events, f)


def step_trends_reference(events: list[Ev], f: FunnelConfig, as_of: int) -> dict[tuple, tuple]:
    """(breakdown, value, week, step) -> (entered, reached_next, dropped, in_window): for every
    week, the reference run with attempts starting only in that week; every week from the first
    to the last, each unit under 'all' and its value of 'device' (its value in the funnel)."""
    unit_value = {u: r["device"] for u, r in reference(events, f, as_of).items()}
    rows: dict[tuple[str, str, int], dict] = {}
    for week in sorted({e.minute // WEEK for e in events}):
        for unit, r in reference(events, f, as_of, lambda e, week=week: e.minute // WEEK == week).items():
            if not r["excluded"]:
                rows[(unit, unit_value[unit], week)] = r
    if not rows:
        return {}
    n = len(f.steps)
    weeks = range(min(k[2] for k in rows), max(k[2] for k in rows) + 1)
    groups = {("all", "all")} | {("device", k[1]) for k in rows}
    out = {}
    for breakdown, value in groups:
        for week in weeks:
            kept = [r for (u, v, wk), r in rows.items() if wk == week and (breakdown == "all" or v == value)]
            for i in range(1, n + 1):
                entered = sum(r["furthest"] >= i for r in kept)
                nxt = sum(r["furthest"] > i for r in kept) if i < n else entered
                out[(breakdown, value, week, i)] = (
                    entered, nxt, sum(r["furthest"] == i and r["status"] == "dropped" for r in kept),
                    sum(r["furthest"] == i and r["status"] == "in_window" for r in kept))
    return out


WEEK = 7 * 24 * 60


@st.composite
def weekly_timelines(draw) -> list[Ev]:
    """Timelines over three weeks (minute 0 is a Monday), events 30 hours apart at the finest."""
    return [Ev(e.event_id, e.customer_id, e.journey_id, e.minute * 180, e.name, e.source_rank, e.device)
            for e in draw(timelines())]


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=weekly_timelines(), ordered=funnels("ordered"), strict=funnels("strict"), any_order=funnels("any_order"),
       window=st.sampled_from(["1d", "4d", "9d"]))
def test_step_trends_match_brute_force_reference(events, ordered, strict, any_order, window):
    fs = [f.model_copy(update={"window": window}) for f in (ordered, strict, any_order)]
    con = run(events, *fs)
    as_of = max(e.t for e in events)
    base_week = BASE.date()
    for f in fs:
        got = {
            (b, v, (period - base_week).days // 7, i): (entered, nxt, dropped, in_window)
            for b, v, period, i, entered, nxt, dropped, in_window in con.execute(
                "select breakdown, breakdown_value, period_start, step_index, entered, reached_next, dropped, "
                "in_window from marts.funnel_step_trends where funnel = $f", {"f": f.name}).fetchall()
        }
        assert got == step_trends_reference(events, f, as_of), f


# --------------------------------------------------------------------------- known cases


def test_most_recent_start_amplitude_posthog_example():
    # Amplitude and PostHog docs: 1-hour window, A@1:00, A@1:30, B@1:45, C@2:15 converts (from the
    # 1:30 start); the attempt from 1:00 would have run out of time at 2:15.
    con = run(timeline("A@60 A@90 B@105 C@135"), funnel(window="1h"))
    assert attempts(con)[("f", "c1")] == (3, "converted", False, [90, 105, 135])
    assert dropoff(con) == [(1, 1, 1, 0, 0), (2, 1, 1, 0, 0), (3, 1, 1, 0, 0)]


def test_conversion_window_is_measured_from_step_one():
    # PostHog docs: steps completed outside the conversion window do not count.
    con = run(timeline("A@0 B@30 C@61") + timeline("A@0 B@30 C@60", "c2"), funnel(window="1h"))
    got = attempts(con)
    assert got[("f", "c1")][:2] == (2, "dropped")
    assert got[("f", "c2")][:2] == (3, "converted")  # exactly W after the start still counts


def test_each_customer_counts_once_at_the_furthest_step():
    # Amplitude: a user who converts twice counts once.
    con = run(timeline("A@0 B@5 C@10 A@100 B@105 C@110"), funnel(window="1h"))
    assert dropoff(con) == [(1, 1, 1, 0, 0), (2, 1, 1, 0, 0), (3, 1, 1, 0, 0)]
    # the first attempt to reach the furthest step is counted (PostHog's UDF; was the most recent
    # start, [100, 105, 110], before issue 17)
    assert attempts(con)[("f", "c1")][3] == [0, 5, 10]


def test_first_arrival_at_the_furthest_step_then_its_latest_start():
    # issue 17: A@0 B@1 A@10 B@20 gives PostHog a 1 s conversion (the first arrival at step 2);
    # for that arrival, the latest start that reaches it: A@1 B@2 (A@0 A@1 B@2) counts from A@1
    f = funnel(step_names=("A", "B"), window="1h")
    con = run(timeline("A@0 B@1 A@10 B@20") + timeline("A@0 A@1 B@2 A@3 B@4", "c2"), f)
    got = attempts(con)
    assert got[("f", "c1")] == (2, "converted", False, [0, 1])
    assert got[("f", "c2")] == (2, "converted", False, [1, 2])


def test_posthog_funnel_exclusion_multiple_possible_no_end_event2():
    # PostHog posthog/hogql_queries/insights/funnels/test/test_funnel.py,
    # test_funnel_exclusion_multiple_possible_no_end_event2: window 10 s, steps "step one" ->
    # "step two", exclusion between steps 0 and 1 (PostHog's 0-based steps: 1 to 2 here);
    # step one @0 s, step one @31 s, exclusion @32 s. PostHog: counts 1, 0. The first attempt to
    # reach step 1 (@0 s) has its window closed at 10 s, before the exclusion.
    f = FunnelConfig(name="f", window="10s", steps=steps("step one", "step two"),
                     exclusions=[{"event": {"event_name": "exclusion"}, "from_step": 1, "to_step": 2}])
    base = BASE.replace(second=0)
    events = [Ev(f"u1:{i}", "user_one", "user_one-001", 0, name) for i, name in
              enumerate(("step one", "step one", "exclusion"))]
    con = warehouse(events)
    for (i, second) in enumerate((0, 31, 32)):
        con.execute("update marts.journey_events set occurred_at = $t where event_id = $e",
                    {"t": base + timedelta(seconds=second), "e": f"u1:{i}"})
    build_funnel_marts(con, [f])
    assert [r[1] for r in dropoff(con)] == [1, 0]
    assert attempts(con)[("f", "user_one")][:3] == (1, "dropped", False)


def test_posthog_basic_unordered_funnel_conversion_times():
    # PostHog test_funnel_unordered.py, test_basic_unordered_funnel_conversion_times: any order,
    # steps "user signed up", "$pageview", "insight viewed", window 1 day. PostHog's UDF takes the
    # first conversion: average conversion time 5,400 s to step 2 and 7,200 s to step 3.
    hour = 60
    day = 24 * hour
    people = {
        "stopped_after_signup1": [("user signed up", day)],
        "stopped_after_pageview1": [("$pageview", day), ("user signed up", day + hour)],
        "stopped_after_insightview": [
            ("insight viewed", day), ("user signed up", day + 2 * hour), ("$pageview", day + 4 * hour),
            ("$pageview", 2 * day), ("insight viewed", 2 * day + 3 * hour), ("user signed up", 2 * day + 6 * hour),
        ],
    }
    events = [Ev(f"{p}:{i}", p, f"{p}-001", minute, name)
              for p, evs in people.items() for i, (name, minute) in enumerate(evs)]
    f = funnel("unordered", ("user signed up", "$pageview", "insight viewed"), mode="any_order", window="1d")
    con = run(events, f)
    assert [r[1] for r in dropoff(con, "unordered")] == [3, 2, 1]
    # PostHog's average_conversion_time of step i: the mean, over the people who reached step i, of
    # the seconds from step i-1 to step i (person 2: 1 h; person 3's first conversion: 2 h and 2 h)
    averages = con.execute(
        "select avg(epoch(step_at[2] - step_at[1])), avg(epoch(step_at[3] - step_at[2])) "
        "from marts.funnel_customers where funnel = 'unordered'").fetchall()[0]
    assert averages == (5400, 7200)  # the most recent start gave 7,200 and 10,800
    assert attempts(con)[("unordered", "stopped_after_insightview")][3] == [day, day + 2 * hour, day + 4 * hour]


def test_repeated_steps_need_distinct_events():
    f = funnel(step_names=("A", "A", "B"))
    con = run(timeline("A@0 B@5") + timeline("A@0 A@1 B@5", "c2") + timeline("A@0 A@0 B@0", "c3"), f)
    got = attempts(con)
    assert got[("f", "c1")][0] == 1
    assert got[("f", "c2")][:2] == (3, "converted")
    assert got[("f", "c3")][:2] == (3, "converted")  # equal timestamps taken in step order


def test_equal_timestamps_are_taken_in_step_order():
    # B sorts before A in (source_rank, event_id) order, but a tie never blocks the funnel.
    events = [Ev("c1:1", "c1", "c1-001", 0, "B"), Ev("c1:2", "c1", "c1-001", 0, "A")]
    con = run(events, funnel(step_names=("A", "B")))
    assert attempts(con)[("f", "c1")][:2] == (2, "converted")


def test_later_events_of_a_step_reached_from_the_same_start_change_nothing():
    # B@20 and B@30 are reached from the same start as B@10, which comes first: the programme
    # leaves them out; a step-1 event between them (A@25) starts an attempt that is kept
    events, f = timeline("A@0 B@10 B@20 A@25 B@30 B@40 C@50"), funnel(window="1h")
    assert attempts(run(events, f))[("f", "c1")] == (3, "converted", False, [25, 30, 50])
    assert reference(events, f, as_of=50 * MIN_US)["c1"]["times"] == [25, 30, 50]


def test_a_later_step_event_at_the_instant_of_the_next_step_is_kept():
    # B@20 is reached from the same start as B@10, but C@20 shares its instant: the attempt that
    # takes B and C at 20 comes first (events with equal timestamps are taken in step order)
    events = timeline("A@0 B@10 B@20 C@20")
    assert attempts(run(events, funnel()))[("f", "c1")] == (3, "converted", False, [0, 20, 20])
    assert reference(events, funnel(), as_of=20 * MIN_US)["c1"]["times"] == [0, 20, 20]


def test_strict_order_breaks_on_any_other_event():
    # Amplitude's "exact order" / PostHog's "strict": A, X, B does not convert; A, B does.
    f_strict = funnel("strict", ("A", "B"), mode="strict")
    f_ordered = funnel("ordered", ("A", "B"))
    con = run(timeline("A@0 X@1 B@2") + timeline("A@0 B@2 X@3", "c2"), f_strict, f_ordered)
    got = attempts(con)
    assert got[("strict", "c1")][0] == 1
    assert got[("ordered", "c1")][0] == 2
    assert got[("strict", "c2")][0] == 2


def test_strict_attempt_restarts_at_a_later_step_one():
    con = run(timeline("A@0 X@1 A@2 B@3"), funnel("s", ("A", "B"), mode="strict"))
    assert attempts(con)[("s", "c1")] == (2, "converted", False, [2, 3])


def test_any_order():
    # PostHog docs: with any order, B then A converts a two-step A, B funnel.
    f_any = funnel("any", ("A", "B"), mode="any_order")
    f_ordered = funnel("ordered", ("A", "B"))
    con = run(timeline("B@0 A@5"), f_any, f_ordered)
    got = attempts(con)
    assert got[("any", "c1")] == (2, "converted", False, [0, 5])
    assert got[("ordered", "c1")][0] == 1


def test_any_order_counts_each_event_once():
    f_any = FunnelConfig(name="any", mode="any_order", steps=[{"event": {"event_name": ["A", "B"]}},
                                                               {"event": {"event_name": "A"}}])
    con = run(timeline("A@0") + timeline("B@0 A@1", "c2"), f_any)
    got = attempts(con)
    assert got[("any", "c1")][0] == 1
    assert got[("any", "c2")][0] == 2  # B takes the first step, A the second


def test_exclusion_between_steps_removes_the_customer():
    # PostHog docs: users who perform the exclusion event between the steps are excluded.
    f = funnel(step_names=("A", "B"), exclusions=[{"event": {"event_name": "X"}}])
    con = run(timeline("A@0 X@1 B@2") + timeline("A@0 B@2 X@3", "c2") + timeline("A@0 X@1", "c3"), f)
    got = attempts(con)
    assert got[("f", "c1")][2] is True
    assert got[("f", "c2")][2] is False
    assert got[("f", "c3")][2] is True  # still inside the open attempt's window
    assert dropoff(con) == [(1, 1, 1, 0, 0), (2, 1, 1, 0, 0)]
    assert con.execute("select unit_id from marts.funnel_customers").fetchall() == [("c2",)]


def test_exclusion_from_a_later_step():
    f = funnel(exclusions=[{"event": {"event_name": "X"}, "from_step": 2, "to_step": 3}])
    con = run(timeline("A@0 X@1 B@2 C@3") + timeline("A@0 B@2 X@3 C@4", "c2"), f)
    got = attempts(con)
    assert got[("f", "c1")][2] is False
    assert got[("f", "c2")][2] is True


def test_optional_step_may_be_skipped():
    f = FunnelConfig(name="f", steps=[{"event": {"event_name": "A"}},
                                      {"event": {"event_name": "B"}, "optional": True},
                                      {"event": {"event_name": "C"}}])
    con = run(timeline("A@0 C@5") + timeline("A@0 B@2 C@5", "c2") + timeline("A@0 B@2", "c3"), f)
    got = attempts(con)
    assert got[("f", "c1")][:2] == (3, "converted") and got[("f", "c1")][3] == [0, None, 5]
    assert got[("f", "c2")][3] == [0, 2, 5]
    assert got[("f", "c3")][0] == 2
    # entered(2) counts c1, who skipped the optional step but went further
    assert dropoff(con) == [(1, 3, 3, 0, 0), (2, 3, 2, 0, 1), (3, 2, 2, 0, 0)]


def test_min_and_max_gaps_from_the_previous_step():
    f = FunnelConfig(name="f", window="1d", steps=[{"event": {"event_name": "A"}},
                                                   {"event": {"event_name": "B"}, "min_gap": "10m", "max_gap": "30m"}])
    con = run(timeline("A@0 B@5") + timeline("A@0 B@40", "c2") + timeline("A@0 B@20", "c3")
              + timeline("A@0 B@5 A@15 B@30", "c4"), f)
    got = attempts(con)
    assert [got[("f", c)][0] for c in ("c1", "c2", "c3", "c4")] == [1, 1, 2, 2]
    assert got[("f", "c4")][3] == [15, 30]  # the most recent start that reaches step 2


def test_max_gap_needs_the_right_intermediate_event():
    # Taking the earliest B would leave C too far away: the later B keeps the attempt alive.
    f = FunnelConfig(name="f", window="1d", steps=[{"event": {"event_name": "A"}},
                                                   {"event": {"event_name": "B"}},
                                                   {"event": {"event_name": "C"}, "max_gap": "10m"}])
    con = run(timeline("A@0 B@1 B@50 C@55"), f)
    assert attempts(con)[("f", "c1")] == (3, "converted", False, [0, 50, 55])


def test_censoring_open_window_is_in_window_not_dropped():
    events = timeline("A@0 B@5") + timeline("A@100", "c2") + timeline("X@130", "c3")
    con = run(events, funnel(step_names=("A", "B"), window="1h"))
    got = attempts(con)
    assert got[("f", "c2")][1] == "in_window"  # its window ends at 160, the newest event is at 130
    assert dropoff(con) == [(1, 2, 1, 0, 1), (2, 1, 1, 0, 0)]
    trends = con.execute("select period_start, entered, converted, conversion_rate, period_complete "
                         "from marts.funnel_trends").fetchall()
    assert trends == [(BASE.date(), 2, 1, 0.5, False)]


def test_breakdowns_and_attribution():
    events = [
        Ev("c1:1", "c1", "c1-001", 0, "A", device="web"),
        Ev("c1:2", "c1", "c1-001", 5, "B", device="ios"),
        Ev("c2:1", "c2", "c2-001", 0, "A", device=None),
        Ev("c2:2", "c2", "c2-001", 5, "B", device="ios"),
        Ev("c3:1", "c3", "c3-001", 0, "A", device=None),
    ]
    fs = [funnel(name, ("A", "B"), breakdowns=["device", "persona", "first_touchpoint", "cohort_month"],
                 breakdown_attribution=attr)
          for name, attr in (("first", "first_touch"), ("last", "last_touch"), ("step2", "step_2"))]
    con = run(events, *fs)
    values = con.execute(
        "select funnel, unit_id, breakdown_value from intermediate.funnel_breakdown_values "
        "where breakdown = 'device' order by all").fetchall()
    assert values == [
        ("first", "c1", "web"), ("first", "c2", "ios"), ("first", "c3", "(none)"),
        ("last", "c1", "ios"), ("last", "c2", "ios"), ("last", "c3", "(none)"),
        ("step2", "c1", "ios"), ("step2", "c2", "ios"), ("step2", "c3", "(none)"),
    ]
    assert dropoff(con, "first", "device", "web") == [(1, 1, 1, 0, 0), (2, 1, 1, 0, 0)]
    assert dropoff(con, "first", "cohort_month", "2025-03")[0][1] == 3
    assert dropoff(con, "first", "persona", "p_c3") == [(1, 1, 0, 0, 1), (2, 0, 0, 0, 0)]
    row = con.execute("select breakdown_values from marts.funnel_customers where funnel = 'first' and unit_id = 'c1'"
                      ).fetchall()[0][0]
    assert row == {"cohort_month": "2025-03", "device": "web", "first_touchpoint": "website", "persona": "p_c1"}


def test_breakdown_limit_groups_the_rest_as_other():
    # three devices: web (2 units), ios (1), tv (1); a limit of 2 keeps web and the first of the
    # tied by name (ios) and reports tv as 'Other'; funnel_customers keeps each unit's own value
    events = [Ev(f"{c}:1", c, f"{c}-001", 0, "A", device=d) for c, d in
              (("c1", "web"), ("c2", "web"), ("c3", "ios"), ("c4", "tv"))] + [Ev("c1:2", "c1", "c1-001", 5, "B")]
    con = run(events, funnel(step_names=("A", "B"), breakdowns=["device"], breakdown_limit=2))
    values = con.execute("select distinct breakdown_value from marts.funnel_dropoff where breakdown = 'device' "
                         "order by 1").fetchall()
    assert values == [("Other",), ("ios",), ("web",)]
    assert dropoff(con, breakdown="device", value="Other")[0][1] == 1
    assert dropoff(con, breakdown="device", value="web") == [(1, 2, 1, 0, 1), (2, 1, 1, 0, 0)]
    trend_values = con.execute("select distinct breakdown_value from marts.funnel_step_trends "
                               "where breakdown = 'device' order by 1").fetchall()
    assert trend_values == values
    assert con.execute("select breakdown_values['device'] from marts.funnel_customers where unit_id = 'c4'"
                       ).fetchall() == [("tv",)]
    # the file-wide default reaches every funnel without its own limit
    from transforms.config import FunnelsFile
    parsed = FunnelsFile(breakdown_limit=3, funnels=[{"name": "f", "steps": steps("A", "B")},
                                                     {"name": "g", "steps": steps("A", "B"), "breakdown_limit": 5}])
    assert [f.breakdown_limit for f in parsed.funnels] == [3, 5]


def test_step_trends_count_a_repeat_buyer_in_each_week_it_starts():
    # c1 converts in week 0 and again in week 2; c2 starts in week 1 and stops at step 1; the
    # empty week 3 sits between week 2 and c3's start in week 4, whose window is still open
    day = 24 * 60
    events = (timeline(f"A@{day} B@{day + 5} A@{15 * day} B@{15 * day + 5}") + timeline(f"A@{8 * day}", "c2")
              + timeline(f"A@{29 * day}", "c3"))
    con = run(events, funnel(step_names=("A", "B"), window="1d"))
    rows = con.execute("select period_start, step_index, entered, reached_next, dropped, in_window, period_complete "
                       "from marts.funnel_step_trends where breakdown = 'all' order by 1, 2").fetchall()
    week = [(BASE + timedelta(days=7 * i)).date() for i in range(5)]
    assert rows == [
        (week[0], 1, 1, 1, 0, 0, True), (week[0], 2, 1, 1, 0, 0, True),
        (week[1], 1, 1, 0, 1, 0, True), (week[1], 2, 0, 0, 0, 0, True),
        (week[2], 1, 1, 1, 0, 0, True), (week[2], 2, 1, 1, 0, 0, True),
        (week[3], 1, 0, 0, 0, 0, True), (week[3], 2, 0, 0, 0, 0, True),
        (week[4], 1, 1, 0, 0, 1, False), (week[4], 2, 0, 0, 0, 0, False),
    ]


def test_journey_unit_keeps_attempts_inside_one_journey():
    events = [
        Ev("c1:1", "c1", "c1-001", 0, "A"), Ev("c1:2", "c1", "c1-001", 5, "B"),
        Ev("c1:3", "c1", "c1-002", 10, "C"), Ev("c1:4", "c1", "c1-002", 12, "A"),
        Ev("c1:5", "c1", "c1-002", 13, "B"), Ev("c1:6", "c1", "c1-002", 14, "C"),
    ]
    con = run(events, funnel("j", unit="journey"), funnel("c"))
    got = attempts(con)
    assert got[("j", "c1-001")][0] == 2 and got[("j", "c1-002")][0] == 3
    assert got[("c", "c1")][0] == 3
    assert con.execute("select customer_id, journey_id from marts.funnel_customers where funnel = 'j' order by 2"
                       ).fetchall() == [("c1", "c1-001"), ("c1", "c1-002")]


def test_dropoff_rates_and_timings():
    events = (timeline("A@0 B@10 C@20") + timeline("A@0 B@20", "c2") + timeline("A@0", "c3")
              + timeline("X@500", "c4"))
    con = run(events, funnel(window="1h"))
    rows = con.execute(
        "select step_index, step_name, entered, dropoff_rate, conversion_from_start, median_seconds_to_next, "
        "p90_seconds_to_next from marts.funnel_dropoff where breakdown = 'all' order by step_index").fetchall()
    assert rows[0] == (1, "A", 3, pytest.approx(1 / 3), 1.0, 900.0, pytest.approx(1140.0))
    assert rows[1] == (2, "B", 2, 0.5, pytest.approx(2 / 3), 600.0, 600.0)
    assert rows[2] == (3, "C", 1, None, pytest.approx(1 / 3), None, None)


def test_trends_by_iso_week_of_entry():
    days = 24 * 60
    events = (timeline(f"A@{2 * days} B@{2 * days + 5}") + timeline(f"A@{9 * days}", "c2")
              + timeline(f"X@{30 * days}", "c3"))
    con = run(events, funnel(step_names=("A", "B"), window="1d"))
    rows = con.execute("select period_start, entered, converted, conversion_rate, period_complete "
                       "from marts.funnel_trends order by 1").fetchall()
    assert rows == [(BASE.date(), 1, 1, 1.0, True), ((BASE + timedelta(days=7)).date(), 1, 0, 0.0, True)]


def test_all_row_present_for_a_funnel_nobody_entered():
    con = run(timeline("X@0"), funnel(breakdowns=["device"]))
    assert dropoff(con) == [(1, 0, 0, 0, 0), (2, 0, 0, 0, 0), (3, 0, 0, 0, 0)]


def test_phase_and_touchpoint_steps_and_event_predicates():
    events = [
        Ev("c1:1", "c1", "c1-001", 0, "page", phase="awareness", touchpoint="paid_search"),
        Ev("c1:2", "c1", "c1-001", 1, "Product Viewed", phase="interest", touchpoint="website"),
        Ev("c1:3", "c1", "c1-001", 2, "deal_won", source="crm", phase="purchase", touchpoint="sales_call"),
    ]
    f = FunnelConfig(name="mixed", steps=[{"phase": "awareness"}, {"touchpoint": "website"},
                                          {"event": {"source": "cr?", "event_name": ["deal_*", "nothing"]}}])
    con = run(events, f)
    assert attempts(con)[("mixed", "c1")][:2] == (3, "converted")


def test_event_steps_match_as_classification_rules_do():
    """Funnel steps and exclusions go through the classification's one compiler of EventMatch
    (classify.match_conditions): case-insensitive globs, property paths, referrer hosts without
    'www.', regular expressions as written, empty fields and external referrers."""
    events = [Ev(f"c1:{i}", "c1", "c1-001", i, "page") for i in range(6)] + [Ev("c2:0", "c2", "c2-001", 0, "page")]
    con = warehouse(events)
    con.execute(
        """
        update marts.journey_events set
            url = case event_id when 'c1:5' then 'https://shop.example/x' end,
            url_path = case event_id when 'c1:0' then '/Pricing/Pro' when 'c1:3' then '/blog/42' end,
            properties = case event_id when 'c1:1' then '{"plan": {"tier": "PRO"}}' end::json,
            referrer = case event_id when 'c1:2' then 'https://www.Google.com/search'
                                     when 'c1:5' then 'https://news.example/a' end,
            utm_medium = case event_id when 'c1:2' then '' end
        """
    )
    f = FunnelConfig(name="compiled", steps=[
        {"event": {"path": "/pricing/*"}},
        {"event": {"properties": {"plan.tier": "pro"}}},
        {"event": {"referrer_host": "google.*", "empty": ["utm_medium"]}},
        {"event": {"path_regex": "^/blog/[0-9]+$"}},
        {"event": {"event_name": "PAGE", "path_regex": "^/Blog"}, "optional": True},
        {"event": {"external_referrer": True}},
    ], exclusions=[{"event": {"path": "/PRICING/pro", "source": "nothing"}}])
    build_funnel_marts(con, [f])
    got = attempts(con)
    assert got[("compiled", "c1")][:3] == (6, "converted", False)
    assert got[("compiled", "c1")][3] == [0, 1, 2, 3, None, 5]
    assert ("compiled", "c2") not in got


def test_unknown_breakdown_is_a_clear_error():
    con = warehouse(timeline("A@0"))
    with pytest.raises(FunnelError, match="unknown breakdown 'colour'"):
        build_funnel_marts(con, [funnel(breakdowns=["colour"])])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": [{"event": {"event_name": "A"}}, {"event": {"event_name": "B"}, "optional": True}]}, "last step"),
        ({"steps": [{"event": {"event_name": "A"}, "min_gap": "1m"}, {"event": {"event_name": "B"}}]}, "step 1"),
        ({"mode": "any_order", "steps": [{"event": {"event_name": "A"}}, {"event": {"event_name": "B"}, "max_gap": "1h"}]},
         "any_order"),
        ({"exclusions": [{"event": {"event_name": "X"}, "from_step": 2, "to_step": 2}]}, "from_step"),
        ({"breakdown_attribution": "step_3"}, "beyond the last"),
        ({"steps": [{"event": {"event_name": "A"}}, {"event": {"event_name": "B"}, "min_gap": "2h", "max_gap": "1h"}]},
         "max_gap"),
    ],
)
def test_invalid_funnel_configs_say_what_is_wrong(kwargs, message):
    base = {"name": "f", "steps": steps("A", "B")}
    with pytest.raises(ValidationError, match=message):
        FunnelConfig(**(base | kwargs))


def test_brute_force_reference_sanity():
    # the reference itself on the documented example, so a bug there cannot hide one in SQL
    f = funnel(window="1h")
    ref = reference(timeline("A@60 A@90 B@105 C@135"), f, 135 * MIN_US)
    assert ref["c1"]["times"] == [90, 105, 135]
    assert _max_matching(timeline("A@0 B@1"), ["A", ["A", "B"]]) == 2
