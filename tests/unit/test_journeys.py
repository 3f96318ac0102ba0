"""Journey segmentation, paths, transitions and customer summaries: the SQL models of
sql/marts/ on crafted intermediate tables in an in-memory DuckDB, and hypothesis property tests
against a plain-Python reference."""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.builders import configured, offending
from transforms.config import JourneySettings
from transforms.journeys import journey_params
from transforms.models import build_models
from transforms.warehouse import bind, build_model, read_model, table_doc

JOURNEY_MODELS = ("intermediate.journey_timeline", "intermediate.journey_steps", "marts.journey_events", "marts.journeys",
                  "marts.sessions", "intermediate.journey_path_variants", "marts.journey_paths",
                  "intermediate.journey_transitions", "marts.touchpoint_transitions", "marts.customers")

T0 = datetime(2025, 3, 1, 9, 0)


# the check files of these tables (sql/checks/marts/<table>/<name>.sql), run by the check runner
def events_not_once(con):
    return offending(con, "marts.journey_events/every_event_once")


def journey_errors(con):
    return offending(con, "marts.journeys/journeys_end_at_conversions")


def path_count_errors(con):
    return offending(con, "marts.journey_paths/paths_add_up")


def transition_probability_errors(con):
    return offending(con, "marts.touchpoint_transitions/probabilities_sum_to_one")

STAGING_EVENTS_DDL = """
create table staging.events (
    event_id varchar, source varchar, event_name varchar, occurred_at timestamp, amount double,
    csat double, satisfaction varchar, device varchar, channel varchar, url varchar, url_path varchar,
    referrer varchar, utm_source varchar, utm_medium varchar, utm_campaign varchar, text varchar,
    properties json, _partition date
)
"""
CLASSIFIED_EVENTS_DDL = """
create table intermediate.classified_events (
    event_id varchar, customer_id varchar, occurred_at timestamp, source_rank integer,
    source varchar, utm_source varchar, utm_medium varchar, utm_campaign varchar,
    touchpoint varchar, channel_group varchar, stage varchar, phase varchar, phase_order integer,
    rule_id varchar, is_conversion boolean, revenue double, sentiment double, sentiment_source varchar
)
"""
PROFILES_DDL = """
create table intermediate.customer_profiles (
    customer_id varchar, persona varchar, company varchar, industry varchar,
    company_size varchar, segment varchar, lifecycle_stage varchar
)
"""
PHASE_OF = {"paid_search": "awareness", "direct": "awareness", "email": "interest",
            "website": "comparison", "support_email": "usage", "unclassified": "unclassified"}


@dataclass(frozen=True)
class Ev:
    event_id: str
    customer_id: str | None
    minutes: float
    touchpoint: str = "website"
    is_conversion: bool = False
    source_rank: int = 1
    revenue: float | None = None
    phase: str | None = None
    # staging.events' source ('clickstream' events are web visits, cut into sessions), the
    # campaign of a visit event, and the blueprint stage of a classified event
    source: str = "src"
    utm_campaign: str | None = None
    stage: str = "front"
    url_path: str | None = None
    event_name: str = "evt"

    @property
    def at(self) -> datetime:
        return T0 + timedelta(minutes=self.minutes)

    @property
    def phase_name(self) -> str:
        return self.phase or PHASE_OF.get(self.touchpoint, "interest")


