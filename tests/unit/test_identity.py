"""Identity stitching (transforms/identity.py and sql/{intermediate,identity}/identity*.sql) on
tiny in-memory DuckDB inputs, with a union-find reference for random graphs."""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from unittest import mock

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from tests.unit.builders import STAGING_EVENTS_FROM_LISTS, configured
from transforms.config import IdentitySettings, load_config
from transforms.models import build_models

T0 = datetime(2025, 3, 1, 9, 0, 0)
DEVICE = ("anonymous_id",)


# --------------------------------------------------------------------------- helpers


def make_staging(con: duckdb.DuckDBPyConnection, events: list[dict], profiles: list[dict] | None = None) -> None:
    """staging.events and staging.profiles with the staging columns; missing fields are null."""
    for schema in ("staging", "identity", "intermediate"):
        con.execute(f"create schema if not exists {schema}")
    cols = ["event_id", "source", "event_name", "url", "url_path", "referrer", "utm_source", "utm_medium",
            "utm_campaign", "device", "channel", "satisfaction", "text"]
    n = len(events)
    p: dict = {c: [e.get(c) for e in events] for c in cols}
    p["source"] = [e.get("source", "clickstream") for e in events]
    p["occurred_at"] = [e.get("occurred_at", T0 + timedelta(minutes=i)) for i, e in enumerate(events)]
    p["ids_k"] = [list(e["identifiers"]) for e in events]
    p["ids_v"] = [list(e["identifiers"].values()) for e in events]
    p["amount"] = [e.get("amount") for e in events]
    p["csat"] = [e.get("csat") for e in events]
    p["properties"] = [e.get("properties") for e in events]
    p["n"] = n
    con.execute(
        STAGING_EVENTS_FROM_LISTS,
        p,
    )
    profiles = profiles or []
    con.execute(
        """
        create or replace table staging.profiles as
        select
            unnest($pid::varchar[]) as profile_id, 'crm_contacts' as source, unnest($pid::varchar[]) as source_profile_id,
            unnest($updated::timestamp[]) as updated_at,
            map(unnest($ids_k::varchar[][]), unnest($ids_v::varchar[][])) as identifiers,
            map(unnest($attr_k::varchar[][]), unnest($attr_v::varchar[][])) as attributes,
            date '2025-03-01' as _partition, 'test' as _source_file, 0::bigint as _line
        """,
        {
            "pid": [p["profile_id"] for p in profiles],
            "updated": [p.get("updated_at", T0) for p in profiles],
            "ids_k": [list(p["identifiers"]) for p in profiles],
            "ids_v": [list(p["identifiers"].values()) for p in profiles],
            "attr_k": [list(p.get("attributes", {})) for p in profiles],
            "attr_v": [list(p.get("attributes", {}).values()) for p in profiles],
        },
    )


