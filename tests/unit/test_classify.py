"""Classification (transforms/classify.py, sql/intermediate/classified_events.sql): each family of
the default rules, the matching semantics, and rule-config errors found before a run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import duckdb
import pytest

from tests.unit.builders import (
    EMPTY_STAGING_PROFILES,
    STAGING_EVENTS_FROM_LISTS,
    configured,
    offending,
)
from transforms.config import ConfigError, IdentitySettings, load_config
from transforms.models import build_models

T0 = datetime(2025, 3, 1, 9, 0, 0)
SITE = "https://shop.example.com"


def make_staging(con: duckdb.DuckDBPyConnection, events: list[dict]) -> None:
    """staging.events (staging columns; missing fields null) and an empty staging.profiles."""
    for schema in ("staging", "identity", "intermediate"):
        con.execute(f"create schema if not exists {schema}")
    cols = ["event_id", "source", "event_name", "url", "url_path", "referrer", "utm_source", "utm_medium",
            "utm_campaign", "device", "channel", "satisfaction", "text"]
    p: dict = {c: [e.get(c) for e in events] for c in cols}
    p["source"] = [e.get("source", "clickstream") for e in events]
    p["occurred_at"] = [T0 + timedelta(minutes=i) for i in range(len(events))]
    p["ids_k"] = [list(e.get("identifiers", {"anonymous_id": e["event_id"]})) for e in events]
    p["ids_v"] = [list(e.get("identifiers", {"anonymous_id": e["event_id"]}).values()) for e in events]
    p["amount"] = [e.get("amount") for e in events]
    p["csat"] = [e.get("csat") for e in events]
    p["properties"] = [json.dumps(e["properties"]) if "properties" in e else None for e in events]
    p["n"] = len(events)
    con.execute(
        STAGING_EVENTS_FROM_LISTS,
        p,
    )
    con.execute(EMPTY_STAGING_PROFILES)


@cache
def default_config():
    return load_config()


def classify(events: list[dict], config=None) -> dict[str, dict]:
    """event_id -> its intermediate.classified_events row."""
    con = duckdb.connect()
    make_staging(con, events)
    config = config or default_config()
    build_models(con, config, ["intermediate.classified_events"])
    cur = con.execute("select * from intermediate.classified_events")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def page(path: str, referrer: str | None = f"{SITE}/previous", **extra) -> dict:
    return {"event_name": "page", "url": SITE + path, "url_path": path, "referrer": referrer, "device": "desktop", **extra}


# --------------------------------------------------------------------------- default rule families
# (case id, event, expected touchpoint, expected phase)

SEGMENT_ECOMMERCE = {
    "Products Searched": "interest", "Product List Viewed": "interest", "Product List Filtered": "interest",
    "Promotion Viewed": "interest", "Promotion Clicked": "interest", "Product Clicked": "interest",
    "Product Viewed": "interest", "Product Added to Wishlist": "interest", "Product Removed from Wishlist": "interest",
    "Product Added": "purchase", "Product Removed": "purchase", "Wishlist Product Added to Cart": "purchase",
    "Cart Viewed": "purchase", "Checkout Started": "purchase", "Checkout Step Viewed": "purchase",
    "Checkout Step Completed": "purchase", "Payment Info Entered": "purchase", "Coupon Entered": "purchase",
    "Coupon Applied": "purchase", "Coupon Denied": "purchase", "Coupon Removed": "purchase",
    "Order Updated": "purchase", "Order Completed": "purchase", "Order Cancelled": "purchase",
    "Order Refunded": "usage", "Product Reviewed": "advocacy", "Product Shared": "advocacy", "Cart Shared": "advocacy",
}
CASES: list[tuple[str, dict, str, str]] = []
for name, phase in SEGMENT_ECOMMERCE.items():
    CASES.append((f"web {name}", {"event_name": name, "device": "desktop", "url": f"{SITE}/p/1", "url_path": "/p/1",
                                  "referrer": "https://www.google.com/"}, "website", phase))
    CASES.append((f"app {name}", {"event_name": name, "device": "ios"}, "mobile_app", phase))
for name in ("identify", "Signed In", "Signed Up", "Signed Out"):
    CASES.append((f"web {name}", {"event_name": name, "device": "mobile"}, "website", "interest"))
    CASES.append((f"app {name}", {"event_name": name, "device": "android"}, "mobile_app", "interest"))
CASES += [
    ("app screen", {"event_name": "screen", "device": "ios", "properties": {"sku": "SKU-1"}}, "mobile_app", "interest"),
    ("app help screen", {"event_name": "screen", "device": "android", "properties": {"topic": "returns"}}, "mobile_app", "usage"),
    ("screen without device", {"event_name": "screen"}, "mobile_app", "interest"),
    ("app installed", {"event_name": "Application Installed", "device": "ios"}, "mobile_app", "awareness"),
    ("app opened", {"event_name": "Application Opened", "device": "ios"}, "mobile_app", "interest"),
]
PAGES = {
    "/": "awareness", "/blog/ergonomics-101": "awareness", "/search": "interest", "/c/laptops": "interest",
    "/p/SKU-00001": "interest", "/pricing": "comparison", "/compare": "comparison",
    "/p/SKU-00001/reviews": "comparison", "/cart": "purchase", "/checkout": "purchase",
    "/account": "usage", "/help/returns": "usage", "/about-us": "interest",
}
for path, phase in PAGES.items():
    CASES.append((f"page {path}", page(path), "website", phase))
    CASES.append((f"direct {path}", page(path, referrer=None), "direct", phase))
CHANNELS = [
    ("paid search google cpc", {"utm_source": "google", "utm_medium": "cpc", "referrer": "https://www.google.com/"}, "paid_search"),
    ("paid search bing ppc", {"utm_source": "bing", "utm_medium": "ppc"}, "paid_search"),
    ("paid search medium", {"utm_source": "whatever", "utm_medium": "paid_search"}, "paid_search"),
    ("organic search referrer", {"referrer": "https://www.google.com/"}, "organic_search"),
    ("organic search referrer co.uk", {"referrer": "https://www.google.co.uk/search?q=x"}, "organic_search"),
    ("organic search duckduckgo", {"referrer": "https://duckduckgo.com/"}, "organic_search"),
    ("organic search utm", {"utm_source": "google", "utm_medium": "organic"}, "organic_search"),
    ("paid social medium", {"utm_source": "facebook", "utm_medium": "paid_social", "referrer": "https://m.facebook.com/"}, "paid_social"),
    ("paid social cpc", {"utm_source": "instagram", "utm_medium": "cpc"}, "paid_social"),
    ("organic social t.co", {"referrer": "https://t.co/"}, "organic_social"),
    ("organic social facebook", {"referrer": "https://l.facebook.com/"}, "organic_social"),
    ("organic social utm", {"utm_source": "linkedin", "utm_medium": "social"}, "organic_social"),
    ("email", {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly"}, "email"),
    ("sms", {"utm_source": "attentive", "utm_medium": "sms"}, "sms"),
    ("display", {"utm_source": "criteo", "utm_medium": "display", "referrer": "https://news.example.net/"}, "display"),
    ("display cpm", {"utm_source": "dv360", "utm_medium": "cpm"}, "display"),
    ("referral", {"referrer": "https://www.techradar.example/best-laptops-2025"}, "referral"),
    ("referral utm", {"utm_source": "partner-blog", "utm_medium": "referral"}, "referral"),
    ("direct", {"referrer": None}, "direct"),
    ("internal", {"referrer": f"{SITE}/c/laptops"}, "website"),
    ("internal www", {"referrer": "https://www.shop.example.com/c/laptops"}, "website"),
]
for case, extra, touchpoint in CHANNELS:
    expected_phase = "interest" if touchpoint in ("website", "direct") else "awareness"
    CASES.append((f"channel {case}", page("/p/SKU-00001", **extra), touchpoint, expected_phase))
CRM = {
    "lead_created": ("crm", "interest"), "email_sent": ("email", "awareness"), "email_opened": ("email", "interest"),
    "email_clicked": ("email", "interest"), "call": ("sales_call", "interest"), "meeting": ("sales_call", "comparison"),
    "demo": ("sales_call", "comparison"), "quote_sent": ("sales_call", "purchase"), "deal_won": ("sales_call", "purchase"),
    "deal_lost": ("sales_call", "purchase"), "store_visit": ("in_store", "interest"), "store_purchase": ("in_store", "purchase"),
}
for name, (touchpoint, phase) in CRM.items():
    CASES.append((f"crm {name}", {"source": "crm", "event_name": name, "channel": "phone",
                                  "identifiers": {"crm_contact_id": "1"}}, touchpoint, phase))
SUPPORT = {"email": "support_email", "web": "support_email", "chat": "live_chat", "voice": "call_center",
           "whatsapp": "messaging", "api": "support_email"}
for channel, touchpoint in SUPPORT.items():
    for etype in ("ticket_created", "comment", "status_changed", "satisfaction_rated"):
        CASES.append((f"support {channel} {etype}", {"source": "support", "event_name": etype, "channel": channel,
                                                     "properties": {"ticket_id": 1, "tags": ["order"]}}, touchpoint, "usage"))
    CASES.append((f"support {channel} checkout", {"source": "support", "event_name": "ticket_created", "channel": channel,
                                                  "properties": {"tags": ["mobile_app", "checkout", "crash"]}}, touchpoint, "purchase"))
CASES.append(("added channel whatsapp", {"source": "clickstream", "event_name": "message_received", "channel": "whatsapp"},
              "messaging", "interest"))

for i, case in enumerate(CASES):
    case[1]["event_id"] = f"case:{i}"


@pytest.fixture(scope="module")
def classified() -> dict[str, dict]:
    extra = [
        {"event_id": "x:unknown", "event_name": "Something Custom", "device": "desktop"},
        {"event_id": "x:web_order", "event_name": "Order Completed", "device": "desktop", "amount": 120.5},
        {"event_id": "x:deal_won", "source": "crm", "event_name": "deal_won", "amount": 9000.0,
         "identifiers": {"crm_contact_id": "2"}},
        {"event_id": "x:store", "source": "crm", "event_name": "store_purchase", "amount": 55.0,
         "identifiers": {"crm_contact_id": "3"}},
        {"event_id": "x:quote", "source": "crm", "event_name": "quote_sent", "amount": 9000.0,
         "identifiers": {"crm_contact_id": "2"}},
    ]
    return classify([c[1] for c in CASES] + extra)


@pytest.mark.parametrize(("case", "event", "touchpoint", "phase"), CASES, ids=[c[0] for c in CASES])
def test_default_rules(classified, case, event, touchpoint, phase):
    row = classified[event["event_id"]]
    assert (row["touchpoint"], row["phase"]) == (touchpoint, phase), row["rule_id"]
    assert row["rule_id"] is not None
    taxonomy = default_config().taxonomy
    tp = next(t for t in taxonomy.touchpoints if t.name == touchpoint)
    assert (row["channel_group"], row["stage"]) == (tp.channel_group, tp.stage)
    assert row["phase_order"] == taxonomy.phase_names.index(phase) + 1


def test_conversions_and_revenue(classified):
    conv = {k: (r["is_conversion"], r["revenue"]) for k, r in classified.items() if k.startswith("x:")}
    assert conv["x:web_order"] == (True, 120.5)
    assert conv["x:deal_won"] == (True, 9000.0)
    assert conv["x:store"] == (True, 55.0)
    assert conv["x:quote"] == (False, None)  # an amount on a non-conversion is not revenue
    app_order = next(r for c, e, _, _ in CASES if c == "app Order Completed" for r in [classified[e["event_id"]]])
    assert app_order["is_conversion"] and app_order["touchpoint"] == "mobile_app"


def test_unmatched_events_are_kept_as_unclassified(classified):
    row = classified["x:unknown"]
    assert (row["touchpoint"], row["phase"]) == ("unclassified", "unclassified")
    assert row["rule_id"] is None and row["channel_group"] is None and row["stage"] is None and row["phase_order"] is None
    assert row["is_conversion"] is False
    assert len(classified) == len(CASES) + 5


def test_contract_columns(classified):
    # narrow: the event key, the ordering keys, what the journey pass cuts visits by (source and
    # campaign) and what classification adds; the rest of the event stays in staging.events
    # (marts.journey_events joins it once)
    row = next(iter(classified.values()))
    contract = ["event_id", "customer_id", "occurred_at", "source_rank", "source", "utm_source", "utm_medium",
                "utm_campaign", "touchpoint", "channel_group", "stage",
                "phase", "phase_order", "rule_id", "is_conversion", "revenue", "sentiment", "sentiment_source"]
    assert list(row) == contract
    assert classified["x:unknown"]["source_rank"] == 1  # clickstream is the first source of sources.yaml
    assert classified["x:deal_won"]["source_rank"] == 2


def test_coverage_per_source():
    con = duckdb.connect()
    make_staging(con, [{"event_id": f"e{i}", "event_name": "Product Viewed" if i % 4 else "Weird"} for i in range(8)]
                 + [{"event_id": "s1", "source": "support", "event_name": "comment", "channel": "chat"}])
    build_models(con, configured(identity=IdentitySettings()), ["intermediate.classified_events"])
    check = "intermediate.classified_events/classification_coverage"
    # a threshold above 1 lists every source with its coverage
    assert [r[:4] for r in offending(con, check, coverage_threshold=1.01)] == [
        ("clickstream", 8, 6, 0.75), ("support", 1, 1, 1.0)]
    assert offending(con, check, coverage_threshold=0.8) == [("clickstream", 8, 6, 0.75, ["Weird (2)"])]
    assert offending(con, check, coverage_threshold=0.75) == []


def events_classified_once(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The offending rows of sql/checks/intermediate/classified_events/every_event_exactly_once.sql,
    counted by kind of disagreement."""
    kinds = {"missing from intermediate.classified_events": "missing",
             "more than once in intermediate.classified_events": "repeated",
             "not in staging.events": "not_in_staging", "without a customer": "without_customer"}
    counts = {"missing": 0, "repeated": 0, "not_in_staging": 0, "without_customer": 0}
    for _, problem in offending(con, "intermediate.classified_events/every_event_exactly_once"):
        counts[kinds[problem]] += 1
    return counts


