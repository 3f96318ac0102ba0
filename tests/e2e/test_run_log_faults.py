"""The run log under faults. `journeys run` in a subprocess is SIGKILLed during ingest, staging,
the marts and publishing, or fails for lack of disk space on a small real filesystem; then a
normal run. Every partition any run loaded has its marts.pipeline_runs row, read = accepted +
rejected + duplicates holds per partition and for the landing zone as a whole, the published
file is readable and equal to that of a run without faults, and the Dagster history shows the
killed runs failed.

The kill points are found in the run's own Dagster event log (the STEP_START of a step) and,
for publishing, by the temporary file it writes, not by sleeping."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.ops.run_history import INTERRUPTED_TAG, WAREHOUSE_TAG
from tests.conftest import FIXTURE_LANDING, PROJECT, TEST_SECRET, run_pipeline
from tests.pipelines.test_ingest_pipeline import snapshot
from transforms.runlog import run_log_gaps
from transforms.staging import count_partitions

# one xdist worker runs the whole module: its module-scoped fixtures are built once, not per worker
pytestmark = pytest.mark.xdist_group("run_log_faults")

DAYS = ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-10")  # 03-03 holds the broken files
JOURNEYS = Path(sys.executable).parent / "journeys"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults-landing")
    for day in FIXTURE_LANDING.glob("*/*"):
        if day.name in DAYS:
            shutil.copytree(day, root / day.parent.name / day.name)
    return root


@pytest.fixture(scope="module")
def reference(tmp_path_factory, landing) -> Path:
    """The published file of one run without faults."""
    run = run_pipeline(landing, tmp_path_factory.mktemp("faults-reference") / "journeys.duckdb")
    assert run.result.success
    return run.published


def dagster_home(tmp: Path) -> Path:
    home = tmp / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copyfile(PROJECT / "dagster.yaml", home / "dagster.yaml")
    return home


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, JOURNEYS_HASH_SECRET=TEST_SECRET, DAGSTER_HOME=str(home), PYTHONWARNINGS="ignore")
    env.pop("JOURNEYS_CONFIG_DIR", None)
    return env


def start_run(landing: Path, wh: Path, home: Path, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "w") as fh:
        return subprocess.Popen([str(JOURNEYS), "run", "--landing", str(landing), "--warehouse", str(wh), *extra],
                                env=env_for(home), cwd=PROJECT, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)


def started_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return [r.event_log_entry.dagster_event.step_key for r in records]  # type: ignore[union-attr]


def kill_when(proc: subprocess.Popen, instance: dg.DagsterInstance, wh: Path,
              reached: Callable[[list[str]], bool]) -> tuple[str, str]:
    """SIGKILL the run's process group as soon as `reached(steps started so far)` holds, or (for
    publishing) the temporary analyst file exists. Returns the run id and the last step started."""
    known = {r.run_id for r in instance.get_runs()}
    run_id = None
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, "the run ended before it reached the point where it was to be killed"
        assert time.monotonic() < deadline, "the run never reached the point where it was to be killed"
        if run_id is None:
            new = [r.run_id for r in instance.get_runs(limit=1) if r.run_id not in known]
            run_id = new[0] if new else None
        if run_id is not None and reached(started_steps(instance, run_id)):
            break
        time.sleep(0.04)  # each step takes a few tenths of a second; polling must not starve the run
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return run_id, started_steps(instance, run_id)[-1]


def publishing(wh: Path) -> Callable[[list[str]], bool]:
    return lambda steps: "warehouse__published" in steps and any(wh.parent.glob(f".{wh.name}.publishing-*"))


def assert_run_log_exact(wh: Path, reference: Path) -> None:
    """The published file and the working file after a normal run that followed faults."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        unrecorded = con.execute(
            """select p.source, p._partition, p.run_id from raw._partitions as p
            anti join marts.pipeline_runs as r using (run_id, source, _partition)"""
        ).fetchall()
        assert unrecorded == []
        assert {s for (s,) in con.execute("select distinct status from marts.pipeline_runs").fetchall()} <= {
            "succeeded", "failed", "interrupted"}
        current = con.execute(
            """select sum(n_read), sum(n_accepted), sum(n_rejected), sum(n_duplicates), sum(p.n_lines),
                   count(*) filter (where n_read <> n_accepted + n_rejected + n_duplicates)
            from marts.pipeline_runs join raw._partitions as p using (run_id, source, _partition)"""
        ).fetchall()[0]
    finally:
        con.close()
    read, accepted, rejected, duplicates, lines, not_adding_up = current
    assert not_adding_up == 0
    assert read == accepted + rejected + duplicates == lines
    ref = duckdb.connect(str(reference), read_only=True)
    try:
        expected = ref.execute(
            "select sum(n_read), sum(n_accepted), sum(n_rejected), sum(n_duplicates) from marts.pipeline_runs").fetchall()[0]
    finally:
        ref.close()
    assert (read, accepted, rejected, duplicates) == expected
    # independent counts over the private working file, table by table: the whole landing zone adds up
    work = duckdb.connect(str(wh.with_name(f".{wh.stem}.work.duckdb")), read_only=True)
    try:
        partitions = count_partitions(work)
        assert run_log_gaps(work) == []
    finally:
        work.close()
    totals = [sum(p[i] for p in partitions) for i in range(2, 6)]
    assert totals == list(expected) and totals[0] == totals[1] + totals[2] + totals[3]
    assert [p for p in partitions if p[2] != p[3] + p[4] + p[5]] == []
    assert snapshot(wh) == snapshot(reference)  # readable, and what a run without faults publishes


