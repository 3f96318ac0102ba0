"""The golden comparison (bench/golden.py) finds every kind of difference and no false one."""

from __future__ import annotations

from pathlib import Path

import duckdb

from bench.golden import compare, main


def _warehouse(path: Path, statements: list[str]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for s in statements:
        con.execute(s)
    con.close()
    return path


BASE = [
    "create table marts.t (k varchar, x double, n integer, run_id varchar)",
    "insert into marts.t values ('a', 0.1234567890123, 1, 'run-1'), ('b', null, 2, 'run-1'), ('b', null, 2, 'run-1')",
]


def test_identical_at_twelve_digits_and_ignoring_run_columns(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", BASE)
    b = _warehouse(tmp_path / "b.duckdb", [
        BASE[0],
        "insert into marts.t values ('b', null, 2, 'run-2'), ('a', 0.1234567890124, 1, 'run-2'), ('b', null, 2, 'run-2')",
    ])
    assert [d.verdict for d in compare(a, b)] == ["identical"]
    assert main([str(a), str(b)]) == 0


def test_a_changed_value_a_lost_duplicate_and_a_missing_table_differ(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", [*BASE, "create table marts.u (k integer)"])
    b = _warehouse(tmp_path / "b.duckdb", [
        BASE[0],
        "insert into marts.t values ('a', 0.12345678902, 1, 'run-1'), ('b', null, 2, 'run-1')",
    ])
    diffs = {d.relation: d for d in compare(a, b)}
    assert diffs["marts.t"].verdict == "differs"
    assert (diffs["marts.t"].only_before, diffs["marts.t"].only_after) == (2, 1)
    assert diffs["marts.u"].verdict == "only in before"
    assert main([str(a), str(b)]) == 1


def test_a_changed_column_type_differs(tmp_path: Path) -> None:
    a = _warehouse(tmp_path / "a.duckdb", ["create table marts.t (k integer)"])
    b = _warehouse(tmp_path / "b.duckdb", ["create table marts.t (k bigint)"])
    assert compare(a, b)[0].verdict == "columns differ"
