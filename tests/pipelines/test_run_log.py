"""marts.pipeline_runs through real Dagster runs: the published file shows the final status of
the run it publishes, a failed run keeps its error, a run without the publish step is settled
by the next one, counts_add_up fails when a loaded partition lacks its row, and killed runs are
marked failed in the Dagster history."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.definitions import build_definitions
from pipelines.defs.ops.jobs import range_tags, raw_op_config
from pipelines.defs.ops.resources import JourneysResource
from pipelines.defs.ops.run_history import (
    INTERRUPTED_TAG,
    PID_TAG,
    WAREHOUSE_TAG,
    mark_interrupted_runs,
    run_tags,
)
from pipelines.defs.staging.assets import STAGING_KEYS
from tests.conftest import PROJECT, TEST_SECRET
from tests.pipelines.test_ingest_pipeline import make_landing
from transforms.config import load_config
from transforms.warehouse import writer_lock

START, END = date(2025, 3, 1), date(2025, 3, 3)


@pytest.fixture
def instance(tmp_path) -> dg.DagsterInstance:
    """A Dagster instance with its run history on disk, as `journeys` uses with DAGSTER_HOME."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT / "dagster.yaml").read_text())
    return dg.DagsterInstance.from_config(str(home))


def resource_for(landing: Path, warehouse: Path) -> JourneysResource:
    return JourneysResource(landing_dir=str(landing), warehouse=str(warehouse), hash_secret=TEST_SECRET)


def run(instance, landing: Path, warehouse: Path, *, assets: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
    resource = resource_for(landing, warehouse)
    defs = build_definitions(load_config(), resource)
    job = defs.resolve_job_def("refresh") if assets is None else defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(
        run_config=raw_op_config(load_config()), instance=instance, raise_on_error=False,
        tags=range_tags(START, END) | run_tags(resource.paths),
        **({"asset_selection": assets} if assets is not None else {}),
    )


def log(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            """select run_id, status, count(*), bool_and(finished_at is not null), min(message)
            from marts.pipeline_runs group by all order by min(started_at), run_id"""
        ).fetchall()
    finally:
        con.close()


def counts_add_up(landing: Path, warehouse: Path) -> dg.AssetCheckEvaluation:
    """The check alone on the current working file, as `journeys check` runs it."""
    resource = resource_for(landing, warehouse)
    defs = build_definitions(load_config(), resource)
    key = dg.AssetCheckKey(STAGING_KEYS["staging.events"], "counts_add_up")
    job = dg.define_asset_job("counts_only", selection=dg.AssetSelection.checks(key))
    only = dg.Definitions(assets=list(defs.assets or []), asset_checks=list(defs.asset_checks or []), jobs=[job],
                          resources={"journeys": resource}, executor=dg.in_process_executor)
    result = only.resolve_job_def("counts_only").execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                                                     raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_failed_run_keeps_its_error_and_the_next_run_publishes_it(instance, tmp_path):
    landing, wh = make_landing(tmp_path / "landing"), tmp_path / "journeys.duckdb"
    wh.mkdir()  # publishing cannot rename its file over a folder: a real failure in the last step
    failed = run(instance, landing, wh)
    assert not failed.success
    work = wh.with_name(".journeys.work.duckdb")
    ((run_id, status, n, finished, message),) = log(work)
    assert (run_id, status, n, finished) == (failed.run_id, "failed", 9, True)
    assert message.startswith("The run failed in step warehouse__published: IsADirectoryError")
    wh.rmdir()
    ok = run(instance, landing, wh)  # nothing changed in the landing zone: it loads nothing new
    assert ok.success
    assert log(wh) == [(failed.run_id, "failed", 9, True, message)]


def test_a_run_without_the_publish_step_is_settled_by_the_next(instance, tmp_path):
    landing, wh = make_landing(tmp_path / "landing"), tmp_path / "journeys.duckdb"
    keys = [dg.AssetKey(["raw", n]) for n in load_config().sources] + list(STAGING_KEYS.values())
    partial = run(instance, landing, wh, assets=keys)
    assert partial.success
    assert log(wh.with_name(".journeys.work.duckdb"))[0][:3] == (partial.run_id, "running", 9)
    full = run(instance, landing, wh)
    assert full.success
    ((run_id, status, n, _, message),) = log(wh)
    assert (run_id, status, n) == (partial.run_id, "succeeded", 9)
    assert message == f"The run finished without publishing; run {full.run_id} published its tables."


def test_counts_add_up_fails_when_a_loaded_partition_has_no_run_log_row(instance, tmp_path):
    landing, wh = make_landing(tmp_path / "landing"), tmp_path / "journeys.duckdb"
    result = run(instance, landing, wh)
    assert result.success
    # the published file shows the final status of the run that published it
    assert log(wh) == [(result.run_id, "succeeded", 9, True, None)]  # 3 sources (crm_contacts reads the crm folder) x 3 days
    assert log(wh.with_name(".journeys.work.duckdb")) == log(wh)
    assert counts_add_up(landing, wh).passed
    con = duckdb.connect(str(wh.with_name(".journeys.work.duckdb")))
    con.execute("delete from marts.pipeline_runs where source = 'crm' and _partition = '2025-03-02'")
    con.close()
    evaluation = counts_add_up(landing, wh)
    assert not evaluation.passed
    assert evaluation.metadata["offending_rows"].value == 1
    assert "| crm | 2025-03-02 |" in evaluation.metadata["examples"].value
    assert "| no marts.pipeline_runs row |" in evaluation.metadata["examples"].value
    assert evaluation.metadata["check_file"].value.endswith("sql/checks/staging/events/counts_add_up.sql")
    # the next run writes the missing row again, as the analyst file shows that run
    assert run(instance, landing, wh).success
    assert counts_add_up(landing, wh).passed
    assert [r[1:3] for r in log(wh)] == [("succeeded", 9)]


@dg.op
def _noop() -> None:
    pass


@dg.job
def _some_job() -> None:
    _noop()


def test_runs_left_started_by_a_dead_process_are_marked_failed(instance, tmp_path):
    paths = resource_for(tmp_path, tmp_path / "journeys.duckdb").paths
    dead_pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                                  capture_output=True, text=True).stdout)

    def started(pid: int, warehouse: Path = paths.published) -> str:
        tags = run_tags(paths) | {PID_TAG: str(pid), WAREHOUSE_TAG: str(warehouse)}
        return instance.create_run_for_job(_some_job, status=dg.DagsterRunStatus.STARTED, tags=tags).run_id

    killed, alive, other = started(dead_pid), started(os.getpid()), started(dead_pid, tmp_path / "other.duckdb")
    with writer_lock(paths):  # a process is writing this warehouse: nothing is marked
        assert mark_interrupted_runs(instance, paths) == []
    assert mark_interrupted_runs(instance, paths) == [killed]
    run = instance.get_run_by_id(killed)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE and run.tags[INTERRUPTED_TAG] == "true"
    (event,) = instance.get_records_for_run(killed, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert "This run was interrupted" in (event.event_log_entry.dagster_event.message or "")
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED  # its process lives
    assert instance.get_run_by_id(other).status == dg.DagsterRunStatus.STARTED  # another warehouse's run
