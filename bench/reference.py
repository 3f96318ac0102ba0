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

BENCH_DIR = Path(__file__).resolve().parent
# bench/landing_read.sql's parameter -> the source whose landed files it reads
LANDING_READ_SOURCES = {"clickstream": "clickstream", "crm": "crm", "contacts": "crm_contacts", "support": "support"}


def bench_sql(name: str) -> str:
    """The text of `bench/<name>.sql`: the bench's hand-written queries live in files, not in
    Python strings."""
    return (BENCH_DIR / f"{name}.sql").read_text(encoding="utf-8")


SCAN_FLOOR = bench_sql("scan_floor")
"""Read every column of staging.events once: the floor any derivation pays."""

REFERENCE = bench_sql("reference")
"""One hand-written query for paths plus the default phase funnel (see bench/reference.sql)."""


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

    con = duckdb.connect(config={"memory_limit": memory_limit} if memory_limit else {})
    try:
        t0 = time.perf_counter()
        cur = con
        for statement in con.extract_statements(bench_sql("landing_read")):
            text = statement.query.strip().rstrip(";")
            if text:
                cur = con.execute(text, bind(text, {k: list(v) for k, v in files.items()}))
        (n,) = cur.fetchall()[0]
        return time.perf_counter() - t0, int(n)
    finally:
        con.close()
