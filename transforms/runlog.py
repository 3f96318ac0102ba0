"""marts.pipeline_runs, the run log: one row per source, landing partition and run that loaded it.

A row's `status` describes the whole run that loaded the partition, through this lifecycle:

* ``running``: written when the run loads the partition, in the same transaction as the load
  (so no loaded partition is ever without its row), with `n_read`. The run fills in the other
  counts when it stages the partition.
* ``succeeded``: the run published the analyst file. It is written into the fresh analyst file
  just before that file replaces the old one, then into the working file, so the published file
  shows the final status of the run it publishes.
* ``failed``: the run stopped on an error before it published; `message` says which. Written by
  the run itself when it still can, else by the next run from the Dagster run history.
* ``interrupted``: the run stopped before it published without saying why (killed, the machine
  stopped, or the error left no trace). The next run finds it, records the partitions it loaded
  with the counts staged from them, and sets this status.

Only one run writes a warehouse at a time (the writer lock), so whenever a run starts staging,
rows of any other run still ``running`` belong to a run that has stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from transforms.warehouse import apply_comments, mark_changed, run_sql, transaction

RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"
COUNTS_CHECK = "checks/staging/events/counts_add_up"
"""The check that every loaded partition adds up and has its complete run log row."""


@dataclass(frozen=True)
class Outcome:
    """How a run that stopped is to be recorded."""

    status: str
    message: str | None = None
    finished_at: datetime | None = None


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """Whether the current database has the table `schema.table`."""
    return bool(run_sql(con, "ops/catalog/has_table", {"schema": schema, "table": table}).fetchall()[0][0])


def ensure_runs_table(con: duckdb.DuckDBPyConnection) -> None:
    if not has_table(con, "marts", "pipeline_runs"):
        run_sql(con, "ops/runlog/create_table")
        apply_comments(con, "marts.pipeline_runs")


def _has_partitions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether raw._partitions exists (any raw asset creates it, even when it loads nothing)."""
    return has_table(con, "raw", "_partitions")


def record_loads(con: duckdb.DuckDBPyConnection, source: str, days: list[date], run_id: str,
                 started_at: datetime) -> None:
    """Write a `running` row for each of `days` of `source` that run `run_id` has just loaded,
    with the number of records read (from the ledger raw._partitions, written in the same load). Runs
    inside the caller's load transaction: the partition and its row commit together."""
    ensure_runs_table(con)
    mark_changed(con, "marts.pipeline_runs")
    run_sql(con, "ops/runlog/record_loads",
            {"run": run_id, "s": source, "days": days, "started": started_at, "status": RUNNING})


def unsettled_runs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Runs other than `run_id` that stopped without settling their rows: rows still `running`,
    or partitions in raw._partitions loaded by a run that has no row for them (a warehouse
    written before loads were logged)."""
    ensure_runs_table(con)
    name = "ops/runlog/unsettled_runs" if _has_partitions(con) else "ops/runlog/running_runs"
    return [r[0] for r in run_sql(con, name, {"running": RUNNING, "run": run_id}).fetchall()]


def published_successes(published: Path, run_ids: list[str]) -> dict[str, datetime | None]:
    """Those of `run_ids` that the analyst file shows as succeeded (a run killed between
    renaming its file into place and updating the working file), with their finish time."""
    if not run_ids or not published.exists():
        return {}
    try:
        con = duckdb.connect(str(published), read_only=True)
    except duckdb.Error:
        return {}
    try:
        return dict(run_sql(con, "ops/runlog/published_successes", {"ok": SUCCEEDED, "runs": run_ids}).fetchall())
    except duckdb.Error:
        return {}
    finally:
        con.close()


def stage_runs(con: duckdb.DuckDBPyConnection, run_id: str, outcomes: Mapping[str, Outcome]) -> int:
    """After staging: bring the run log up to date with raw._partitions and
    intermediate.partition_counts, in one transaction.

    * every partition in raw._partitions gets a row for the run that loaded it, if it has none;
    * rows of the current load of a partition get the counts staged from it, if they have none
      (this run's rows, and those of a stopped run whose partitions this run staged);
    * rows of the stopped runs in `outcomes` that are still `running` get their outcome.
    Returns the number of rows of this run."""
    ensure_runs_table(con)
    runs = sorted(outcomes)
    loaded = _has_partitions(con)
    with transaction(con):
        mark_changed(con, "marts.pipeline_runs")
        if loaded:
            run_sql(con, "ops/runlog/record_unlogged_partitions", {"running": RUNNING})
            run_sql(con, "ops/runlog/record_staged_counts", {"run": run_id})
        if runs:
            run_sql(con, "ops/runlog/settle_stopped_runs", {
                "runs": runs, "statuses": [outcomes[r].status for r in runs],
                "messages": [outcomes[r].message for r in runs],
                "finished": [outcomes[r].finished_at for r in runs],
                "ok": SUCCEEDED, "running": RUNNING, "failed": FAILED,
            })
        apply_comments(con, "marts.pipeline_runs")
    return _run_rows(con, run_id)


def _run_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    return run_sql(con, "ops/runlog/count_run_rows", {"run": run_id}).fetchall()[0][0]


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, finished_at: datetime) -> int:
    """Mark every row of `run_id` succeeded (the run has published). Returns the rows marked."""
    ensure_runs_table(con)
    run_sql(con, "ops/runlog/finish_run", {"ok": SUCCEEDED, "at": finished_at, "run": run_id})
    return _run_rows(con, run_id)


def fail_run(con: duckdb.DuckDBPyConnection, run_id: str, message: str, finished_at: datetime) -> None:
    """Mark the rows of `run_id` that are still running as failed, with the error's `message`."""
    ensure_runs_table(con)
    with transaction(con):
        mark_changed(con, "marts.pipeline_runs")
        run_sql(con, "ops/runlog/fail_run",
                {"failed": FAILED, "at": finished_at, "m": message, "run": run_id, "running": RUNNING})


def run_log_gaps(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(source, partition, run_id, problem) for each loaded partition that does not add up:
    its run log row is missing, lacks its counts, disagrees with the records loaded or does not
    add up, or the tables' own counts do not add up. Every row the blocking check
    sql/checks/staging/events/counts_add_up.sql returns (the check's one definition)."""
    ensure_runs_table(con)
    if not _has_partitions(con):
        return []
    return run_sql(con, COUNTS_CHECK, {"nightly": False, "run_id": None}).fetchall()  # the full check