def customers(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    return {(t, v): c for t, v, c in con.execute(
        "select identifier_type, identifier_value, customer_id from identity.customer_ids").fetchall()}


def event_customers(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select event_id, customer_id from intermediate.classified_events").fetchall())


def cid(identifier_type: str, value: str) -> str:
    return "c_" + hashlib.sha256(f"{identifier_type}:{value}".encode()).hexdigest()[:16]


@cache
def default_config():
    return load_config()


def run(events: list[dict], profiles: list[dict] | None = None, max_linked: int = 10, classify: bool = False):
    con = duckdb.connect()
    make_staging(con, events, profiles)
    targets = ["identity.customer_ids", "identity.shared_identifiers"]
    build_models(con, configured(identity=IdentitySettings(max_linked_identifiers=max_linked)),
                 [*targets, "intermediate.classified_events"] if classify else targets)
    return con


def ev(event_id: str, **identifiers: str) -> dict:
    return {"event_id": event_id, "event_name": "Product Viewed", "identifiers": identifiers}


# --------------------------------------------------------------------------- crafted cases


def test_anonymous_browsing_then_identify_is_one_customer_with_earlier_events():
    events = [
        ev("clickstream:1", anonymous_id="anon-1"),  # anonymous browsing ...
        ev("clickstream:2", anonymous_id="anon-1"),
        ev("clickstream:3", anonymous_id="anon-1", user_id="u1", email="hash-jane"),  # ... then identify
        ev("clickstream:4", anonymous_id="anon-2", user_id="u1"),  # a second device, signed in
        ev("clickstream:5", anonymous_id="anon-2"),
        {"event_id": "crm:1", "source": "crm", "event_name": "email_sent",
         "identifiers": {"crm_contact_id": "501", "email": "hash-jane"}},
        {"event_id": "support:1", "source": "support", "event_name": "ticket_created",
         "identifiers": {"support_requester_id": "77", "email": "hash-jane"}},
        ev("clickstream:9", anonymous_id="anon-9"),  # somebody else
    ]
    con = run(events, classify=True)
    by_event = event_customers(con)
    jane = {by_event[e] for e in ("clickstream:1", "clickstream:2", "clickstream:3", "clickstream:4",
                                  "clickstream:5", "crm:1", "support:1")}
    assert len(jane) == 1
    # the id comes from the smallest identifier key of the component
    assert jane == {cid("anonymous_id", "anon-1")}
    assert by_event["clickstream:9"] == cid("anonymous_id", "anon-9")
    assert con.execute("select count(*) from identity.shared_identifiers").fetchall()[0][0] == 0


def test_shared_device_linking_many_users_merges_none_of_them():
    kiosk = "kiosk-anon"
    events = [ev("clickstream:k0", anonymous_id=kiosk)]  # anonymous browsing on the kiosk
    for i in range(15):
        events.append(ev(f"clickstream:k{i + 1}", anonymous_id=kiosk, user_id=f"u{i}"))  # signs in on the kiosk
        events.append(ev(f"clickstream:h{i}", anonymous_id=f"home-{i}", user_id=f"u{i}"))  # and at home
    con = run(events, max_linked=10, classify=True)
    ids = customers(con)
    users = {ids[("user_id", f"u{i}")] for i in range(15)}
    assert len(users) == 15  # nobody merged through the kiosk
    for i in range(15):  # each user keeps their own devices
        assert ids[("anonymous_id", f"home-{i}")] == ids[("user_id", f"u{i}")]
    assert ids[("anonymous_id", kiosk)] == cid("anonymous_id", kiosk)  # its own customer
    assert ids[("anonymous_id", kiosk)] not in users
    shared = con.execute("select identifier_type, identifier_value, linked_type, n_linked from identity.shared_identifiers").fetchall()
    assert shared == [("anonymous_id", kiosk, "user_id", 15)]
    by_event = event_customers(con)
    for i in range(15):  # a signed-in kiosk event belongs to the user, not to the kiosk
        assert by_event[f"clickstream:k{i + 1}"] == ids[("user_id", f"u{i}")]
    assert by_event["clickstream:k0"] == ids[("anonymous_id", kiosk)]


def test_limit_is_per_type_and_a_person_may_use_many_devices():
    events = [ev(f"clickstream:{i}", anonymous_id=f"a{i}", user_id="u1") for i in range(25)]
    con = run(events, max_linked=10)
    assert len(set(customers(con).values())) == 1
    assert con.execute("select count(*) from identity.shared_identifiers").fetchall()[0][0] == 0


def test_role_address_shared_by_many_contacts_merges_nobody():
    events = [{"event_id": f"crm:{i}", "source": "crm", "event_name": "call",
               "identifiers": {"crm_contact_id": str(500 + i), "email": "hash-info@"}} for i in range(12)]
    profiles = [{"profile_id": f"crm_contacts:{500 + i}",
                 "identifiers": {"crm_contact_id": str(500 + i), "email": "hash-info@"}} for i in range(12)]
    con = run(events, profiles, max_linked=10, classify=True)
    by_event = event_customers(con)
    assert len(set(by_event.values())) == 12
    assert con.execute("select identifier_type, linked_type, n_linked from identity.shared_identifiers").fetchall() == [
        ("email", "crm_contact_id", 12)
    ]


def test_limit_is_configurable():
    events = [ev(f"clickstream:{i}", anonymous_id="kiosk", user_id=f"u{i}") for i in range(5)]
    assert len(set(customers(run(events, max_linked=10)).values())) == 1
    assert len(set(customers(run(events, max_linked=4)).values())) == 6


def test_profiles_link_identifiers_too():
    events = [
        {"event_id": "crm:1", "source": "crm", "event_name": "call", "identifiers": {"crm_contact_id": "9"}},
        ev("clickstream:1", anonymous_id="a", email="hash-x"),
    ]
    profiles = [{"profile_id": "crm_contacts:9", "identifiers": {"crm_contact_id": "9", "email": "hash-x"}}]
    con = run(events, profiles, classify=True)
    assert len(set(event_customers(con).values())) == 1


def test_customer_ids_are_stable_when_unrelated_data_arrives():
    base = [ev("clickstream:1", anonymous_id="a1", user_id="u1"), ev("clickstream:2", anonymous_id="a2")]
    before = customers(run(base))
    more = base + [ev("clickstream:3", anonymous_id="a0", user_id="u9"), ev("clickstream:4", anonymous_id="b")]
    after = customers(run(more))
    assert {k: after[k] for k in before} == before


# --------------------------------------------------------------------------- property test

TYPES = ("anonymous_id", "user_id", "email")


def reference(records: list[dict[str, str]], max_linked: int) -> dict[tuple[str, str], str]:
    """Union-find over identifiers seen together, after cutting shared identifiers."""
    nodes = {(t, v) for r in records for t, v in r.items()}
    linked: dict[tuple, set] = defaultdict(set)
    pairs = set()
    for r in records:
        items = list(r.items())
        for a in items:
            for b in items:
                if a != b:
                    pairs.add((a, b))
                    if a[0] in DEVICE or b[0] not in DEVICE:
                        linked[(a, b[0])].add(b)
    shared = {a for (a, _), others in linked.items() if len(others) > max_linked}
    parent = {n: n for n in nodes}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        if a not in shared and b not in shared:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    smallest: dict = {}
    for n in nodes:
        key = f"{n[0]}:{n[1]}"
        r = find(n)
        smallest[r] = min(smallest.get(r, key), key)
    return {n: "c_" + hashlib.sha256(smallest[find(n)].encode()).hexdigest()[:16] for n in nodes}


identifier_sets = st.lists(
    st.dictionaries(st.sampled_from(TYPES), st.integers(0, 7).map(str), min_size=1, max_size=3),
    min_size=1, max_size=40,
)


# Table comments are not under test here (the pipeline test checks them): skip them for speed.
no_comments = mock.patch("transforms.warehouse.apply_comments", lambda con, relation: None)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=identifier_sets, max_linked=st.sampled_from([1, 2, 3, 100]), seed=st.integers(0, 2**32))
@no_comments
def test_customers_are_the_connected_components_of_a_union_find_reference(records, max_linked, seed):
    records = [{t: f"{t[0]}{v}" for t, v in r.items()} for r in records]
    events = [{"event_id": f"clickstream:{i}", "event_name": "x", "identifiers": r} for i, r in enumerate(records)]
    expected = reference(records, max_linked)
    assert customers(run(events, max_linked=max_linked)) == expected
    # input order does not matter: neither the order of events nor of identifiers within one
    rng = random.Random(seed)
    shuffled = [dict(rng.sample(list(e["identifiers"].items()), len(e["identifiers"]))) for e in events]
    events2 = [{**e, "identifiers": s} for e, s in zip(events, shuffled, strict=True)]
    rng.shuffle(events2)
    assert customers(run(events2, max_linked=max_linked)) == expected


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=identifier_sets, max_linked=st.sampled_from([1, 2, 100]))
@no_comments
def test_every_event_gets_exactly_one_customer_of_its_own_identifiers(records, max_linked):
    records = [{t: f"{t[0]}{v}" for t, v in r.items()} for r in records]
    events = [{"event_id": f"clickstream:{i}", "event_name": "x", "identifiers": r} for i, r in enumerate(records)]
    con = run(events, max_linked=max_linked, classify=True)
    ids = customers(con)
    shared = {(t, v) for t, v in con.execute("select identifier_type, identifier_value from identity.shared_identifiers").fetchall()}
    by_event = event_customers(con)
    assert len(by_event) == len(events)
    for e in events:
        options = sorted((k in shared, k[0] in DEVICE, ids[k]) for k in e["identifiers"].items())
        assert by_event[e["event_id"]] == options[0][2]


