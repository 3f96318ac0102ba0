"""The hand-written reference: one DuckDB query for paths plus the default phase funnel,
and the scan floor, timed on the same staging.events the pipeline derives its marts from."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

BENCH_DIR = Path(__file__).resolve().parent


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