def test_events_classified_once_counts_each_kind_of_disagreement():
    con = duckdb.connect()
    make_staging(con, [{"event_id": f"e{i}", "event_name": "Product Viewed"} for i in range(4)])
    build_models(con, configured(identity=IdentitySettings()), ["intermediate.classified_events"])
    agree = {"missing": 0, "repeated": 0, "not_in_staging": 0, "without_customer": 0}
    assert events_classified_once(con) == agree
    # same row count, no id twice: only the event ids tell the tables apart
    con.execute("update intermediate.classified_events set event_id = 'e9' where event_id = 'e3'")
    assert events_classified_once(con) == agree | {"missing": 1, "not_in_staging": 1}
    con.execute("update intermediate.classified_events set event_id = 'e0' where event_id = 'e9'")
    assert events_classified_once(con) == agree | {"missing": 1, "repeated": 1}
    con.execute("update intermediate.classified_events set event_id = 'e3', customer_id = null where event_id = 'e0' "
                "and rowid = (select max(rowid) from intermediate.classified_events where event_id = 'e0')")
    assert events_classified_once(con) == agree | {"without_customer": 1}


# --------------------------------------------------------------------------- matching semantics


def write_config(tmp_path: Path, rules: str) -> Path:
    (tmp_path / "rules.yaml").write_text(rules, encoding="utf-8")
    return tmp_path


