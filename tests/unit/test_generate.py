"""The synthetic landing zone: shapes, determinism, imperfections, planted stories, streaming.

Story rates are computed straight from the files with DuckDB, the way a user would check
them, on one shared generation of 1,000 customers.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from transforms.generate import BROKEN_KINDS, INCIDENT_DAYS, generate

START = date(2025, 3, 1)
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "landing"

TRACK_EVENTS = {
    "Products Searched", "Product List Viewed", "Product Viewed", "Product Clicked", "Product Added",
    "Product Removed", "Cart Viewed", "Checkout Started", "Checkout Step Viewed", "Payment Info Entered",
    "Order Completed", "Order Refunded", "Coupon Applied", "Product Reviewed", "Product Shared",
    "Promotion Clicked", "Signed Up", "Signed In",
}  # fmt: skip
PATH_RE = re.compile(
    r"^/$|^/search$|^/c/[a-z-]+$|^/p/SKU-\d{5}(/reviews)?$|^/(pricing|compare|cart|checkout|account)$"
    r"|^/help/[a-z-]+$|^/blog/[a-z0-9-]+$"
)
ACTIVITY_TYPES = {
    "lead_created", "email_sent", "email_opened", "email_clicked", "call", "meeting", "demo",
    "quote_sent", "deal_won", "deal_lost", "store_visit", "store_purchase",
}  # fmt: skip
ACTIVITIES_HEADER = "activity_id,contact_id,email,activity_type,occurred_at,channel,amount"
CONTACTS_HEADER = (
    "contact_id,email,company,industry,company_size,segment,lifecycle_stage,created_at"
)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lines(root: Path, pattern: str) -> list[tuple[Path, str]]:
    out = []
    for path in sorted(root.glob(pattern)):
        for line in path.read_text(encoding="utf-8").splitlines():
            out.append((path, line))
    return out


def _day(path: Path) -> date:
    return date.fromisoformat(path.parent.name)


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("landing")
    summary = generate(out, customers=1000, days=60, seed=7, broken_share=0)
    return out, summary


@pytest.fixture(scope="module")
def parsed(landing) -> dict[str, list[tuple[Path, str, dict]]]:
    """Every JSON line of the shared landing zone, parsed once: (file, line, object)."""
    out, _ = landing
    return {
        source: [
            (path, line, json.loads(line)) for path, line in _lines(out, f"{source}/*/*.jsonl")
        ]
        for source in ("clickstream", "support")
    }


@pytest.fixture(scope="module")
def con(landing) -> duckdb.DuckDBPyConnection:
    out, _ = landing
    con = duckdb.connect()
    con.execute(f"""
        create table ev as select distinct
            j->>'messageId' as id, j->>'event' as event, j->>'anonymousId' as anon,
            j->>'userId' as uid, (j->>'timestamp')::timestamptz as ts,
            j->>'$.context.device.type' as device, j->>'$.properties.checkout_id' as checkout_id,
            j->>'type' as type, j->>'$.context.page.referrer' as referrer,
            j->>'$.context.campaign.medium' as medium, lower(trim(j->>'$.traits.email')) as email
        from (select json as j from read_ndjson_objects('{out}/clickstream/*/*.jsonl'))
    """)
    con.execute(f"""
        create table tickets as select distinct
            j->>'id' as id, j->>'type' as type, (j->>'created_at')::timestamptz as ts,
            lower(trim(j->>'$.requester.email')) as email, j->>'$.comment.body' as body
        from (select json as j from read_ndjson_objects('{out}/support/*/*.jsonl'))
    """)
    con.execute(f"""
        create table activities as select distinct * replace (lower(trim(email)) as email)
        from read_csv('{out}/crm/*/activities*.csv', all_varchar = true)
    """)
    return con


# ---- determinism ------------------------------------------------------------------------


def test_same_seed_same_bytes_and_workers_do_not_matter(tmp_path):
    kwargs = dict(customers=150, days=30, seed=11, broken_share=0.01, customers_per_shard=50)
    one = generate(tmp_path / "a", workers=1, **kwargs)
    again = generate(tmp_path / "b", workers=1, **kwargs)
    seen: list[int] = []
    two = generate(tmp_path / "c", workers=2, progress=seen.append, **kwargs)
    files = _digest(tmp_path / "a")
    assert any(name.endswith("events-s02.jsonl") for name in files)  # three shards
    assert files == _digest(tmp_path / "b") == _digest(tmp_path / "c")
    assert one == again == two
    assert seen == sorted(seen) and seen[-1] == 150


def test_other_seed_other_data_and_rerun_replaces_generated_files(tmp_path):
    generate(tmp_path / "a", customers=60, days=20, seed=1)
    generate(tmp_path / "b", customers=60, days=20, seed=2)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "b")
    keep = tmp_path / "a" / "clickstream" / "2025-03-03" / "broken.jsonl"
    keep.parent.mkdir(parents=True, exist_ok=True)
    keep.write_text("not json\n")
    before = _digest(tmp_path / "b")
    generate(tmp_path / "a", customers=60, days=20, seed=2)  # over an earlier run
    after = _digest(tmp_path / "a")
    assert after.pop("clickstream/2025-03-03/broken.jsonl")
    assert after == before
    assert not (tmp_path / "a" / ".generate-parts").exists()


def test_compress_gzips_every_file_to_the_same_bytes(tmp_path):
    kwargs = dict(customers=60, days=10, seed=3, broken_share=0.01, customers_per_shard=30)
    plain_summary = generate(tmp_path / "plain", **kwargs)
    gz_summary = generate(tmp_path / "gz", compress=True, **kwargs)
    plain, packed = _digest(tmp_path / "plain"), _digest(tmp_path / "gz")
    assert any(name.endswith("events-s01.jsonl") for name in plain)  # two shards
    assert sorted(packed) == sorted(f"{name}.gz" for name in plain)  # nothing left unpacked
    for name in plain:
        unpacked = gzip.decompress((tmp_path / "gz" / f"{name}.gz").read_bytes())
        assert unpacked == (tmp_path / "plain" / name).read_bytes(), name
    assert gz_summary == plain_summary
    generate(tmp_path / "again", compress=True, **kwargs)
    assert _digest(tmp_path / "again") == packed  # the .gz bytes are deterministic too
    generate(tmp_path / "gz", **kwargs)  # a plain run over a compressed one
    assert _digest(tmp_path / "gz") == plain


def test_committed_fixtures_are_this_generator_output(tmp_path):
    generate(tmp_path, customers=500, days=60, seed=7, broken_share=0)
    generated = _digest(tmp_path)
    committed = {
        name: digest
        for name, digest in _digest(FIXTURES).items()
        if not re.search(r"broken|missing-column", name)
    }
    assert committed == generated


# ---- shapes -------------------------------------------------------------------------------


def test_every_clickstream_line_has_the_segment_shape(parsed):
    types: Counter[str] = Counter()
    for path, _line, ev in parsed["clickstream"]:
        types[ev["type"]] += 1
        assert isinstance(ev["messageId"], str) and ev["messageId"]
        assert ev["type"] in {"page", "track", "identify", "screen"}
        ts = datetime.fromisoformat(ev["timestamp"])
        assert ts.utcoffset() is not None
        assert _day(path) - ts.date() <= timedelta(days=4)
        assert ev.get("anonymousId") or ev.get("userId")
        assert isinstance(ev.get("properties", {}), dict)
        device = ev["context"].get("device", {}).get("type")
        if ev["type"] == "track":
            assert ev["event"] in TRACK_EVENTS
        if ev["type"] == "identify":
            assert "@" in ev["traits"]["email"] and ev["userId"]
        if ev["type"] == "page":
            page = ev["context"]["page"]
            assert page["url"].startswith("https://shop.example.com/")
            assert PATH_RE.match(page["path"]), page["path"]
            assert device in {"desktop", "mobile", "tablet"}
        if ev["type"] == "screen":
            assert device in {"ios", "android"} and "app" in ev["context"]
        if ev.get("event") == "Order Completed":
            assert ev["properties"]["revenue"] > 0 and ev["properties"]["order_id"]
    assert set(types) == {"page", "track", "identify", "screen"}


def test_every_crm_row_has_the_export_shape(landing):
    out, _ = landing
    for path in sorted(out.glob("crm/*/*.csv")):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        header, body = ",".join(rows[0]), rows[1:]
        assert body
        if path.name == "activities.csv":
            assert header == ACTIVITIES_HEADER
            for aid, contact, email, kind, occurred, channel, amount in body:
                assert aid and contact and "@" in email
                assert kind in ACTIVITY_TYPES
                assert channel in {"email", "phone", "in_person", "store", "web"}
                assert datetime.strptime(occurred, "%Y-%m-%d %H:%M:%S")
                assert (amount != "") == (kind in {"deal_won", "store_purchase"})
                if amount:
                    assert float(amount) > 0
        else:
            assert path.name == "contacts.csv" and header == CONTACTS_HEADER
            for row in body:
                assert len(row) == 8 and row[0] and "@" in row[1]
                assert row[5] in {"consumer", "smb", "enterprise"}
                assert datetime.strptime(row[7], "%Y-%m-%d %H:%M:%S")


def test_every_support_line_has_the_zendesk_shape(parsed):
    for _path, _line, ev in parsed["support"]:
        assert isinstance(ev["id"], int) and isinstance(ev["ticket_id"], int)
        assert ev["type"] in {"ticket_created", "comment", "status_changed", "satisfaction_rated"}
        assert datetime.fromisoformat(ev["created_at"]).utcoffset() is not None
        assert ev["requester"]["id"] and "@" in ev["requester"]["email"]
        assert ev["via"]["channel"] in {"email", "web", "chat", "voice", "whatsapp"}
        assert isinstance(ev["tags"], list)
        if ev["type"] in {"ticket_created", "comment"}:
            assert ev["comment"]["body"]
        if ev["type"] == "status_changed":
            assert ev["status"] in {"pending", "solved"}
        if ev["type"] == "satisfaction_rated":
            assert ("csat" in ev) != ("satisfaction" in ev)
            if "csat" in ev:
                assert ev["csat"] in {1, 2, 3, 4, 5}
            else:
                assert ev["satisfaction"]["score"] in {"good", "bad"}


def test_ids_are_unique_except_resent_duplicates(landing, parsed):
    out, summary = landing
    records = parsed["clickstream"] + parsed["support"]
    ids = {ev.get("messageId") or ev["id"] for _, _, ev in records}
    assert len(ids) == len({line for _, line, _ in records})
    rows = [line for _, line in _lines(out, "crm/*/activities.csv") if line != ACTIVITIES_HEADER]
    assert len({row.split(",")[0] for row in set(rows)}) == len(set(rows))
    assert summary.events_per_customer == pytest.approx(summary.events / 1000)
    assert 25 <= summary.events_per_customer <= 40


# ---- imperfections ------------------------------------------------------------------------


def test_duplicates_and_late_events_at_about_one_percent(landing, parsed):
    _, summary = landing
    lines: list[str] = []
    late = landed = 0
    for path, line, ev in parsed["clickstream"] + parsed["support"]:
        lines.append(line)
        utc_day = (
            datetime.fromisoformat(ev.get("timestamp") or ev["created_at"]).astimezone(UTC).date()
        )
        lag = (_day(path) - utc_day).days
        assert 0 <= lag <= 3, (path, line)
        late += lag > 0
        landed += 1
    dupes = len(lines) - len(set(lines))
    assert 0.005 < dupes / len(set(lines)) < 0.02
    assert 0.004 < late / landed < 0.02
    assert summary.duplicates > 0 and summary.late_events > 0 and summary.broken_records == 0


def test_broken_records_only_replace_records_and_cover_every_kind(tmp_path):
    clean = generate(tmp_path / "clean", customers=250, days=30, seed=3, broken_share=0)
    dirty = generate(tmp_path / "dirty", customers=250, days=30, seed=3, broken_share=0.05)
    assert dirty.duplicates == clean.duplicates and dirty.late_events == clean.late_events
    assert set(dirty.broken_by_kind) >= set(BROKEN_KINDS) - {"oversized"}
    assert dirty.broken_records == sum(dirty.broken_by_kind.values()) > 0.03 * clean.events

    def lines(root: Path) -> Counter[bytes]:
        return Counter(
            line
            for path in root.rglob("*")
            if path.is_file()
            for line in path.read_bytes().split(b"\n")
        )

    clean_lines, dirty_lines = lines(tmp_path / "clean"), lines(tmp_path / "dirty")
    extra, lost = dirty_lines - clean_lines, clean_lines - dirty_lines
    # Every other line is unchanged: a broken line replaces its record, an empty line comes
    # before its intact record.
    assert sum(extra.values()) == dirty.broken_records
    assert sum(lost.values()) == dirty.broken_records - dirty.broken_by_kind["empty_line"]
    unreadable = 0
    for line in extra:
        try:
            json.loads(line)
        except ValueError:
            unreadable += 1
    assert unreadable >= dirty.broken_by_kind["invalid_utf8"] // 2


# ---- planted stories ----------------------------------------------------------------------


def test_story_a_mobile_app_checkout_breaks(con):
    rates = dict(
        con.sql("""
            with checkouts as (
                select checkout_id,
                    any_value(device) filter (where event = 'Checkout Started') in ('ios', 'android') as is_app,
                    bool_or(event = 'Order Completed') as completed
                from ev where checkout_id is not null group by all)
            select is_app, 1 - avg(completed::int) from checkouts group by all
        """).fetchall()
    )
    assert rates[True] > 0.4 and rates[False] < 0.25 and rates[True] - rates[False] > 0.2
    shares = dict(
        con.sql("""
            with checkouts as (
                select checkout_id, any_value(uid) filter (where uid is not null) as uid, min(ts) as ts,
                    any_value(device) filter (where event = 'Checkout Started') in ('ios', 'android') as is_app,
                    bool_or(event = 'Order Completed') as completed
                from ev where checkout_id is not null group by all),
            emails as (select distinct uid, email from ev where email is not null),
            created as (select email, ts from tickets where type = 'ticket_created')
            select c.is_app, avg((exists (
                select 1 from emails e join created t using (email)
                where e.uid = c.uid and t.ts between c.ts and c.ts + interval 1 day))::int)
            from checkouts c where not completed group by all
        """).fetchall()
    )
    assert shares[True] > 0.35 and shares[False] < 0.2
    crash = con.sql("select count(*) from tickets where body like 'The app crashed%'").fetchall()[
        0
    ][0]
    assert crash > 0


def test_story_b_checkout_incident_halves_payment_conversion(con):
    lo, hi = INCIDENT_DAYS
    rates = dict(
        con.sql(f"""
            with payments as (
                select checkout_id, min(ts) filter (where event = 'Payment Info Entered') as paid_at,
                    bool_or(event = 'Order Completed') as completed
                from ev where checkout_id is not null group by all having paid_at is not null)
            select date_diff('day', timestamptz '{START} 00:00:00+00', paid_at) between {lo} and {hi},
                avg(completed::int)
            from payments group by all
        """).fetchall()
    )
    assert rates[True] / rates[False] < 0.65


def test_story_c_referral_converts_about_three_times_as_often(con):
    rates = dict(
        con.sql("""
            with first_pages as (
                select anon, arg_min(struct_pack(referrer := referrer, medium := medium), ts) as f
                from ev where type = 'page' group by all),
            shared as (select anon from ev where uid is not null and anon is not null
                       group by all having count(distinct uid) > 1),
            channels as (
                select anon, f.medium is null and f.referrer not in ('', 'https://www.google.com/',
                    'https://t.co/', 'https://www.facebook.com/', 'https://l.facebook.com/') as is_referral
                from first_pages where anon not in (select anon from shared)),
            users as (select distinct anon, uid from ev where uid is not null and anon is not null),
            buyers as (
                select uid from ev where event = 'Order Completed'
                union select e.uid from (select distinct uid, email from ev where email is not null) e
                    join activities a using (email) where a.activity_type in ('deal_won', 'store_purchase')),
            customers as (
                select c.anon, c.is_referral, bool_or(b.uid is not null) as converted
                from channels c left join users u using (anon) left join buyers b on b.uid = u.uid
                group by all)
            select is_referral, avg(converted::int) from customers group by all
        """).fetchall()
    )
    assert rates[True] / rates[False] > 2.2


def test_shared_device_and_role_address_exist(con):
    users_per_device = con.sql("""
        select max(n) from (select count(distinct uid) as n from ev
                            where anon is not null and uid is not null group by anon)
    """).fetchall()[0][0]
    assert users_per_device >= 15
    contacts_per_email = con.sql("""
        select max(n) from (select count(distinct contact_id) as n from activities group by email)
    """).fetchall()[0][0]
    assert contacts_per_email >= 15


# ---- streaming ----------------------------------------------------------------------------


def test_memory_does_not_grow_with_customers(tmp_path):
    def peak(customers: int) -> int:
        tracemalloc.start()
        try:
            generate(tmp_path / str(customers), customers=customers, days=10, seed=5)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(80), peak(800)
    assert large < 2 * small
