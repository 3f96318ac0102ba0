"""Sessions (marts.sessions, marts.journey_events.session_id) and visit-level touchpoint paths
(marts.journeys.touchpoint_path, marts.journey_paths and its path definitions): crafted cases
and hypothesis property tests against a brute-force Python reference written here."""

from __future__ import annotations

from collections import Counter, defaultdict

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.test_journeys import Ev, rows, warehouse
from transforms.config import JourneySettings, PathDefinition, PathPoint

SESSION_SECONDS = 30 * 60
JOURNEY_SECONDS = 30 * 86400
VISIT_SOURCE = "clickstream"


# --------------------------------------------------------------------------- the reference


def ordered(events: list[Ev]) -> dict[str, list[Ev]]:
    by_customer: dict[str, list[Ev]] = defaultdict(list)
    for e in events:
        if e.customer_id is not None:
            by_customer[e.customer_id].append(e)
    return {c: sorted(evs, key=lambda e: (e.at, e.source_rank, e.event_id)) for c, evs in by_customer.items()}


def reference(events: list[Ev], session_seconds: float = SESSION_SECONDS) -> dict:
    """Sessions and visit-level paths, one event at a time, the way the semantics read:
    a session ends after more than `session_seconds` without a visit event or at an event whose
    campaign is not the session's; a journey ends at a conversion or before a 30-day gap; a
    touchpoint path is the journey's items (a visit named by how it began, or a front-stage
    classified event) in order of their first event, unclassified items left out, repeats
    collapsed."""
    session_of: dict[str, str] = {}
    sessions: list[tuple] = []
    journeys: list[dict] = []
    for c, evs in ordered(events).items():
        # sessions
        n, last_at, campaign, current = 0, None, None, None
        for e in evs:
            if e.source != VISIT_SOURCE:
                continue
            if (last_at is None or (e.at - last_at).total_seconds() > session_seconds
                    or (e.utm_campaign is not None and e.utm_campaign != campaign)):
                n += 1
                campaign = e.utm_campaign
                entry = "website" if e.touchpoint == "direct" else e.touchpoint
                current = {"id": f"{c}-s{n:04d}", "n": n, "entry": entry, "events": []}
                sessions.append(current)  # type: ignore[arg-type]
            current["events"].append(e)  # type: ignore[index]
            session_of[e.event_id] = current["id"]  # type: ignore[index]
            last_at = e.at
        entry_of = {s["id"]: s["entry"] for s in sessions}  # type: ignore[index]
        # journeys
        cut: list[list[Ev]] = []
        for e in evs:
            if not cut or cut[-1][-1].is_conversion or (e.at - cut[-1][-1].at).total_seconds() > JOURNEY_SECONDS:
                cut.append([])
            cut[-1].append(e)
        for j in cut:
            items: dict[tuple, dict] = {}
            for i, e in enumerate(j):
                if e.event_id in session_of:
                    key: tuple = ("visit", session_of[e.event_id])
                    name = entry_of[session_of[e.event_id]]
                elif e.touchpoint != "unclassified" and e.stage == "front":
                    key, name = ("event", e.event_id), e.touchpoint
                else:
                    continue
                items.setdefault(key, {"name": name, "first": i, "events": []})["events"].append(e)
            steps: list[dict] = []
            for item in sorted(items.values(), key=lambda it: it["first"]):
                if item["name"] == "unclassified":
                    continue
                if steps and steps[-1]["name"] == item["name"]:
                    steps[-1]["items"].append(item)
                else:
                    steps.append({"name": item["name"], "first": item["first"], "items": [item]})
            if steps:
                path = " > ".join(s["name"] for s in steps)
            else:
                path = "unclassified" if all(e.touchpoint == "unclassified" for e in j) else "(none)"
            journeys.append({"customer": c, "events": j, "steps": steps, "path": path,
                             "converted": j[-1].is_conversion})
    session_rows = sorted(
        (s["id"], s["n"], s["entry"], s["events"][0].at, s["events"][-1].at, len(s["events"]),
         any(e.is_conversion for e in s["events"]), s["events"][0].url_path)
        for s in sessions  # type: ignore[index]
    )
    return {"session_of": session_of, "sessions": session_rows, "journeys": journeys}


