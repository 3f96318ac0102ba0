"""Operations with real processes and files: a reader during a run, and runs killed with
SIGKILL at the points that tell (mid-run, while publishing, just after the rename)."""

import os
import shutil
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

# one xdist worker runs the whole module: its module-scoped fixtures are built once, not per worker
pytestmark = pytest.mark.xdist_group("operations")

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


LAST_DAY = "2025-03-07"  # the first week of the demo fixtures keeps these runs short


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ops-landing")
    for day_folder in FIXTURE_LANDING.glob("*/*"):
        if day_folder.is_dir() and day_folder.name <= LAST_DAY:
            shutil.copytree(day_folder, root / day_folder.parent.name / day_folder.name)
    return root


def env_for(warehouse: Path, tmp: Path, landing: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(JOURNEYS_WAREHOUSE=str(warehouse), JOURNEYS_LANDING_DIR=str(landing),
               JOURNEYS_HASH_SECRET="test-secret", DAGSTER_HOME=str(tmp / "dagster_home"), PYTHONWARNINGS="ignore")
    env.pop("JOURNEYS_CONFIG_DIR", None)
    return env


def journeys(args: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(JOURNEYS + args, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, landing) -> tuple[Path, float]:
    """One uninterrupted run, and how long it took."""
    tmp = tmp_path_factory.mktemp("baseline")
    wh = tmp / "journeys.duckdb"
    t0 = time.monotonic()
    r = journeys(["run"], env_for(wh, tmp, landing))
    assert r.returncode == 0, r.stderr
    return wh, time.monotonic() - t0


def copy_warehouse(src: Path, dst: Path) -> None:
    """Start from the baseline's published and working files instead of a fresh build."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob("*journeys*.duckdb"):
        shutil.copyfile(f, dst.parent / f.name)


def test_reader_never_sees_an_error_or_a_partial_table_set(baseline, landing, tmp_path):
    src, seconds = baseline
    wh = tmp_path / "wh" / "journeys.duckdb"
    copy_warehouse(src, wh)
    env = env_for(wh, tmp_path, landing)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(wh), str(stop)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        run = subprocess.Popen(JOURNEYS + ["run", "--force"], env=env, cwd=PROJECT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(seconds / 3)
        # the CLI's read-only query works while the run writes
        q = journeys(["sql", "select count(*) from marts.journeys"], env)
        assert q.returncode == 0, q.stderr
        assert run.poll() is None, "the run ended before the query: the test did not overlap them"
        _, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, out + err
    assert out.startswith("OK") and int(out.split()[1]) > 3, out


def kill_when(proc: subprocess.Popen, reached) -> None:
    """SIGKILL the run's process group as soon as `reached()` holds, polling every few
    milliseconds; the run must still be running then."""
    deadline = time.monotonic() + 600
    while not reached():
        assert proc.poll() is None, "the run ended before it reached the point where it was to be killed"
        assert time.monotonic() < deadline, "the run never reached the point where it was to be killed"
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it was killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def test_sigkill_at_any_point_leaves_the_published_file_intact(baseline, landing, tmp_path):
    """Killed at the three points that tell: while the models are built (a third of the way),
    while the new analyst file is being written (its temporary file exists), and just after it
    was renamed over the old one (the published file's inode changed)."""
    reference, seconds = baseline
    wh = tmp_path / "wh" / "journeys.duckdb"
    copy_warehouse(reference, wh)
    env = env_for(wh, tmp_path, landing)
    published_before = snapshot(wh)
    def temp_files() -> set[Path]:
        return set(wh.parent.glob(f".{wh.name}.publishing-*"))

    points = {  # each: (seconds since the start, the inode before, the temporary files before) -> reached
        "building the models": lambda t, ino, temps: t >= 0.3 * seconds,
        "writing the new analyst file": lambda t, ino, temps: bool(temp_files() - temps),  # not a killed run's
        "just after the rename": lambda t, ino, temps: wh.stat().st_ino != ino,
    }
    for point, reached in points.items():
        ino, temps, t0 = wh.stat().st_ino, temp_files(), time.monotonic()
        proc = subprocess.Popen(JOURNEYS + ["run", "--force"], env=env, cwd=PROJECT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        kill_when(proc, lambda reached=reached, ino=ino, temps=temps, t0=t0: reached(time.monotonic() - t0, ino, temps))
        con = duckdb.connect(str(wh), read_only=True)  # intact and readable
        a, b, c, d = con.execute(CONSISTENCY).fetchall()[0]
        con.close()
        assert a == b and c == d, point
        assert snapshot(wh) == published_before, point  # same data: either the old or an identical new file
    stale = wh.with_name(f".{wh.name}.publishing-999999")
    stale.write_bytes(b"half a file")
    r = journeys(["run"], env)
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert snapshot(wh) == snapshot(reference)
