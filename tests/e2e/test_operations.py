"""Operations with real processes and files: a reader during a run, and runs killed with
SIGKILL at several points."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import FIXTURE_LANDING, PROJECT
from tests.pipelines.test_ingest_pipeline import snapshot

JOURNEYS = [sys.executable, "-m", "pipelines.cli"]

# Two tables of one snapshot that must agree: journeys and their paths.
CONSISTENCY = """
select (select count(*) from marts.journeys),
       (select sum(n_journeys) from marts.journey_paths where level = 'phase' and persona = 'all'),
       (select count(*) from staging.events),
       (select count(*) from marts.journey_events)
"""

READER = """
import sys, time, duckdb
path, stop = sys.argv[1], sys.argv[2]
import os
n = 0
while not os.path.exists(stop):
    con = duckdb.connect(path, read_only=True)
    try:
        a, b, c, d = con.execute('''__CONSISTENCY__''').fetchall()[0]
    finally:
        con.close()
    if a != b or c != d:
        print(f"INCONSISTENT {a} {b} {c} {d}", flush=True)
        sys.exit(1)
    n += 1
print(f"OK {n}", flush=True)
""".replace("__CONSISTENCY__", CONSISTENCY)


def env_for(warehouse: Path, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(JOURNEYS_WAREHOUSE=str(warehouse), JOURNEYS_LANDING_DIR=str(FIXTURE_LANDING),
               JOURNEYS_HASH_SECRET="test-secret", DAGSTER_HOME=str(tmp / "dagster_home"), PYTHONWARNINGS="ignore")
    env.pop("JOURNEYS_CONFIG_DIR", None)
    return env


def journeys(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(JOURNEYS + args, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, float]:
    """One uninterrupted run, and how long it took."""
    tmp = tmp_path_factory.mktemp("baseline")
    wh = tmp / "journeys.duckdb"
    t0 = time.monotonic()
    r = journeys(["run"], env_for(wh, tmp))
    assert r.returncode == 0, r.stderr
    return wh, time.monotonic() - t0


def test_reader_never_sees_an_error_or_a_partial_table_set(baseline, tmp_path):
    src, _ = baseline
    wh = tmp_path / "journeys.duckdb"
    env = env_for(wh, tmp_path)
    assert journeys(["run"], env).returncode == 0
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(wh), str(stop)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        r = journeys(["run", "--force"], env)
        assert r.returncode == 0, r.stderr
        # the CLI's read-only query also works while a run writes
        q = subprocess.Popen(JOURNEYS + ["sql", "select count(*) from marts.journeys"], env=env, cwd=PROJECT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        run2 = journeys(["run", "--force"], env)
        out, err = q.communicate(timeout=120)
        assert q.returncode == 0, err
        assert run2.returncode == 0
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, out + err
    assert out.startswith("OK") and int(out.split()[1]) > 3, out


def test_sigkill_at_any_point_leaves_the_published_file_intact(baseline, tmp_path):
    reference, seconds = baseline
    wh = tmp_path / "journeys.duckdb"
    env = env_for(wh, tmp_path)
    assert journeys(["run"], env).returncode == 0
    published_before = snapshot(wh)
    for fraction in (0.3, 0.45, 0.6, 0.75, 0.9):
        proc = subprocess.Popen(JOURNEYS + ["run", "--force"], env=env, cwd=PROJECT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(seconds * fraction)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        con = duckdb.connect(str(wh), read_only=True)  # intact and readable
        a, b, c, d = con.execute(CONSISTENCY).fetchall()[0]
        con.close()
        assert a == b and c == d
        assert snapshot(wh) == published_before  # same data: either the old or an identical new file
    stale = wh.with_name(f".{wh.name}.publishing-999999")
    stale.write_bytes(b"half a file")
    r = journeys(["run"], env)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert snapshot(wh) == snapshot(reference)