def warehouse(events: list[Ev], personas: dict[str, str] | None = None,
              journey_settings: JourneySettings | None = None, documented: bool = True,
              con: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the upstream tables filled (staging.events, the classification,
    the profiles), and the journey models built.
    `documented=False` skips the COMMENT ON statements and `con` reuses a connection, for speed
    in the property tests."""
    if con is None:
        con = duckdb.connect()
        con.execute("set TimeZone = 'UTC'")
    for schema in ("staging", "intermediate", "marts"):
        con.execute(f"drop schema if exists {schema} cascade")
        con.execute(f"create schema {schema}")
    con.execute(STAGING_EVENTS_DDL)
    con.execute(CLASSIFIED_EVENTS_DDL)
    con.execute(PROFILES_DDL)
    # one statement, the columns as bound lists
    con.execute(
        """
        insert into intermediate.classified_events (event_id, customer_id, occurred_at, source_rank,
            source, utm_campaign, touchpoint, channel_group, stage, phase, phase_order, rule_id, is_conversion,
            revenue)
        select
            unnest($event_id::varchar[]), unnest($customer_id::varchar[]),
            unnest($occurred_at::timestamp[]), unnest($source_rank::integer[]),
            unnest($source::varchar[]), unnest($utm_campaign::varchar[]),
            unnest($touchpoint::varchar[]) as tp, if(tp = 'unclassified', null, 'owned'),
            if(tp = 'unclassified', null, unnest($stage::varchar[])), unnest($phase::varchar[]),
            if(tp = 'unclassified', null, 1), if(tp = 'unclassified', null, 'rule'),
            unnest($is_conversion::boolean[]) as conv, if(conv, unnest($revenue::double[]), null)
        """,
        {
            "event_id": [e.event_id for e in events],
            "customer_id": [e.customer_id for e in events],
            "occurred_at": [e.at for e in events],
            "source_rank": [e.source_rank for e in events],
            "source": [e.source for e in events],
            "utm_campaign": [e.utm_campaign for e in events],
            "touchpoint": [e.touchpoint for e in events],
            "phase": [e.phase_name for e in events],
            "is_conversion": [e.is_conversion for e in events],
            "revenue": [e.revenue for e in events],
            "stage": [e.stage for e in events],
        },
    )
    con.execute(
        "insert into staging.events (event_id, source, event_name, occurred_at, utm_campaign, url_path) "
        "select unnest($event_id::varchar[]), unnest($source::varchar[]), unnest($event_name::varchar[]), "
        "unnest($occurred_at::timestamp[]), "
        "unnest($utm_campaign::varchar[]), unnest($url_path::varchar[])",
        {
            "event_id": [e.event_id for e in events],
            "source": [e.source for e in events],
            "event_name": [e.event_name for e in events],
            "occurred_at": [e.at for e in events],
            "utm_campaign": [e.utm_campaign for e in events],
            "url_path": [e.url_path for e in events],
        },
    )
    personas = personas if personas is not None else {}
    customers = sorted({e.customer_id for e in events if e.customer_id is not None})
    con.execute(
        "insert into intermediate.customer_profiles (customer_id, persona) "
        "select unnest($c::varchar[]), unnest($p::varchar[])",
        {"c": customers, "p": [personas.get(c, "unknown") for c in customers]},
    )
    journey_settings = journey_settings or JourneySettings()
    if documented:
        build_models(con, configured(journeys=journey_settings), JOURNEY_MODELS, with_upstream=False)
    else:
        params = journey_params(journey_settings)
        for relation in JOURNEY_MODELS:
            select = read_model(relation)
            con.execute(f"create table {relation} as {select}", bind(select, params))
    return con


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


# --------------------------------------------------------------------------- segmentation


def test_conversion_ends_a_journey_and_what_follows_starts_the_next():
    con = warehouse([
        Ev("s:1", "c1", 0, "paid_search"),
        Ev("s:2", "c1", 5, "website"),
        Ev("s:3", "c1", 10, "website", is_conversion=True, revenue=120.0),
        Ev("s:4", "c1", 11, "support_email"),
        Ev("s:5", "c1", 20, "email"),
    ])
    assert rows(con, "select event_id, journey_id, journey_number, step_index from marts.journey_events order by event_id") == [
        ("s:1", "c1-001", 1, 1), ("s:2", "c1-001", 1, 2), ("s:3", "c1-001", 1, 3),
        ("s:4", "c1-002", 2, 1), ("s:5", "c1-002", 2, 2),
    ]
    assert rows(con, "select journey_id, converted, converted_at, revenue, n_events, touchpoint_path, "
                     "phase_path, duration_seconds from marts.journeys order by journey_id") == [
        ("c1-001", True, T0 + timedelta(minutes=10), 120.0, 3, "paid_search > website",
         "awareness > comparison", 600.0),
        ("c1-002", False, None, None, 2, "support_email > email", "usage > interest", 540.0),
    ]


def test_a_gap_longer_than_the_timeout_splits_and_an_equal_gap_does_not():
    con = warehouse(
        [Ev("s:1", "c1", 0), Ev("s:2", "c1", 30), Ev("s:3", "c1", 61)],
        journey_settings=JourneySettings(timeout="30m"),
    )
    assert rows(con, "select event_id, journey_number, step_index from marts.journey_events order by event_id") == [
        ("s:1", 1, 1), ("s:2", 1, 2), ("s:3", 2, 1),
    ]


def test_ties_are_ordered_by_source_rank_then_event_id():
    con = warehouse([
        Ev("b:9", "c1", 0, "email", source_rank=2),
        Ev("a:10", "c1", 0, "website", source_rank=1),
        Ev("a:9", "c1", 0, "paid_search", source_rank=1),
        Ev("b:1", "c1", 0, "website", source_rank=2, is_conversion=True),
    ])
    assert rows(con, "select event_id, journey_number, step_index from marts.journey_events order by journey_number, step_index") == [
        ("a:10", 1, 1), ("a:9", 1, 2), ("b:1", 1, 3), ("b:9", 2, 1),
    ]
    assert rows(con, "select touchpoint_path from marts.journeys order by journey_id") == [
        ("website > paid_search > website",), ("email",),
    ]


def test_journey_ids_are_deterministic_whatever_the_input_order():
    events = [Ev(f"s:{i}", f"c{i % 3}", i * 7 % 50, "website", is_conversion=i % 5 == 0) for i in range(40)]
    a = rows(warehouse(events), "select event_id, journey_id, step_index from marts.journey_events order by event_id")
    b = rows(warehouse(events[::-1]), "select event_id, journey_id, step_index from marts.journey_events order by event_id")
    assert a == b


def test_more_than_999_journeys_keep_distinct_ids():
    events = [Ev(f"s:{i:05d}", "c1", i, "website", is_conversion=True) for i in range(1001)]
    con = warehouse(events)
    assert rows(con, "select count(distinct journey_id), max(journey_number) from marts.journeys") == [(1001, 1001)]
    assert rows(con, "select journey_id from marts.journeys where journey_number in (999, 1000, 1001) order by 1") == [
        ("c1-1000",), ("c1-1001",), ("c1-999",),
    ]


def test_unclassified_events_stay_out_of_paths_but_count_in_n_events():
    con = warehouse([
        Ev("s:1", "c1", 0, "website"),
        Ev("s:2", "c1", 1, "unclassified"),
        Ev("s:3", "c1", 2, "website"),
        Ev("s:4", "c2", 0, "unclassified"),
    ])
    assert rows(con, "select customer_id, n_events, n_unclassified_events, touchpoint_path, phase_path, "
                     "first_touchpoint, last_touchpoint from marts.journeys order by 1") == [
        ("c1", 3, 1, "website", "comparison", "website", "website"),
        ("c2", 1, 1, "unclassified", "unclassified", "unclassified", "unclassified"),
    ]
    assert rows(con, "select from_touchpoint, to_touchpoint, n from marts.touchpoint_transitions "
                     "where '(start)' in (from_touchpoint) or to_touchpoint = '(exit)' order by 1, 2") == [
        ("(start)", "unclassified", 1), ("(start)", "website", 1),
        ("unclassified", "(exit)", 1), ("website", "(exit)", 1),
    ]


def test_an_event_without_customer_belongs_to_no_journey():
    con = warehouse([Ev("s:1", None, 0), Ev("s:2", "c1", 0), Ev("s:3", None, 1)])
    assert rows(con, "select event_id, persona, journey_id, step_index from marts.journey_events order by 1") == [
        ("s:1", "unknown", None, None), ("s:2", "unknown", "c1-001", 1), ("s:3", "unknown", None, None),
    ]
    assert rows(con, "select count(*) from marts.journeys") == [(1,)]
    assert events_not_once(con) == [] and journey_errors(con) == [] and path_count_errors(con) == []


# --------------------------------------------------------------------------- paths


LONG = ["paid_search", "direct", "website", "email", "website", "direct", "website", "support_email"]


def long_journey_paths(**kw) -> dict[str, str]:
    events = [Ev(f"s:{i}", "c1", i, t) for i, t in enumerate(LONG)]
    con = warehouse(events, {"c1": "consumer"}, JourneySettings(**kw))
    return dict(rows(con, "select level, path from marts.journey_paths where persona = 'all'"))


def test_paths_are_collapsed_and_cleaned_by_the_settings():
    assert long_journey_paths(max_path_steps=12)["touchpoint"] == (
        "paid_search > direct > website > email > website > direct > website > support_email"
    )
    # dropping 'direct' makes 'website > website' meet: collapsed again
    assert long_journey_paths(drop_touchpoints=["direct"])["touchpoint"] == (
        "paid_search > website > email > website > support_email"
    )
    assert long_journey_paths(first_occurrence_only=True)["touchpoint"] == (
        "paid_search > direct > website > email > support_email"
    )
    assert long_journey_paths(max_path_steps=5)["touchpoint"] == (
        "paid_search > direct > website > … > website > support_email"
    )
    assert long_journey_paths(max_path_steps=4)["touchpoint"] == "paid_search > direct > … > website > support_email"
    # phase level: first occurrence and the length limit apply, the touchpoint drop does not
    paths = long_journey_paths(drop_touchpoints=["direct"], first_occurrence_only=True, max_path_steps=3)
    assert paths["phase"] == "awareness > comparison > … > usage"
    assert paths["touchpoint"] == "paid_search > website > … > support_email"


def test_a_path_emptied_by_cleaning_is_none():
    con = warehouse([Ev("s:1", "c1", 0, "direct")], journey_settings=JourneySettings(drop_touchpoints=["direct"]))
    assert rows(con, "select level, path from marts.journey_paths where persona = 'all' order by 1") == [
        ("phase", "awareness"), ("touchpoint", "(none)"),
    ]


def test_journey_paths_count_per_persona_and_all():
    con = warehouse(
        [
            Ev("s:1", "c1", 0, "website"), Ev("s:2", "c1", 1, "website", is_conversion=True, revenue=10.0),
            Ev("s:3", "c2", 0, "website"), Ev("s:4", "c2", 60, "email"),
            Ev("s:5", "c3", 0, "email"), Ev("s:6", "c3", 30, "website", is_conversion=True, revenue=5.0),
        ],
        {"c1": "consumer", "c2": "consumer", "c3": "smb"},
    )
    got = rows(con, """
        select persona, path, n_journeys, n_customers, n_converted, conversion_rate, share, revenue,
               median_duration_seconds
        from marts.journey_paths where level = 'touchpoint' order by persona, path""")
    got = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in got]
    assert got == [
        ("all", "email > website", 1, 1, 1, 1.0, round(1 / 3, 9), 5.0, 1800.0),
        ("all", "website", 1, 1, 1, 1.0, round(1 / 3, 9), 10.0, 60.0),
        ("all", "website > email", 1, 1, 0, 0.0, round(1 / 3, 9), 0.0, 3600.0),
        ("consumer", "website", 1, 1, 1, 1.0, 0.5, 10.0, 60.0),
        ("consumer", "website > email", 1, 1, 0, 0.0, 0.5, 0.0, 3600.0),
        ("smb", "email > website", 1, 1, 1, 1.0, 1.0, 5.0, 1800.0),
    ]
    assert path_count_errors(con) == []


# --------------------------------------------------------------------------- per-journey runs (issue 15, point 5)


def test_steps_are_runs_of_one_touchpoint_cut_at_journey_boundaries():
    # website runs across the conversion into the next journey, and across an unclassified event
    con = warehouse([
        Ev("s:1", "c1", 0, "paid_search"), Ev("s:2", "c1", 5, "website"),
        Ev("s:3", "c1", 6, "unclassified"), Ev("s:4", "c1", 7, "website", is_conversion=True),
        Ev("s:5", "c1", 8, "website"), Ev("s:6", "c1", 9, "email"), Ev("s:7", "c1", 12, "website"),
        Ev("s:8", "c2", 0, "unclassified"),
    ])
    assert rows(con, """select journey_id, step_number, name, first_step_index, last_step_index, arrived_at, left_at,
                        n_events from intermediate.journey_steps where level = 'touchpoint' order by 1, 2""") == [
        ("c1-001", 1, "paid_search", 1, 1, T0, T0, 1),
        ("c1-001", 2, "website", 2, 4, T0 + timedelta(minutes=5), T0 + timedelta(minutes=7), 2),
        ("c1-002", 1, "website", 1, 1, T0 + timedelta(minutes=8), T0 + timedelta(minutes=8), 1),
        ("c1-002", 2, "email", 2, 2, T0 + timedelta(minutes=9), T0 + timedelta(minutes=9), 1),
        ("c1-002", 3, "website", 3, 3, T0 + timedelta(minutes=12), T0 + timedelta(minutes=12), 1),
    ]
    # phases collapse on their own: email and website are different phases, paid_search and
    # website too, so the phase steps follow the touchpoint steps here
    assert rows(con, "select journey_id, count(*) from intermediate.journey_steps where level = 'phase' "
                     "group by all order by 1") == [("c1-001", 2), ("c1-002", 3)]
    assert rows(con, "select journey_id, touchpoint_path, n_touchpoint_steps from marts.journeys order by 1") == [
        ("c1-001", "paid_search > website", 2), ("c1-002", "website > email > website", 3),
        ("c2-001", "unclassified", 0),
    ]


def sql_text(name: str) -> str:
    """sql/<name>.sql without comments, lowercase, whitespace collapsed."""
    from transforms.warehouse import SQL_DIR

    lines = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").splitlines()
    return " ".join(" ".join(line.split("--")[0] for line in lines).lower().split())


@pytest.mark.parametrize("name", ["intermediate/journey_steps", "marts/journeys", "marts/touchpoint_transitions",
                                  "intermediate/attribution_touches", "marts/sessions", "marts/journey_paths",
                                  "intermediate/journey_path_variants", "intermediate/journey_transitions"])
def test_models_after_the_timeline_sort_no_events(name):
    # only intermediate.journey_timeline puts events in order; these aggregate its runs by key
    sql = sql_text(name)
    assert "order by step_index" not in sql and "order by occurred_at" not in sql


@pytest.mark.parametrize("name", ["intermediate/classified_events", "intermediate/customer_profiles",
                                  "intermediate/identifier_sets", "intermediate/journey_timeline",
                                  "intermediate/journey_steps", "intermediate/attribution_touches",
                                  "marts/journey_events", "marts/journeys", "marts/touchpoint_transitions",
                                  "marts/attribution", "marts/sessions", "marts/journey_paths"])
def test_models_avoid_what_other_engines_lack(name):
    # issue 15 point 8: no rowid, no row_number() over (), no UNPIVOT statement, no MAP joined on
    sql = sql_text(name)
    assert "rowid" not in sql and "over ()" not in sql and not re.search(r"\bunpivot\b", sql)
    assert "identifiers =" not in sql and "attributes is not distinct" not in sql


# --------------------------------------------------------------------------- transitions, customers


def test_transitions_have_start_conversion_and_exit_nodes_and_median_seconds():
    con = warehouse([
        Ev("s:1", "c1", 0, "paid_search"), Ev("s:2", "c1", 10, "website"), Ev("s:3", "c1", 15, "website"),
        Ev("s:4", "c1", 20, "website", is_conversion=True),
        Ev("s:5", "c2", 0, "paid_search"), Ev("s:6", "c2", 30, "website"),
    ])
    assert rows(con, "select from_touchpoint, to_touchpoint, n, probability, median_seconds "
                     "from marts.touchpoint_transitions order by 1, 2") == [
        ("(start)", "paid_search", 2, 1.0, None),
        ("paid_search", "website", 2, 1.0, 1200.0),
        ("website", "(conversion)", 1, 0.5, 600.0),
        ("website", "(exit)", 1, 0.5, None),
    ]
    assert transition_probability_errors(con) == []


def test_customers_summarise_their_journeys():
    con = warehouse(
        [
            Ev("s:1", "c1", 0, "email"),
            Ev("s:2", "c1", 5, "website", is_conversion=True, revenue=50.0),
            Ev("s:3", "c1", 6, "support_email"),
            Ev("s:4", "c1", 9, "website", is_conversion=True, revenue=25.0),
            Ev("s:5", "c2", 3, "unclassified"),
        ],
        {"c1": "smb"},
    )
    con.execute("insert into intermediate.customer_profiles (customer_id, persona) values ('c9', 'consumer')")
    build_model(con, "marts.customers")
    assert rows(con, "select customer_id, persona, first_seen_at, last_seen_at, first_converted_at, first_touchpoint, "
                     "n_events, n_journeys, n_conversions, revenue from marts.customers order by 1") == [
        ("c1", "smb", T0, T0 + timedelta(minutes=9), T0 + timedelta(minutes=5), "email", 4, 2, 2, 75.0),
        ("c2", "unknown", T0 + timedelta(minutes=3), T0 + timedelta(minutes=3), None, "unclassified", 1, 1, 0, 0.0),
        ("c9", "consumer", None, None, None, None, 0, 0, 0, 0.0),
    ]


# --------------------------------------------------------------------------- checks, documentation


def test_invariant_checks_pass_and_catch_a_broken_table():
    con = warehouse([Ev("s:1", "c1", 0), Ev("s:2", "c1", 1, is_conversion=True), Ev("s:3", "c2", 0)])
    assert events_not_once(con) == [] and journey_errors(con) == []
    assert path_count_errors(con) == [] and transition_probability_errors(con) == []
    con.execute("update marts.journeys set converted = not converted where customer_id = 'c2'")
    con.execute("update marts.touchpoint_transitions set probability = probability / 2 where from_touchpoint = '(start)'")
    con.execute("delete from marts.journey_paths where level = 'phase' and persona = 'all'")
    con.execute("insert into marts.journey_events select * from marts.journey_events where event_id = 's:1'")
    assert journey_errors(con) == [
        ("c1-001", "step_index does not run 1..n_events"), ("c2-001", "converted does not match its events"),
    ]
    assert [r[0] for r in transition_probability_errors(con)] == ["(start)"]
    assert path_count_errors(con) == [("phase", "all", 0, 2)]
    assert events_not_once(con) == [("s:1", 1, 2)]


def test_events_not_once_catches_an_event_swapped_for_another():
    # same row count, no id twice: only the event ids tell the tables apart
    con = warehouse([Ev("s:1", "c1", 0), Ev("s:2", "c1", 1, is_conversion=True), Ev("s:3", "c2", 0)])
    con.execute("update marts.journey_events set event_id = 's:9' where event_id = 's:3'")
    assert events_not_once(con) == [("s:3", 1, 0), ("s:9", 0, 1)]


@pytest.mark.parametrize("relation", JOURNEY_MODELS)
def test_every_table_and_column_is_documented(relation):
    con = warehouse([Ev("s:1", "c1", 0)])
    schema, table = relation.split(".")
    (comment,) = rows(con, f"select comment from duckdb_tables() where schema_name = '{schema}' and table_name = '{table}'")[0]
    assert comment.startswith("One row per")
    undocumented = rows(con, f"select column_name from duckdb_columns() where schema_name = '{schema}' "
                             f"and table_name = '{table}' and coalesce(comment, '') = ''")
    assert undocumented == []
    doc = table_doc(relation)
    assert doc is not None and doc["description"].startswith("One row per")


# --------------------------------------------------------------------------- property tests


def reference(events: list[Ev], personas: dict[str, str], s: JourneySettings, timeout_seconds: float):
    """Plain-Python journeys, paths and transitions: the brute-force version of the SQL."""
    by_customer: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        if e.customer_id is not None:
            by_customer[e.customer_id].append(e)
    event_journey, journeys = {}, {}
    for customer, evs in by_customer.items():
        evs.sort(key=lambda e: (e.at, e.source_rank, e.event_id))
        cut: list[list[Ev]] = [[evs[0]]]
        for prev, e in zip(evs, evs[1:], strict=False):
            if prev.is_conversion or (e.at - prev.at).total_seconds() > timeout_seconds:
                cut.append([])
            cut[-1].append(e)
        for n, j in enumerate(cut, 1):
            jid = f"{customer}-{n:03d}"
            for i, e in enumerate(j, 1):
                event_journey[e.event_id] = (jid, n, i)
            classified = [e for e in j if e.touchpoint != "unclassified"]
            # runs of one touchpoint: (touchpoint, arrival time)
            runs = [(e.touchpoint, e.at) for k, e in enumerate(classified) if k == 0 or e.touchpoint != classified[k - 1].touchpoint]
            phases = [e.phase_name for e in classified]
            phases = [p for k, p in enumerate(phases) if k == 0 or p != phases[k - 1]]
            journeys[jid] = {
                "customer_id": customer,
                "persona": personas.get(customer, "unknown"),
                "n_events": len(j),
                "converted": j[-1].is_conversion,
                "revenue": j[-1].revenue if j[-1].is_conversion else None,
                "started_at": j[0].at,
                "ended_at": j[-1].at,
                "touchpoints": [t for t, _ in runs] or ["unclassified"],
                "phases": phases or ["unclassified"],
                "runs": runs,
            }
    # transitions
    edges: dict[tuple[str, str], list[float | None]] = defaultdict(list)
    for j in journeys.values():
        runs = j["runs"]
        if not runs:
            edges[("(start)", "unclassified")].append(None)
            edges[("unclassified", "(exit)")].append(None)
            continue
        edges[("(start)", runs[0][0])].append(None)
        for (a, ta), (b, tb) in zip(runs, runs[1:], strict=False):
            edges[(a, b)].append((tb - ta).total_seconds())
        if j["converted"]:
            edges[(runs[-1][0], "(conversion)")].append((j["ended_at"] - runs[-1][1]).total_seconds())
        else:
            edges[(runs[-1][0], "(exit)")].append(None)
    # cleaned paths
    def clean(steps: list[str], level: str) -> str:
        if level == "touchpoint":
            steps = [x for x in steps if x not in s.drop_touchpoints]
            steps = [x for k, x in enumerate(steps) if k == 0 or x != steps[k - 1]]
        if s.first_occurrence_only:
            steps = [x for k, x in enumerate(steps) if x not in steps[:k]]
        n = s.max_path_steps
        if len(steps) > n:
            steps = steps[: (n + 1) // 2] + ["…"] + steps[len(steps) - n // 2:]
        return " > ".join(steps) or "(none)"

    paths: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for j in journeys.values():
        for level, steps in (("phase", j["phases"]), ("touchpoint", j["touchpoints"])):
            p = clean(steps, level)
            paths[(level, j["persona"], p)].append(j)
            paths[(level, "all", p)].append(j)
    return event_journey, journeys, edges, paths


TOUCHPOINTS = ["website", "email", "direct", "support_email", "unclassified"]
PHASES = ["awareness", "interest", "purchase", "usage"]


@st.composite
def timelines(draw):
    n = draw(st.integers(min_value=0, max_value=30))
    events = []
    for i in range(n):
        touchpoint = draw(st.sampled_from(TOUCHPOINTS))
        classified = touchpoint != "unclassified"
        events.append(Ev(
            event_id=f"e:{draw(st.integers(0, 3))}{i}",
            customer_id=draw(st.sampled_from(["a", "b", "c", "d", None])),
            minutes=draw(st.integers(0, 240)) + draw(st.sampled_from([0, 0, 0.5])),
            touchpoint=touchpoint,
            is_conversion=classified and draw(st.integers(0, 5)) == 0,
            source_rank=draw(st.integers(1, 3)),
            revenue=draw(st.sampled_from([None, 10.0, 99.5])),
            phase=draw(st.sampled_from(PHASES)) if classified else "unclassified",
        ))
    journey_settings = JourneySettings(
        timeout=draw(st.sampled_from(["10m", "30m", "1h"])),
        max_path_steps=draw(st.integers(3, 6)),
        drop_touchpoints=draw(st.sampled_from([[], ["direct"], ["direct", "email"]])),
        first_occurrence_only=draw(st.booleans()),
    )
    return events, journey_settings


PERSONAS = {"a": "consumer", "b": "consumer", "c": "smb"}
SCRATCH = duckdb.connect()  # reused by every example: a connection costs more than the models
SCRATCH.execute("set TimeZone = 'UTC'")


@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines())
def test_journeys_paths_and_transitions_match_a_plain_python_reference(case):
    events, s = case
    timeout_seconds = {"10m": 600, "30m": 1800, "1h": 3600}[s.timeout]
    con = warehouse(events, PERSONAS, s, documented=False, con=SCRATCH)
    event_journey, journeys, edges, paths = reference(events, PERSONAS, s, timeout_seconds)

    # every event exactly once, in the reference's journey and position
    got_events = {r[0]: r[1:] for r in rows(con, "select event_id, journey_id, journey_number, step_index from marts.journey_events")}
    assert len(got_events) == len(events)
    assert {k: v for k, v in got_events.items() if v[0] is not None} == event_journey

    got_journeys = {r[0]: r[1:] for r in rows(con, """
        select journey_id, customer_id, persona, n_events, converted, revenue, started_at, ended_at,
               touchpoint_path, phase_path, first_touchpoint, last_touchpoint
        from marts.journeys""")}
    assert got_journeys == {
        jid: (j["customer_id"], j["persona"], j["n_events"], j["converted"], j["revenue"], j["started_at"],
              j["ended_at"], " > ".join(j["touchpoints"]), " > ".join(j["phases"]), j["touchpoints"][0], j["touchpoints"][-1])
        for jid, j in journeys.items()
    }

    got_paths = {r[:3]: r[3:] for r in rows(con, """
        select level, persona, path, n_journeys, n_customers, n_converted, median_duration_seconds
        from marts.journey_paths""")}
    assert set(got_paths) == set(paths)
    for key, js in paths.items():
        n, n_customers, n_converted, median = got_paths[key]
        assert (n, n_customers, n_converted) == (len(js), len({j["customer_id"] for j in js}), sum(j["converted"] for j in js))
        assert median == pytest.approx(statistics.median((j["ended_at"] - j["started_at"]).total_seconds() for j in js))

    got_edges = {r[:2]: r[2:] for r in rows(con, "select from_touchpoint, to_touchpoint, n, probability, median_seconds from marts.touchpoint_transitions")}
    assert {k: v[0] for k, v in got_edges.items()} == {k: len(v) for k, v in edges.items()}
    out_of = Counter()
    for (a, _), v in edges.items():
        out_of[a] += len(v)
    for (a, b), seconds in edges.items():
        _, probability, median = got_edges[(a, b)]
        assert probability == pytest.approx(len(seconds) / out_of[a], abs=1e-12)
        known = [x for x in seconds if x is not None]
        assert median == (pytest.approx(statistics.median(known)) if known else None)

    assert events_not_once(con) == [] and journey_errors(con) == []
    assert path_count_errors(con) == [] and transition_probability_errors(con) == []