def statuses(wh: Path, run_id: str) -> set[str]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return {s for (s,) in con.execute("select distinct status from marts.pipeline_runs where run_id = $r",
                                          {"r": run_id}).fetchall()}
    finally:
        con.close()


def failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    return records[-1].event_log_entry.dagster_event.message or ""  # type: ignore[union-attr]


def test_sigkill_during_ingest_staging_marts_and_publish_then_a_normal_run(landing, reference, tmp_path):
    wh = tmp_path / "wh" / "journeys.duckdb"
    home = dagster_home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    points = [
        ("ingest", (), lambda steps: sum(s.startswith("raw__") for s in steps) >= 2, "raw__"),
        ("staging", (), lambda steps: "staging" in steps, "staging"),
        ("marts", (), lambda steps: "marts__attribution" in steps, "marts__"),
        ("publish", ("--force",), publishing(wh), "warehouse__published"),
    ]
    killed = {}
    for name, extra, reached, expected_step in points:
        proc = start_run(landing, wh, home, tmp_path / f"{name}.log", *extra)
        run_id, last_step = kill_when(proc, instance, wh, reached)
        assert last_step.startswith(expected_step), f"killed during {last_step}, not {name}"
        killed[name] = run_id
    # killed while writing its fresh file: no run has published, unless the kill came just after the rename
    published_by_killed_run = wh.exists()

    proc = start_run(landing, wh, home, tmp_path / "final.log")
    assert proc.wait(timeout=300) == 0, (tmp_path / "final.log").read_text()
    output = (tmp_path / "final.log").read_text()
    assert "Marked 1 interrupted run(s) failed in the Dagster history" in output
    assert_run_log_exact(wh, reference)

    # the runs killed while loading or staging are recorded by the next run, with their counts
    for name in ("ingest", "staging"):
        assert statuses(wh, killed[name]) == {"interrupted"}, name
    assert statuses(wh, killed["publish"]) == ({"succeeded"} if published_by_killed_run else {"interrupted"})
    con = duckdb.connect(str(wh), read_only=True)
    try:
        early = con.execute(
            """select count(*), count(*) filter (where n_read = n_accepted + n_rejected + n_duplicates),
                   min(message) from marts.pipeline_runs where run_id in ($a, $b)""",
            {"a": killed["ingest"], "b": killed["staging"]}).fetchall()[0]
    finally:
        con.close()
    assert early[0] > 0 and early[0] == early[1]
    assert early[2].startswith("The run stopped before it published")
    assert statuses(wh, killed["marts"]) == set()  # it loaded nothing new

    # the Dagster history: every killed run failed, marked as interrupted; the last one succeeded
    runs = instance.get_runs(filters=dg.RunsFilter(tags={WAREHOUSE_TAG: str(wh)}))
    assert len(runs) == 5
    for run_id in killed.values():
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE and run.tags.get(INTERRUPTED_TAG) == "true"
        assert "This run was interrupted" in failure_message(instance, run_id)
    assert [r.status for r in runs if r.run_id not in killed.values()] == [dg.DagsterRunStatus.SUCCESS]


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A real 32 MB filesystem (tmpfs), unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_then_space_freed(landing, reference, small_disk, tmp_path):
    wh = small_disk / "wh" / "journeys.duckdb"
    home = dagster_home(tmp_path)
    filler = small_disk / "filler"
    with open(filler, "wb") as fh:  # leave 4 MB: the first source loads, the next ones do not fit
        os.posix_fallocate(fh.fileno(), 0, shutil.disk_usage(small_disk).free - 4 * 2**20)

    proc = start_run(landing, wh, home, tmp_path / "full.log")
    assert proc.wait(timeout=300) == 1
    output = (tmp_path / "full.log").read_text()
    assert any(cause in output.lower() for cause in ("no space left", "disk is full", "disk full")), output
    instance = dg.DagsterInstance.from_config(str(home))
    (failed,) = instance.get_runs(filters=dg.RunsFilter(tags={WAREHOUSE_TAG: str(wh)}))
    assert failed.status == dg.DagsterRunStatus.FAILURE

    filler.unlink()  # space freed
    proc = start_run(landing, wh, home, tmp_path / "after.log")
    assert proc.wait(timeout=300) == 0, (tmp_path / "after.log").read_text()
    assert_run_log_exact(wh, reference)
    assert statuses(wh, failed.run_id) <= {"failed"}  # its loads, if any committed, say it failed