def step_of_event(journey: dict, event: Ev) -> int | None:
    """1-based step an event happened in: its item's step, or for an event outside every item
    the step of the last item begun at or before it."""
    position = next(i for i, e in enumerate(journey["events"]) if e.event_id == event.event_id)
    found = None
    for n, step in enumerate(journey["steps"], start=1):
        for item in step["items"]:
            if any(e.event_id == event.event_id for e in item["events"]):
                return n
            if item["first"] <= position:
                found = n if found is None or n > found else found
    return found


def defined_path(journey: dict, d: PathDefinition) -> str | None:
    """The path of one journey under a path definition (None: the journey is left out)."""
    names = [s["name"] for s in journey["steps"]] or [journey["path"]]

    def anchored(point: PathPoint, after: int) -> int | None:
        if point.touchpoint is not None:
            hits = [i for i, n in enumerate(names, start=1) if n == point.touchpoint and i >= after]
        else:
            hits = [s for e in journey["events"] if e.event_name == point.event_name
                    for s in [step_of_event(journey, e)] if s is not None and s >= after]
        return min(hits) if hits else None

    start = anchored(d.start, 1) if d.start else 1
    if start is None:
        return None
    end = anchored(d.end, start) if d.end else len(names)
    if end is None:
        return None
    steps: list[str] = []
    for n in names[start - 1:end]:
        if n not in d.exclude and (not steps or steps[-1] != n):
            steps.append(n)
    if d.max_steps is not None and len(steps) > d.max_steps:
        steps = steps[-d.max_steps:] if d.start is None and d.end is not None else steps[:d.max_steps]
    return " > ".join(steps) or "(none)"


# --------------------------------------------------------------------------- crafted cases


def web(event_id: str, minutes: float, touchpoint: str = "website", **kw) -> Ev:
    return Ev(event_id, "c1", minutes, touchpoint, source=VISIT_SOURCE, **kw)


def test_a_session_ends_after_thirty_minutes_and_at_a_new_campaign_but_not_at_midnight():
    # 23:50 -> 00:10 is one visit; a 31-minute gap and a new campaign each start one; a
    # campaign repeated inside its own visit does not
    events = [
        web("w1", 14 * 60 + 50, "email", utm_campaign="spring", url_path="/"),
        web("w2", 14 * 60 + 60, utm_campaign="spring"), web("w3", 15 * 60 + 10),  # crosses 00:00 (T0 is 09:00)
        web("w4", 15 * 60 + 41, "direct", url_path="/cart"),
        web("w5", 15 * 60 + 45, "paid_search", utm_campaign="brand"),
        Ev("x1", "c1", 15 * 60 + 46, "crm", source="crm", stage="back"),
        web("w6", 15 * 60 + 50, is_conversion=True),
    ]
    con = warehouse(events)
    assert rows(con, "select session_id, entry_touchpoint, landing_page, n_events, duration_seconds, converted "
                     "from marts.sessions order by 1") == [
        ("c1-s0001", "email", "/", 3, 1200.0, False),
        ("c1-s0002", "website", "/cart", 1, 0.0, False),
        ("c1-s0003", "paid_search", None, 2, 300.0, True),
    ]
    assert rows(con, "select event_id, session_id from marts.journey_events order by occurred_at") == [
        ("w1", "c1-s0001"), ("w2", "c1-s0001"), ("w3", "c1-s0001"), ("w4", "c1-s0002"),
        ("w5", "c1-s0003"), ("x1", None), ("w6", "c1-s0003"),
    ]
    # a visit is one step named by how it began; the back-stage crm event is left out
    assert rows(con, "select touchpoint_path from marts.journeys") == [("email > website > paid_search",)]