def test_a_long_chain_is_one_customer():
    # a0 - u0 - a1 - u1 - ... - a59 - u59: each user signs in on two consecutive browsers
    events = []
    for i in range(60):
        events.append({"event_id": f"e{i}a", "event_name": "x", "identifiers": {"anonymous_id": f"a{i:03d}", "user_id": f"u{i:03d}"}})
        events.append({"event_id": f"e{i}b", "event_name": "x", "identifiers": {"anonymous_id": f"a{i + 1:03d}", "user_id": f"u{i:03d}"}})
    ids = customers(run(events, max_linked=100))
    assert set(ids.values()) == {cid("anonymous_id", "a000")}


# --------------------------------------------------------------------------- personas


def test_customer_profiles_persona_from_the_latest_profile():
    def crm(event_id: str, contact: str) -> dict:
        return {"event_id": event_id, "source": "crm", "event_name": "call", "identifiers": {"crm_contact_id": contact}}

    def contact(contact: str, updated: datetime, **attributes: str) -> dict:
        return {"profile_id": f"crm_contacts:{contact}", "identifiers": {"crm_contact_id": contact, "email": f"h{contact}"},
                "updated_at": updated, "attributes": attributes}

    events = [crm("crm:1", "1"), crm("crm:2", "2"), crm("crm:3", "3"), crm("crm:4", "4"),
              ev("clickstream:1", anonymous_id="anon", email="h1"), ev("clickstream:9", anonymous_id="nobody")]
    profiles = [
        contact("1", T0, segment="consumer", lifecycle_stage="lead"),
        # a second profile of customer 1 (same email), updated later: it wins
        {**contact("1b", T0 + timedelta(days=3), segment="SMB", company="Acme", lifecycle_stage="customer"),
         "identifiers": {"crm_contact_id": "1b", "email": "h1"}},
        contact("2", T0, company_size="5001-10000"),  # no segment: company size decides
        contact("3", T0, segment="government"),  # matches no rule
        contact("4", T0, segment="Enterprise", industry="Retail", company_size="1-10"),  # first rule wins
        contact("5", T0, segment="consumer"),  # a profile without events: not a customer row
    ]
    con = run(events, profiles)
    build_models(con, default_config(), ["intermediate.customer_profiles"])
    ids = customers(con)
    got = {c: (p, comp, seg, stage) for c, p, comp, seg, stage in con.execute(
        "select customer_id, persona, company, segment, lifecycle_stage from intermediate.customer_profiles").fetchall()}
    assert got[ids[("crm_contact_id", "1")]] == ("small_business", "Acme", "SMB", "customer")
    assert got[ids[("crm_contact_id", "2")]][0] == "enterprise_buyer"
    assert got[ids[("crm_contact_id", "3")]][0] == "unknown"
    assert got[ids[("crm_contact_id", "4")]][0] == "enterprise_buyer"
    assert got[ids[("anonymous_id", "nobody")]] == ("unknown", None, None, None)
    assert ids[("crm_contact_id", "5")] not in got
    assert set(got) == set(event_customers(con).values())


