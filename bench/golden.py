"""Golden comparison of two published warehouses: every table, every value.

    python -m bench.golden BEFORE.duckdb AFTER.duckdb [--ignore marts.pipeline_runs ...]

Used to prove that a redesign did not move behaviour: build the warehouse from the same
landing zone at two commits, then compare. Two tables are identical when they have the same
columns (names and types, in order) and the same rows as a multiset, with DOUBLE values
compared at 12 significant digits (DESIGN.md: "identical"). Run-specific columns (run ids,
load and run times) are left out of the comparison; `--ignore` leaves out whole tables.

Prints one line per table and exits 1 when any table differs, 0 when all are identical.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from transforms.warehouse import run_sql

# Columns whose values depend on when or by which run a table was built, not on the data.
# File fingerprints include modification times, which differ between two checkouts of the same files.
# started_at/finished_at are data in marts.journeys and marts.sessions: left out only where
# they time a load.
RUN_COLUMNS = {"run_id", "_loaded_at", "loaded_at", "published_at", "fingerprint", "seconds", "erased_at", "found_at"}
LOAD_TIMES = {"started_at", "finished_at"}
LOAD_TABLES = {"raw._partitions", "marts.pipeline_runs", "marts.erasures"}
DEFAULT_IGNORE = ("marts.pipeline_runs", "_journeys.published_tables")


@dataclass
class TableDiff:
    relation: str
    verdict: str  # identical | differs | only in before | only in after | columns differ
    rows_before: int = 0
    rows_after: int = 0
    only_before: int = 0
    only_after: int = 0
    detail: str = ""


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[tuple[str, str]]]:
    rows = run_sql(con, "ops/golden/columns", {"db": catalog}).fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for schema, table, column, kind in rows:
        out.setdefault(f"{schema}.{table}", []).append((column, kind))
    return out


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return run_sql(con, "ops/catalog/count_rows", {"relation": relation}).fetchall()[0][0]


def _only_in(con: duckdb.DuckDBPyConnection, left: str, right: str, columns: list[tuple[str, str]]) -> int:
    """Rows of `left` not in `right` (a multiset difference) over `columns`, DOUBLE values
    compared at 12 significant digits (sql/ops/golden/rows_only_in.sql)."""
    doubles = [c for c, kind in columns if kind in ("DOUBLE", "FLOAT")]
    others = [c for c, kind in columns if kind not in ("DOUBLE", "FLOAT")]
    return run_sql(con, "ops/golden/rows_only_in",
                   {"left": left, "right": right, "doubles": doubles, "others": others}).fetchall()[0][0]


def compare(before: Path, after: Path, ignore: tuple[str, ...] = DEFAULT_IGNORE) -> list[TableDiff]:
    """One TableDiff per table found in either warehouse."""
    con = duckdb.connect()
    try:
        run_sql(con, "ops/golden/open", {"before": str(before), "after": str(after)})
        tb, ta = _tables(con, "b"), _tables(con, "a")
        diffs: list[TableDiff] = []
        for relation in sorted(set(tb) | set(ta)):
            if relation in ignore:
                continue
            if relation not in ta:
                diffs.append(TableDiff(relation, "only in before"))
                continue
            if relation not in tb:
                diffs.append(TableDiff(relation, "only in after"))
                continue
            skip = RUN_COLUMNS | (LOAD_TIMES if relation in LOAD_TABLES else set())
            cols_b = [c for c in tb[relation] if c[0] not in skip]
            cols_a = [c for c in ta[relation] if c[0] not in skip]
            rel_b, rel_a = f"b.{relation}", f"a.{relation}"
            n_b, n_a = _count(con, rel_b), _count(con, rel_a)
            if cols_b != cols_a:
                missing = [c for c in cols_b if c not in cols_a]
                extra = [c for c in cols_a if c not in cols_b]
                diffs.append(TableDiff(relation, "columns differ", n_b, n_a,
                                       detail=f"before only {missing}, after only {extra}"))
                continue
            only_b = _only_in(con, rel_b, rel_a, cols_b)
            only_a = _only_in(con, rel_a, rel_b, cols_b)
            verdict = "identical" if only_b == 0 and only_a == 0 else "differs"
            diffs.append(TableDiff(relation, verdict, n_b, n_a, only_b, only_a))
        return diffs
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Compare every table of two published Journeys warehouses.")
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--ignore", nargs="*", default=list(DEFAULT_IGNORE),
                   help="tables to leave out (default: marts.pipeline_runs and _journeys.published_tables, whose rows are per run)")
    args = p.parse_args(argv)
    for path in (args.before, args.after):
        if not path.is_file():
            print(f"no warehouse at {path}", file=sys.stderr)
            return 2
    diffs = compare(args.before, args.after, tuple(args.ignore))
    width = max((len(d.relation) for d in diffs), default=10)
    for d in diffs:
        counts = f"{d.rows_before:>10,} rows before, {d.rows_after:>10,} after"
        extra = f"; {d.only_before:,} rows only before, {d.only_after:,} only after" if d.verdict == "differs" else ""
        detail = f"; {d.detail}" if d.detail else ""
        print(f"{d.relation:<{width}}  {d.verdict:<15} {counts}{extra}{detail}")
    bad = [d for d in diffs if d.verdict != "identical"]
    print(f"{len(diffs) - len(bad)} of {len(diffs)} tables identical" + (f"; {len(bad)} differ" if bad else "."))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
