"""Runs that stopped without finishing: in the Dagster run history and in marts.pipeline_runs.

The `journeys` command runs the job in its own process (`execute_in_process`). A run whose
process is killed stays STARTED in the Dagster history for ever; `mark_interrupted_runs`,
called before the next run starts, reports such runs of the same warehouse as failed. A run's
process is known to be gone when the warehouse's writer lock is free (every run holds it while
it works) and the process id the run recorded no longer exists.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Mapping

import dagster as dg

from pipelines.defs.ops.resources import utcnow
from transforms.runlog import FAILED, INTERRUPTED, SUCCEEDED, Outcome, fail_run
from transforms.warehouse import WarehouseBusy, WarehousePaths, writer_lock

WAREHOUSE_TAG = "journeys/warehouse"  # every run carries the published file it writes: `status` counts its own
PID_TAG = "journeys/pid"
HOST_TAG = "journeys/host"
INTERRUPTED_TAG = "journeys/interrupted"

_UNFINISHED = [dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def run_tags(paths: WarehousePaths) -> dict[str, str]:
    """Tags of a run the `journeys` command starts: its warehouse and its process."""
    return {WAREHOUSE_TAG: str(paths.published), PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _process_alive(run: dg.DagsterRun) -> bool:
    if run.tags.get(HOST_TAG) != socket.gethostname():
        return False  # another machine: the free writer lock is the evidence
    try:
        pid = int(run.tags.get(PID_TAG, ""))
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted_runs(instance: dg.DagsterInstance, paths: WarehousePaths) -> list[str]:
    """Report as failed the runs of this warehouse that are still NOT_STARTED, STARTING or
    STARTED although their process is gone. Returns their run ids. Does nothing while another
    process holds the warehouse's writer lock."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED, tags={WAREHOUSE_TAG: str(paths.published)}))
    if not runs:
        return []
    marked = []
    with contextlib.suppress(WarehouseBusy), writer_lock(paths, wait_seconds=0):
        for run in runs:
            if _process_alive(run):
                continue
            instance.add_run_tags(run.run_id, {INTERRUPTED_TAG: "true"})
            instance.report_run_failed(
                run,
                message=(
                    f"This run was interrupted: its process ({run.tags.get(PID_TAG, 'unknown pid')}) ended before "
                    "the run finished, e.g. killed. Marked failed when the next journeys run started; the "
                    "partitions it loaded are recorded in marts.pipeline_runs as interrupted."
                ),
            )
            marked.append(run.run_id)
    return marked


def stopped_run_outcomes(instance: dg.DagsterInstance, run_ids: list[str],
                         published: Mapping[str, object], recorded_by: str) -> dict[str, Outcome]:
    """How to record each run of `run_ids` (runs that stopped before settling their rows):
    succeeded if the analyst file shows it published, or if the Dagster history says it ended
    well (a selection of assets without the publish step: this run publishes its tables);
    failed if the Dagster history says it failed on an error; else interrupted."""
    out: dict[str, Outcome] = {}
    for run_id in run_ids:
        if run_id in published:
            out[run_id] = Outcome(SUCCEEDED, None, published[run_id])  # type: ignore[arg-type]
            continue
        run = instance.get_run_by_id(run_id) if run_id else None
        if run is not None and run.status == dg.DagsterRunStatus.SUCCESS:  # a selection without the publish step
            out[run_id] = Outcome(SUCCEEDED, f"The run finished without publishing; run {recorded_by} published its tables.")
        elif run is not None and run.status == dg.DagsterRunStatus.FAILURE and INTERRUPTED_TAG not in run.tags:
            out[run_id] = Outcome(FAILED, f"The run failed before it published (see run {run_id} in Dagster); "
                                          f"recorded by run {recorded_by}.")
        else:
            out[run_id] = Outcome(INTERRUPTED, f"The run stopped before it published (killed, or it could not "
                                               f"record its error); recorded by run {recorded_by}.")
    return out


@dg.failure_hook(required_resource_keys={"journeys"})
def record_run_failure(context: dg.HookContext) -> None:
    """A step failed, so the run will not publish: mark its marts.pipeline_runs rows failed with
    the error. If the working file cannot be written (disk full, say), the next run records the
    run from the Dagster history instead."""
    error = context.op_exception
    text = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""
    cause = type(error).__name__ + (f": {text}" if text else "") if error is not None else "an error"
    message = f"The run failed in step {context.step_key}: {cause}"
    with contextlib.suppress(Exception), context.resources.journeys.connect() as con:
        fail_run(con, context.run_id, message, utcnow())