def test_the_sets_counted_per_landing_day_add_up_to_the_sets_counts():
    """A full build counts the identifier sets per source and landing day too
    (intermediate._identity_partition_sets, what a nightly run recounts by day): they add up to
    intermediate.identity_sets, which also counts the profiles' sets."""
    events = [ev("clickstream:1", anonymous_id="a1"), ev("clickstream:2", anonymous_id="a1", user_id="u1"),
              ev("clickstream:3", anonymous_id="a1"), {"event_id": "crm:1", "source": "crm", "event_name": "x",
                                                       "identifiers": {"crm_contact_id": "501"}},
              ev("clickstream:4")]
    profiles = [{"profile_id": "crm_contacts:501", "identifiers": {"crm_contact_id": "501", "email": "h1"}},
                {"profile_id": "crm_contacts:502", "identifiers": {"crm_contact_id": "501"}}]
    con = run(events, profiles)
    sets = con.execute("select identifier_set, n_events, n_profiles from intermediate.identity_sets order by all").fetchall()
    assert sets == [("{anonymous_id=a1, user_id=u1}", 1, 0), ("{anonymous_id=a1}", 2, 0),
                    ("{crm_contact_id=501, email=h1}", 0, 1), ("{crm_contact_id=501}", 1, 1), ("{}", 1, 0)]
    by_day = con.execute("select identifier_set, sum(n_events) from intermediate._identity_partition_sets "
                         "group by all order by all").fetchall()
    assert by_day == [(s, n) for s, n, _ in sets if n]