def test_matching_semantics(tmp_path):
    cfg = load_config(write_config(tmp_path, """
rules:
  - {id: first_wins, match: {event_name: "Product V*"}, touchpoint: website, phase: interest}
  - {id: never_reached, match: {event_name: Product Viewed}, touchpoint: email, phase: awareness}
  - {id: glob_case, match: {event_name: "order ??mpleted"}, touchpoint: website, phase: purchase, conversion: true}
  - {id: any_of, match: {event_name: [Alpha, Beta]}, touchpoint: website, phase: loyalty}
  - {id: all_of, match: {event_name: Gamma, device: ios}, touchpoint: mobile_app, phase: loyalty}
  - {id: regex, match: {path_regex: '^/p/[A-Z]+-[0-9]+$'}, touchpoint: website, phase: comparison}
  - {id: prop, match: {properties: {plan: "pro*", "billing.cycle": yearly}}, touchpoint: website, phase: usage}
  - {id: prop_present, match: {properties: {coupon: "*"}}, touchpoint: website, phase: purchase}
  - {id: literal, match: {event_name: "50%_off' or '1'='1"}, touchpoint: sms, phase: awareness}
  - {id: empty_ref, match: {event_name: page, empty: [referrer]}, touchpoint: direct, phase: awareness}
  - {id: internal, match: {event_name: page, external_referrer: false}, touchpoint: website, phase: interest}
  - {id: host, match: {referrer_host: "*.example.org"}, touchpoint: referral, phase: awareness}
  - {id: catch_all, match: {}, touchpoint: crm, phase: usage}
"""))
    rows = classify([
        {"event_id": "a", "event_name": "product viewed"},
        {"event_id": "b", "event_name": "ORDER COMPLETED", "amount": 3.0},
        {"event_id": "c", "event_name": "Beta"},
        {"event_id": "d", "event_name": "Gamma", "device": "iOS"},
        {"event_id": "d2", "event_name": "Gamma", "device": "android"},
        {"event_id": "e", "event_name": "x", "url_path": "/p/SKU-123"},
        {"event_id": "e2", "event_name": "x", "url_path": "/p/sku-123"},
        {"event_id": "f", "event_name": "x", "properties": {"plan": "Pro Annual", "billing": {"cycle": "yearly"}}},
        {"event_id": "f2", "event_name": "x", "properties": {"plan": "Pro Annual", "billing": {"cycle": "monthly"}}},
        {"event_id": "g", "event_name": "x", "properties": {"coupon": "SPRING10"}},
        {"event_id": "h", "event_name": "50%_off' or '1'='1"},
        {"event_id": "h2", "event_name": "50X_off' or '1'='1"},
        {"event_id": "i", "event_name": "page", "url": f"{SITE}/", "referrer": ""},
        {"event_id": "j", "event_name": "page", "url": f"{SITE}/", "referrer": f"{SITE}/c/x"},
        {"event_id": "k", "event_name": "page", "url": f"{SITE}/", "referrer": "https://blog.example.org/post"},
    ], cfg)
    got = {k: r["rule_id"] for k, r in rows.items()}
    assert got == {
        "a": "first_wins", "b": "glob_case", "c": "any_of", "d": "all_of", "d2": "catch_all", "e": "regex",
        "e2": "catch_all", "f": "prop", "f2": "catch_all", "g": "prop_present", "h": "literal", "h2": "catch_all",
        "i": "empty_ref", "j": "internal", "k": "host",
    }
    assert rows["b"]["is_conversion"] and rows["b"]["revenue"] == 3.0