def test_a_visit_is_one_step_and_offline_steps_between_visits_stay():
    events = [
        web("w1", 0, "direct"), web("w2", 1), web("w3", 2, "direct"), web("w4", 3),
        Ev("s1", "c1", 60, "support_email", source="support"),
        web("w5", 120, "direct"), web("w6", 121),
        Ev("k1", "c1", 200, "crm", source="crm", stage="back"),
    ]
    con = warehouse(events, journey_settings=JourneySettings(paths=[PathDefinition(name="no_support", exclude=["support_email"])]))
    assert rows(con, "select touchpoint_path, first_touchpoint, last_touchpoint, n_touchpoint_steps from marts.journeys") == [
        ("website > support_email > website", "website", "website", 3)]
    # leaving a step out makes two visits meet: they collapse into one step
    assert rows(con, "select path from marts.journey_paths where definition = 'no_support' and persona = 'all'") == [("website",)]
    assert rows(con, "select from_touchpoint, to_touchpoint, n from marts.touchpoint_transitions order by 1, 2") == [
        ("(start)", "website", 1), ("support_email", "website", 1), ("website", "(exit)", 1),
        ("website", "support_email", 1)]
    assert rows(con, "select count(*) from marts.touchpoint_transitions where 'crm' in (from_touchpoint, to_touchpoint)") == [(0,)]


def test_a_journey_of_back_stage_events_only_has_the_path_none():
    con = warehouse([Ev("k1", "c1", 0, "crm", source="crm", stage="back")])
    assert rows(con, "select touchpoint_path, first_touchpoint, n_touchpoint_steps from marts.journeys") == [("(none)", "(none)", 0)]
    assert rows(con, "select from_touchpoint, to_touchpoint from marts.touchpoint_transitions order by 1") == [
        ("(none)", "(exit)"), ("(start)", "(none)")]


def test_path_definitions_cut_at_start_and_end_limit_steps_and_exclude():
    events = [
        web("a1", 0, "paid_search", utm_campaign="x"), Ev("e1", "c1", 60, "email", source="crm"),
        web("a2", 120, "email", utm_campaign="y", event_name="Product Viewed"),
        Ev("t1", "c1", 200, "sales_call", source="crm"), web("a3", 300, "direct"),
        web("a4", 301, is_conversion=True, event_name="Order Completed"),
    ]
    defs = [
        PathDefinition(name="from_email", start=PathPoint(touchpoint="email"), max_steps=2),
        PathDefinition(name="to_order", end=PathPoint(event_name="Order Completed"), max_steps=3,
                       exclude=["sales_call"]),
        PathDefinition(name="viewed_to_call", start=PathPoint(event_name="Product Viewed"),
                       end=PathPoint(touchpoint="sales_call")),
        PathDefinition(name="never", start=PathPoint(touchpoint="live_chat")),
    ]
    con = warehouse(events, journey_settings=JourneySettings(paths=defs))
    assert rows(con, "select touchpoint_path from marts.journeys") == [
        ("paid_search > email > sales_call > website",)]
    assert rows(con, "select definition, path, n_journeys, n_converted from marts.journey_paths "
                     "where level = 'touchpoint' and persona = 'all' order by definition") == [
        ("all", "paid_search > email > sales_call > website", 1, 1),
        ("from_email", "email > sales_call", 1, 1),
        ("to_order", "paid_search > email > website", 1, 1),
        ("viewed_to_call", "email > sales_call", 1, 1),
    ]


# --------------------------------------------------------------------------- properties

TOUCHPOINTS = {
    "clickstream": ["direct", "website", "email", "paid_search", "unclassified"],
    "crm": ["email", "crm", "sales_call", "unclassified"],
    "support": ["support_email", "live_chat"],
}
GAPS = [0, 1, 10, 29, 30, 31, 45, 200, 43_201]  # minutes: around the session and journey timeouts


@st.composite
def timelines(draw):
    events = []
    for c in ("c1", "c2"):
        minutes = 0.0
        for i in range(draw(st.integers(0, 14))):
            minutes += draw(st.sampled_from(GAPS))
            source = draw(st.sampled_from(["clickstream", "clickstream", "crm", "support"]))
            touchpoint = draw(st.sampled_from(TOUCHPOINTS[source]))
            events.append(Ev(
                f"{c}:{i:02d}", c, minutes, touchpoint,
                is_conversion=draw(st.sampled_from([False] * 6 + [True])),
                source_rank=draw(st.integers(1, 2)), source=source,
                utm_campaign=draw(st.sampled_from([None, None, "a", "b"])) if source == "clickstream" else None,
                stage="back" if touchpoint == "crm" else "front",
                url_path=draw(st.sampled_from([None, "/", "/p/1"])),
                event_name=draw(st.sampled_from(["evt", "evt", "buy", "help"])),
            ))
    return events


