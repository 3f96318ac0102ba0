"""The hand-written reference: one DuckDB query for paths plus the default phase funnel,
and the scan floor, timed on the same staging.events the pipeline derives its marts from; and
the DuckDB-alone read of the landing files into typed columns (bench/landing_read.sql), the
yardstick of ingestion."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import duckdb

LANDING_READ = Path(__file__).resolve().parent / "landing_read.sql"
# bench/landing_read.sql's parameter -> the source whose landed files it reads
LANDING_READ_SOURCES = {"clickstream": "clickstream", "crm": "crm", "contacts": "crm_contacts", "support": "support"}

SCAN_FLOOR = """
select count(*), sum(hash(event_id, source, event_name, occurred_at, identifiers, url_path,
                         referrer, utm_source, utm_medium, device, channel, amount, csat, text))
from staging.events
"""

# De-duplicate, classify by a rule join, stitch a customer key, per-customer ordered phase
# lists with repeats collapsed, path variants, and a 3-step windowed funnel.
REFERENCE = """
with rules(event_pattern, phase, phase_order) as (
    values ('page', 'interest', 2), ('Product Viewed', 'interest', 2), ('Products Searched', 'interest', 2),
           ('Product List Viewed', 'interest', 2), ('Product Added', 'comparison', 3),
           ('Cart Viewed', 'comparison', 3), ('Checkout Started', 'purchase', 4),
           ('Payment Info Entered', 'purchase', 4), ('Order Completed', 'purchase', 4),
           ('lead_created', 'awareness', 1), ('email_sent', 'awareness', 1), ('email_opened', 'interest', 2),
           ('demo', 'comparison', 3), ('quote_sent', 'comparison', 3), ('deal_won', 'purchase', 4),
           ('ticket_created', 'usage', 5), ('comment', 'usage', 5)
),
events as (
    select *, coalesce(identifiers['user_id'], identifiers['email'], identifiers['crm_contact_id'],
                       identifiers['support_requester_id'], identifiers['anonymous_id']) as customer
    from staging.events
    qualify row_number() over (partition by event_id order by _partition) = 1
),
classified as (
    select e.customer, e.occurred_at, e.event_id, coalesce(r.phase, 'awareness') as phase,
           coalesce(r.phase_order, 1) as phase_order
    from events e left join rules r on e.event_name = r.event_pattern
),
ordered as (
    select *, lag(phase) over (partition by customer order by occurred_at, event_id) as prev
    from classified
),
paths as (
    select customer, string_agg(phase, ' > ' order by occurred_at, event_id) as path
    from ordered where prev is distinct from phase group by customer
),
variants as (select path, count(*) as n from paths group by path),
funnel as (
    select customer,
        min(occurred_at) filter (where phase_order = 1) as s1
    from classified group by customer
),
f2 as (
    select f.customer, f.s1, min(c.occurred_at) filter (where c.phase_order = 2 and c.occurred_at >= f.s1
        and c.occurred_at <= f.s1 + interval 30 day) as s2
    from funnel f join classified c using (customer) where f.s1 is not null group by all
),
f3 as (
    select f.customer, f.s2, min(c.occurred_at) filter (where c.phase_order = 4 and c.occurred_at >= f.s2
        and c.occurred_at <= f.s1 + interval 30 day) as s3
    from f2 f join classified c using (customer) where f.s2 is not null group by all
)
select (select count(*) from variants), (select count(*) from f2), (select count(s2) from f2), (select count(s3) from f3)
"""


def time_query(warehouse: Path, sql: str, repeat: int = 2) -> float:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            con.execute(sql).fetchall()
            best = min(best, time.perf_counter() - t0)
        return best
    finally:
        con.close()


def landing_read_files(landing: Path, end: date | None = None) -> dict[str, list[str]]:
    """The files the pipeline's full run loads (days up to `end`), by parameter of
    bench/landing_read.sql."""
    from transforms.config import load_config
    from transforms.landing import landed_days, landed_files

    cfg = load_config()
    out: dict[str, list[str]] = {}
    for param, name in LANDING_READ_SOURCES.items():
        src = cfg.sources[name]
        days = [d for d in landed_days(landing, name, src) if end is None or d <= end]
        out[param] = [str(p) for d in days for p in landed_files(landing, name, src, d)]
    return out


def time_landing_read(files: Mapping[str, list[str]], memory_limit: str | None = None) -> tuple[float, int]:
    """Seconds and records of reading `files` with DuckDB alone into typed columns, once, in
    an in-memory database (spilling to a temp folder like the pipeline's)."""
    from transforms.warehouse import bind

    con = duckdb.connect()
    try:
        if memory_limit:
            con.execute("set memory_limit = $v", {"v": memory_limit})
        t0 = time.perf_counter()
        cur = con
        for statement in con.extract_statements(LANDING_READ.read_text(encoding="utf-8")):
            text = statement.query.strip().rstrip(";")
            if text:
                cur = con.execute(text, bind(text, {k: list(v) for k, v in files.items()}))
        (n,) = cur.fetchall()[0]
        return time.perf_counter() - t0, int(n)
    finally:
        con.close()