# --------------------------------------------------------------------------- configuration errors


@pytest.mark.parametrize(("rule", "key", "words"), [
    ("{id: r1, match: {event_name: x}, touchpoint: billboard, phase: interest}", "touchpoint", "billboard"),
    ("{id: r1, match: {event_name: x}, touchpoint: website, phase: delight}", "phase", "delight"),
    ("{id: r1, match: {path_regex: '/p/('}, touchpoint: website, phase: interest}", "path_regex", "regular expression"),
    ("{id: r1, match: {referrer_regex: '^(?!https)'}, touchpoint: website, phase: interest}", "referrer_regex", "lookaround"),
    ("{id: r1, match: {evnt_name: x}, touchpoint: website, phase: interest}", "evnt_name", "unknown key"),
    ("{id: r1, match: {empty: [colour]}, touchpoint: website, phase: interest}", "empty", "colour"),
    ("{id: r1, match: {source: whatsapp}, touchpoint: website, phase: interest}", "source", "whatsapp"),
    ("{id: R-1, touchpoint: website, phase: interest}", "id", "R-1"),
])
def test_rule_config_errors_name_the_file_and_the_key(tmp_path, rule, key, words):
    path = write_config(tmp_path, f"rules:\n  - {{id: ok, match: {{}}, touchpoint: website, phase: interest}}\n  - {rule}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(tmp_path / "rules.yaml") in message
    assert "rules[1]" in message and key in message and words in message


def test_default_rules_load_and_use_every_family():
    cfg = default_config()
    ids = [r.id for r in cfg.rules]
    assert len(ids) == len(set(ids))
    for prefix in ("app_", "web_", "acq_", "direct_", "page_", "crm_", "support_"):
        assert any(i.startswith(prefix) for i in ids), prefix
