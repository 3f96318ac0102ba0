"""marts.touchpoint_health and marts.pain_points on crafted marts in an in-memory DuckDB, and a
hypothesis property test of the health figures against a plain-Python reference."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.builders import offending
from transforms.config import load_config
from transforms.painpoints import (
    humanize_duration,
    pain_point_params,
    touchpoint_health_params,
)
from transforms.warehouse import build_model, table_doc

T0 = datetime(2025, 3, 1)
HOUR = 60
DAY = 24 * HOUR
CONFIG = load_config()


def unhealthy_cells(con):
    """sql/checks/marts/touchpoint_health/every_event_in_one_cell.sql, run by the check runner."""
    return offending(con, "marts.touchpoint_health/every_event_in_one_cell")

JOURNEY_EVENTS_DDL = """
create table marts.journey_events (
    event_id varchar, customer_id varchar, journey_id varchar, journey_number integer,
    step_index integer, occurred_at timestamp, source varchar, source_rank integer,
    event_name varchar, touchpoint varchar, channel_group varchar, stage varchar, phase varchar,
    phase_order integer, is_conversion boolean, revenue double, sentiment double, csat double
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
    sum(revenue) filter (where is_conversion) as revenue
from marts.journey_events
group by journey_id
"""
PHASE_ORDER = {p: i for i, p in enumerate(CONFIG.taxonomy.phase_names, start=1)}
SUPPORT_TOUCHPOINTS = {"live_chat", "support_email", "call_center", "messaging"}


@dataclass(frozen=True)
class Ev:
    customer: str
    minutes: float
    touchpoint: str
    phase: str
    journey: int = 1
    converts: bool = False
    sentiment: float | None = None
    csat: float | None = None

    @property
    def source(self) -> str:
        return "support" if self.touchpoint in SUPPORT_TOUCHPOINTS else "crm" if self.touchpoint == "crm" else "clickstream"

    @property
    def stage(self) -> str | None:
        return None if self.touchpoint == "unclassified" else "back" if self.touchpoint == "crm" else "front"


def make_warehouse(events: list[Ev], con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    if con is None:
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
    for schema in ("intermediate", "marts"):
        con.execute(f"drop schema if exists {schema} cascade")
        con.execute(f"create schema {schema}")
    con.execute(JOURNEY_EVENTS_DDL)
    ordered = sorted(enumerate(events), key=lambda ie: (ie[1].customer, ie[1].journey, ie[1].minutes, ie[0]))
    step: dict[tuple[str, int], int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    for i, e in ordered:
        step[(e.customer, e.journey)] += 1
        rows.append({
            "event_id": f"e{i}", "customer_id": e.customer, "journey_id": f"{e.customer}-{e.journey}",
            "journey_number": e.journey, "step_index": step[(e.customer, e.journey)],
            "occurred_at": T0 + timedelta(minutes=e.minutes), "source": e.source, "source_rank": 1,
            "event_name": "x", "touchpoint": e.touchpoint, "channel_group": None if e.stage is None else "owned",
            "stage": e.stage, "phase": e.phase, "phase_order": PHASE_ORDER.get(e.phase),
            "is_conversion": e.converts, "revenue": 10.0 if e.converts else None,
            "sentiment": e.sentiment, "csat": e.csat,
        })
    if rows:
        con.register("events_frame", pa.Table.from_pylist(rows))
        con.execute("insert into marts.journey_events by name select * from events_frame")
        con.unregister("events_frame")
    con.execute(JOURNEYS_SQL)
    return con


def health(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], dict[str, Any]]:
    build_model(con, "intermediate.journey_cells")
    build_model(con, "marts.touchpoint_health", touchpoint_health_params(CONFIG))
    cur = con.execute("select * from marts.touchpoint_health")
    cols = [d[0] for d in cur.description]
    return {(r[0], r[1]): dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def pain_points(con: duckdb.DuckDBPyConnection, **overrides: Any) -> list[dict[str, Any]]:
    build_model(con, "intermediate.journey_cells")
    build_model(con, "marts.touchpoint_health", touchpoint_health_params(CONFIG))
    build_model(con, "intermediate.support_steps", {**pain_point_params(CONFIG), **overrides})
    build_model(con, "marts.pain_points", {**pain_point_params(CONFIG), **overrides})
    cur = con.execute("select * from marts.pain_points order by rank")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


# --------------------------------------------------------------------------- touchpoint health

def test_health_counts_exits_of_closed_journeys_only() -> None:
    events = [
        # c1: leaves at the app checkout; closed (more than 30 days before the newest event)
        Ev("c1", 0, "website", "interest"), Ev("c1", 60, "mobile_app", "purchase"),
        # c2: converts on the web
        Ev("c2", 0, "website", "interest"), Ev("c2", 120, "website", "purchase", converts=True),
        # c3: still open at the newest event (day 100): not an exit yet
        Ev("c3", 90 * DAY, "website", "interest"), Ev("c3", 90 * DAY + 5, "mobile_app", "purchase"),
        # c4: the newest event; support text and ratings
        Ev("c4", 100 * DAY - 30, "live_chat", "usage", sentiment=-0.5, csat=1),
        Ev("c4", 100 * DAY - 20, "live_chat", "usage", sentiment=0.2),
        Ev("c4", 100 * DAY - 10, "live_chat", "usage", csat=5),
        Ev("c4", 100 * DAY, "unclassified", "unclassified"),
    ]
    con = make_warehouse(events)
    h = health(con)
    app = h[("mobile_app", "purchase")]
    assert (app["n_journeys"], app["n_closed_journeys"], app["n_exits"], app["exit_rate"]) == (2, 1, 1, 1.0)
    web = h[("website", "interest")]
    assert (web["n_customers"], web["n_closed_journeys"], web["n_exits"], web["exit_rate"]) == (3, 2, 0, 0.0)
    chat = h[("live_chat", "usage")]
    assert chat["n_events"] == 3 and chat["n_scored_events"] == 2 and chat["n_negative_events"] == 1
    assert chat["negative_share"] == 0.5
    assert chat["avg_sentiment"] == pytest.approx(-0.15)
    assert chat["avg_csat"] == 3.0
    assert chat["exit_rate"] is None  # c4's journey is open
    assert h[("website", "interest")]["avg_sentiment"] is None and h[("website", "interest")]["negative_share"] is None
    assert ("unclassified", "unclassified") in h
    assert unhealthy_cells(con) == []


# --------------------------------------------------------------------------- pain points

def checkout_story(n_app: int = 20, n_web: int = 40, app_contacts: int = 8, web_contacts: int = 1) -> list[Ev]:
    """App checkouts followed by angry support contacts; web checkouts mostly convert."""
    events = []
    for i in range(n_app):
        c = f"app{i:02d}"
        t = i * 10
        events += [Ev(c, t, "website", "interest"), Ev(c, t + 5, "mobile_app", "purchase")]
        if i < app_contacts:
            # a contact 3 hours after the checkout, then the agent's reply (same contact)
            events += [Ev(c, t + 5 + 3 * HOUR, "live_chat", "purchase", sentiment=-0.8),
                       Ev(c, t + 5 + 5 * HOUR, "live_chat", "purchase", sentiment=0.1)]
    for i in range(n_web):
        c = f"web{i:02d}"
        t = i * 10
        events += [Ev(c, t, "website", "interest"), Ev(c, t + 5, "website", "purchase"),
                   Ev(c, t + 8, "website", "purchase", converts=True)]
        if i < web_contacts:
            events.append(Ev(c, t + 8 + HOUR, "support_email", "usage", sentiment=0.3))
    return events


def test_support_contact_after_the_app_checkout_tops_the_list() -> None:
    con = make_warehouse(checkout_story())
    rows = pain_points(con)
    top = rows[0]
    assert (top["rank"], top["touchpoint"], top["phase"], top["kind"]) == (1, "mobile_app", "purchase", "support contact after")
    # steps: website·interest 60 customers, mobile_app·purchase 20, website·purchase 40
    # contacts: 8 after the app checkout, 1 after website·purchase
    assert top["n_customers"] == 20 and top["n_affected"] == 8
    assert top["rate"] == pytest.approx(8 / 20)
    assert top["baseline_rate"] == pytest.approx(9 / 120)
    assert top["lift"] == pytest.approx((8 / 20) / (9 / 120))
    assert top["label"] == (
        "Mobile app · purchase: 40% of customers contact support within 2 days after this step, "
        "5.3× the average step (20 customers)."
    )
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["score"] >= s["score"] for r, s in zip(rows, rows[1:], strict=False))


def test_small_or_ordinary_cells_are_not_flagged() -> None:
    con = make_warehouse(checkout_story(n_app=9, app_contacts=5))
    flagged = {(r["touchpoint"], r["phase"], r["kind"]) for r in pain_points(con)}
    assert ("mobile_app", "purchase", "support contact after") not in flagged  # 9 customers < 10
    flagged = {(r["touchpoint"], r["phase"], r["kind"]) for r in pain_points(con, min_customers=5)}
    assert ("mobile_app", "purchase", "support contact after") in flagged
    # a rate below min_lift x baseline is not flagged
    assert pain_points(con, min_customers=5, min_lift=1000.0) == []


def test_contact_rules_quiet_spell_window_and_steps() -> None:
    events = []
    for i in range(10):
        c = f"c{i}"
        events += [
            Ev(c, 0, "mobile_app", "purchase"),
            Ev(c, 60, "crm", "interest"),  # back-stage: not a step
            Ev(c, 61, "unclassified", "unclassified"),  # not a step
            Ev(c, 2 * HOUR, "live_chat", "purchase", sentiment=-0.6),  # contact after mobile_app·purchase
            Ev(c, 3 * DAY, "website", "interest"),
            Ev(c, 3 * DAY + HOUR, "live_chat", "purchase"),  # > 2 days after the last support event: a new contact
            Ev(c, 10 * DAY, "website", "usage"),
            Ev(c, 10 * DAY + HOUR, "live_chat", "usage"),  # < 2 days after? no: 7 days -> new contact after website·usage
            Ev(c, 10 * DAY + 2 * HOUR, "live_chat", "usage"),  # within 2 days of the previous support event: same contact
            Ev(c, 20 * DAY, "website", "comparison"),
            Ev(c, 23 * DAY, "live_chat", "usage"),  # the step is 3 days earlier: too late to count
        ]
    con = make_warehouse(events)
    rows = pain_points(con, min_lift=1.01)
    support = {(r["touchpoint"], r["phase"]): r for r in rows if r["kind"] == "support contact after"}
    assert support[("mobile_app", "purchase")]["n_affected"] == 10
    assert support[("website", "interest")]["n_affected"] == 10
    assert support[("website", "usage")]["n_affected"] == 10
    assert ("website", "comparison") not in support
    # 30 contacts over 4 step cells of 10 customers each
    assert support[("mobile_app", "purchase")]["baseline_rate"] == pytest.approx(30 / 40)


def test_negative_sentiment_and_exits_are_flagged_with_labels() -> None:
    events = []
    for i in range(12):
        c = f"n{i:02d}"
        events += [Ev(c, 0, "website", "interest"), Ev(c, 10, "website", "comparison"),
                   Ev(c, 20, "website", "purchase", converts=True),
                   Ev(c, 30, "website", "interest", journey=2),
                   Ev(c, 40, "support_email", "usage", journey=2, sentiment=0.5)]
    for i in range(12):
        c = f"x{i:02d}"
        events += [Ev(c, 0, "website", "interest"), Ev(c, 10, "display", "awareness"),
                   Ev(c, 20, "live_chat", "usage", sentiment=-0.7)]
    events.append(Ev("late", 200 * DAY, "website", "interest"))  # the newest event: everything above is closed
    con = make_warehouse(events)
    rows = pain_points(con)
    by_kind = {(r["touchpoint"], r["phase"], r["kind"]): r for r in rows}
    negative = by_kind[("live_chat", "usage", "negative sentiment")]
    assert negative["rate"] == 1.0 and negative["baseline_rate"] == pytest.approx(0.5)
    assert negative["label"] == (
        "Live chat · usage: 100% of what customers say or rate here is negative, 2.0× the average (12 customers)."
    )
    exits = by_kind[("live_chat", "usage", "exits")]
    assert exits["n_affected"] == 12 and exits["rate"] == 1.0
    assert exits["label"].startswith("Live chat · usage: 100% of journeys that reach this step end here without converting")


def test_tables_are_documented() -> None:
    con = make_warehouse(checkout_story())
    pain_points(con)
    for relation in ("marts.touchpoint_health", "marts.pain_points"):
        columns = [d[0] for d in con.execute(f"select * from {relation} limit 0").description]
        doc = table_doc(relation)
        assert doc is not None and str(doc["description"]).startswith("One row per"), relation
        assert set(columns) == set(doc["columns"]), relation
        comment = con.execute(
            "select comment from duckdb_tables() where schema_name = $s and table_name = $t",
            {"s": relation.split(".")[0], "t": relation.split(".")[1]},
        ).fetchall()[0][0]
        assert comment.startswith("One row per")


def test_empty_warehouse() -> None:
    con = make_warehouse([])
    assert pain_points(con) == []
    assert con.execute("select count(*) from marts.touchpoint_health").fetchall() == [(0,)]


@pytest.mark.parametrize(("seconds", "text"), [
    (2 * 86400, "2 days"), (86400, "1 day"), (3600, "1 hour"), (36 * 3600, "36 hours"),
    (5400, "90 minutes"), (604800, "1 week"), (45, "45 seconds"),
])
def test_humanize_duration(seconds: float, text: str) -> None:
    assert humanize_duration(seconds) == text


# --------------------------------------------------------------------------- properties

SHARED_CON = duckdb.connect()
CELLS = [("website", "interest"), ("mobile_app", "purchase"), ("email", "awareness"), ("live_chat", "usage"),
         ("crm", "interest")]


@st.composite
def event_sets(draw: st.DrawFn) -> list[Ev]:
    out = []
    for c in range(draw(st.integers(1, 8))):
        n_journeys = draw(st.integers(1, 3))
        t = 0
        for j in range(1, n_journeys + 1):
            for _ in range(draw(st.integers(1, 5))):
                t += draw(st.integers(1, 40 * DAY))
                tp, ph = draw(st.sampled_from(CELLS))
                sentiment = draw(st.one_of(st.none(), st.floats(-1, 1))) if tp == "live_chat" else None
                out.append(Ev(f"c{c}", t, tp, ph, journey=j, sentiment=sentiment))
            if draw(st.booleans()):
                t += 1
                out.append(Ev(f"c{c}", t, "website", "purchase", journey=j, converts=True))
    return out


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sets())
def test_health_matches_a_plain_python_reference(events: list[Ev]) -> None:
    # comments are checked in test_tables_are_documented; skipping them keeps examples fast
    with mock.patch("transforms.warehouse.apply_comments"):
        h = health(make_warehouse(events, SHARED_CON))
    newest = max(e.minutes for e in events)
    journeys: dict[str, list[Ev]] = defaultdict(list)
    for _, e in sorted(enumerate(events), key=lambda ie: (ie[1].customer, ie[1].journey, ie[1].minutes, ie[0])):
        journeys[f"{e.customer}-{e.journey}"].append(e)
    closed = {jid for jid, evs in journeys.items()
              if any(e.converts for e in evs) or evs[-1].minutes <= newest - 30 * DAY}
    cells = {(e.touchpoint, e.phase) for e in events}
    assert set(h) == cells
    for cell in cells:
        evs = [e for e in events if (e.touchpoint, e.phase) == cell]
        touching = {jid for jid, jevs in journeys.items() if any((e.touchpoint, e.phase) == cell for e in jevs)}
        exits = {jid for jid in touching & closed
                 if not any(e.converts for e in journeys[jid])
                 and (journeys[jid][-1].touchpoint, journeys[jid][-1].phase) == cell}
        scored = [e.sentiment for e in evs if e.sentiment is not None]
        row = h[cell]
        assert row["n_events"] == len(evs)
        assert row["n_customers"] == len({e.customer for e in evs})
        assert row["n_journeys"] == len(touching)
        assert row["n_closed_journeys"] == len(touching & closed)
        assert row["n_exits"] == len(exits)
        assert row["exit_rate"] == (pytest.approx(len(exits) / len(touching & closed)) if touching & closed else None)
        assert row["n_scored_events"] == len(scored)
        assert row["negative_share"] == (
            pytest.approx(sum(s < -0.05 for s in scored) / len(scored)) if scored else None
        )
