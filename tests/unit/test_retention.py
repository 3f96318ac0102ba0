"""marts.retention and marts.lifecycle (issue 18) against brute-force references written here,
and hand-worked examples of PostHog's lifecycle statuses."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.journey_marts import T0, E, build, config_with, load

MODELS = ["intermediate.return_weeks", "intermediate.customer_firsts", "marts.retention", "marts.lifecycle"]


def week(t: datetime) -> date:
    return (t - timedelta(days=t.weekday())).date()


def at(e: E) -> datetime:
    return T0 + timedelta(minutes=e.minutes)


def customer(e: E) -> str:
    return e.journey_id.split("-")[0]


def is_return(e: E, event_name: str | None) -> bool:
    return e.stage == "front" and (event_name is None or e.event_name == event_name)


def reference_retention(events: list[E], cohort_by: str, event_name: str | None, periods: int) -> set[tuple]:
    newest_at = max(at(e) for e in events)
    newest_week = week(newest_at)
    returns: dict[str, set[date]] = {}
    persona: dict[str, str] = {}
    firsts: dict[str, datetime] = {}
    for e in events:
        c = customer(e)
        persona[c] = e.persona
        if is_return(e, event_name):
            returns.setdefault(c, set()).add(week(at(e)))
        if (e.is_conversion if cohort_by == "first_purchase" else is_return(e, event_name)):
            firsts[c] = min(firsts.get(c, at(e)), at(e))
    out = set()
    for p in {*persona.values(), "all"}:
        cohorts: dict[date, list[str]] = {}
        for c, t in firsts.items():
            if p in ("all", persona[c]):
                cohorts.setdefault(week(t), []).append(c)
        for w, members in cohorts.items():
            for k in range(periods + 1):
                start = w + timedelta(days=7 * k)
                if start > newest_week:
                    continue
                kept = len(members) if k == 0 else sum(1 for c in members if start in returns.get(c, set()))
                complete = datetime.combine(start + timedelta(days=7), datetime.min.time()) <= newest_at
                out.add((w, p, k, len(members), kept, round(kept / len(members), 9), complete))
    return out


def reference_lifecycle(events: list[E], event_name: str | None) -> set[tuple]:
    newest_week = week(max(at(e) for e in events))
    active: dict[str, set[date]] = {}
    persona: dict[str, str] = {}
    for e in events:
        if is_return(e, event_name):
            active.setdefault(customer(e), set()).add(week(at(e)))
            persona[customer(e)] = e.persona
    if not active:
        return set()
    out = set()
    w = min(min(v) for v in active.values())
    while w <= newest_week:
        prev = w - timedelta(days=7)
        for p in {*persona.values(), "all"}:
            counts = dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0)
            for c, weeks in active.items():
                if p not in ("all", persona[c]):
                    continue
                if w in weeks:
                    status = "new" if min(weeks) == w else "returning" if prev in weeks else "resurrecting"
                    counts[status] += 1
                elif prev in weeks:
                    counts["dormant"] += 1
            out |= {(w, p, s, n) for s, n in counts.items()}
        w += timedelta(days=7)
    return out


def retention_rows(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    rows = con.execute("select cohort, persona, period, n_customers, n_retained, rate, period_complete "
                       "from marts.retention").fetchall()
    return {(*r[:5], round(r[5], 9), r[6]) for r in rows}


def lifecycle_rows(con: duckdb.DuckDBPyConnection) -> set[tuple]:
    return set(con.execute("select period_start, persona, status, n_customers from marts.lifecycle").fetchall())


event_st = st.builds(
    lambda c, day, minute, name, stage, persona: E(f"c{c}-001", day * 1440 + minute, name, stage=stage,
                                                   is_conversion=name == "buy", persona=f"p{c % 2}"),
    st.integers(0, 5), st.integers(0, 60), st.integers(0, 1439), st.sampled_from(["page", "buy"]),
    st.sampled_from(["front", "front", "back"]), st.none(),
)
CON = duckdb.connect()


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_st, min_size=1, max_size=25), st.sampled_from(["first_seen", "first_purchase"]),
       st.sampled_from([None, "buy"]), st.integers(1, 6))
def test_retention_and_lifecycle_match_brute_force(events, cohort, event_name, periods):
    load(CON, events)
    build(CON, config_with(cohort=cohort, return_event_name=event_name, periods=periods), MODELS)
    assert retention_rows(CON) == reference_retention(events, cohort, event_name, periods)
    assert lifecycle_rows(CON) == reference_lifecycle(events, event_name)


def test_lifecycle_statuses_by_hand():
    # week 0: a and b new; week 1: a returning, b dormant; week 2: b resurrecting, a dormant
    con = duckdb.connect()
    day = 1440
    load(con, [E("a-001", 0, "page"), E("b-001", 1, "page"), E("a-001", 7 * day, "page"),
               E("b-001", 14 * day, "page")])
    build(con, config_with(), MODELS)
    rows = con.execute("select period_start, status, n_customers from marts.lifecycle "
                       "where persona = 'all' and n_customers > 0 order by period_start, status").fetchall()
    w0 = T0.date()
    assert rows == [
        (w0, "new", 2),
        (w0 + timedelta(days=7), "dormant", 1), (w0 + timedelta(days=7), "returning", 1),
        (w0 + timedelta(days=14), "dormant", 1), (w0 + timedelta(days=14), "resurrecting", 1),
    ]


def test_retention_by_hand():
    # cohort week 0: a, b; a comes back in week 1 and week 2, b in week 2
    con = duckdb.connect()
    day = 1440
    load(con, [E("a-001", 0, "page"), E("b-001", 1, "page"), E("a-001", 7 * day, "page"),
               E("a-001", 14 * day, "page"), E("b-001", 15 * day, "page")])
    build(con, config_with(periods=3), MODELS)
    rows = con.execute("select period, n_customers, n_retained, rate, period_complete from marts.retention "
                       "where persona = 'all' order by period").fetchall()
    assert rows == [(0, 2, 2, 1.0, True), (1, 2, 1, 0.5, True), (2, 2, 2, 1.0, False)]


def test_a_bad_return_event_names_file_key_and_fix(tmp_path):
    from transforms.config import ConfigError, load_config

    (tmp_path / "settings.yaml").write_text("retention:\n  return_touchpoint: moblie_app\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert f"{tmp_path / 'settings.yaml'}: retention.return_touchpoint: unknown touchpoint 'moblie_app'" in str(e.value)