@st.composite
def definitions(draw):
    def point():
        if draw(st.booleans()):
            return PathPoint(touchpoint=draw(st.sampled_from(["email", "website", "sales_call", "support_email"])))
        return PathPoint(event_name=draw(st.sampled_from(["buy", "help"])))

    start = point() if draw(st.booleans()) else None
    end = point() if draw(st.booleans()) else None
    anchors = {p.touchpoint for p in (start, end) if p is not None and p.touchpoint}
    exclude = [t for t in draw(st.lists(st.sampled_from(["email", "website", "paid_search"]), max_size=2, unique=True))
               if t not in anchors]
    return PathDefinition(name="d", start=start, end=end, exclude=exclude,
                          max_steps=draw(st.sampled_from([None, 1, 2, 3])))


_CON = duckdb.connect()
_CON.execute("set TimeZone = 'UTC'")


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timelines(), definitions())
def test_sessions_and_visit_paths_match_a_brute_force_reference(events, definition):
    con = warehouse(events, journey_settings=JourneySettings(paths=[definition]), documented=False, con=_CON)
    ref = reference(events)
    assert rows(con, "select session_id, session_number, entry_touchpoint, started_at, ended_at, n_events, "
                     "converted, landing_page from marts.sessions order by session_id") == [
        (*s[:7], next((e.url_path for e in ref_events(ref, s[0]) if e.url_path), None)) for s in ref["sessions"]]
    assert dict(rows(con, "select event_id, session_id from marts.journey_events where session_id is not null")) == ref["session_of"]
    assert sorted(r[0] for r in rows(con, "select touchpoint_path from marts.journeys")) == sorted(
        j["path"] for j in ref["journeys"])
    # no path holds a back-stage touchpoint
    assert not [p for j in ref["journeys"] for p in [j["path"]] if "crm" in p.split(" > ")]
    expected = Counter(p for j in ref["journeys"] for p in [defined_path(j, definition)] if p is not None)
    assert dict(rows(con, "select path, n_journeys from marts.journey_paths where definition = 'd' "
                          "and level = 'touchpoint' and persona = 'all'")) == dict(expected)


def ref_events(ref: dict, session_id: str) -> list[Ev]:
    return sorted((e for j in ref["journeys"] for e in j["events"] if ref["session_of"].get(e.event_id) == session_id),
                  key=lambda e: (e.at, e.source_rank, e.event_id))


# --------------------------------------------------------------------------- configuration


def _settings_with(tmp_path, journeys: dict):
    import yaml

    from transforms.config import DEFAULTS_DIR

    data = yaml.safe_load((DEFAULTS_DIR / "settings.yaml").read_text(encoding="utf-8"))
    data["journeys"].update(journeys)
    (tmp_path / "settings.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")


@pytest.mark.parametrize(("journeys", "key", "says"), [
    ({"paths": [{"name": "p", "start": {"touchpoint": "webside"}}]}, "journeys.paths[0] (p).start.touchpoint",
     "unknown touchpoint 'webside'"),
    ({"paths": [{"name": "p", "start": {"touchpoint": "email"}, "exclude": ["email"]}]}, "journeys.paths[0] (p).exclude",
     "cannot be excluded"),
    ({"paths": [{"name": "all"}]}, "journeys.paths[0].name", "'all' is the definition"),
    ({"paths": [{"name": "p", "end": {"touchpoint": "email", "event_name": "x"}}]}, "journeys.paths[0].end",
     "exactly one of touchpoint or event_name"),
    ({"session_sources": ["clikstream"]}, "journeys.session_sources", "unknown source 'clikstream'"),
    ({"session_timeout": "half an hour"}, "journeys.session_timeout", ""),
    ({"direct_visit_touchpoint": "site"}, "journeys.direct_visit_touchpoint", "unknown touchpoint 'site'"),
])
def test_bad_session_and_path_settings_name_the_file_and_key(tmp_path, journeys, key, says):
    from transforms.config import ConfigError, load_config

    _settings_with(tmp_path, journeys)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "settings.yaml") in msg and key in msg and says in msg, msg
