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

from transforms.warehouse import apply_comments, mark_changed, transaction

RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "running", "succeeded", "failed", "interrupted"

PIPELINE_RUNS_COLUMNS = """
    run_id varchar not null, source varchar not null, _partition date not null,
    n_read bigint, n_accepted bigint, n_rejected bigint, n_duplicates bigint,
    started_at timestamp, finished_at timestamp, status varchar not null, message varchar
"""


@dataclass(frozen=True)
class Outcome:
    """How a run that stopped is to be recorded."""

    status: str
    message: str | None = None
    finished_at: datetime | None = None


def ensure_runs_table(con: duckdb.DuckDBPyConnection) -> None:
    if not con.execute(
        """select count(*) from duckdb_tables()
        where database_name = current_database() and schema_name = 'marts' and table_name = 'pipeline_runs'"""
    ).fetchall()[0][0]:
        con.execute("create table marts.pipeline_runs (" + PIPELINE_RUNS_COLUMNS + ")")
        apply_comments(con, "marts.pipeline_runs")


def _has_partitions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether raw._partitions exists (any raw asset creates it, even when it loads nothing)."""
    return bool(con.execute(
        """select count(*) from duckdb_tables()
        where database_name = current_database() and schema_name = 'raw' and table_name = '_partitions'"""
    ).fetchall()[0][0])


def record_loads(con: duckdb.DuckDBPyConnection, source: str, days: list[date], run_id: str,
                 started_at: datetime) -> None:
    """Write a `running` row for each of `days` of `source` that run `run_id` has just loaded,
    with the number of records read (from the ledger raw._partitions, written in the same load). Runs
    inside the caller's load transaction: the partition and its row commit together."""
    ensure_runs_table(con)
    mark_changed(con, "marts.pipeline_runs")
    params = {"run": run_id, "s": source, "days": days}
    con.execute(
        """delete from marts.pipeline_runs
        where run_id = $run and source = $s and _partition in (select unnest($days::date[]))""",
        params,
    )
    con.execute(
        """insert into marts.pipeline_runs
        with loaded as (select unnest($days::date[]) as _partition),
        records as (
            select _partition, n_lines as n_read from raw._partitions
            where source = $s and _partition in (select _partition from loaded)
        )
        select $run, $s, l._partition, coalesce(r.n_read, 0), null, null, null, $started, null, $status, null
        from loaded as l left join records as r using (_partition)""",
        {**params, "started": started_at, "status": RUNNING},
    )


def unsettled_runs(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Runs other than `run_id` that stopped without settling their rows: rows still `running`,
    or partitions in raw._partitions loaded by a run that has no row for them (a warehouse
    written before loads were logged)."""
    ensure_runs_table(con)
    if not _has_partitions(con):
        return [r[0] for r in con.execute(
            "select distinct run_id from marts.pipeline_runs where status = $running and run_id <> $run order by 1",
            {"running": RUNNING, "run": run_id}).fetchall()]
    return [r[0] for r in con.execute(
        """select run_id from marts.pipeline_runs where status = $running and run_id <> $run
        union
        select coalesce(p.run_id, '') from raw._partitions as p
        anti join marts.pipeline_runs as r
            on r.run_id = coalesce(p.run_id, '') and r.source = p.source and r._partition = p._partition
        where coalesce(p.run_id, '') <> $run
        order by 1""",
        {"running": RUNNING, "run": run_id},
    ).fetchall()]


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
        return dict(con.execute(
            """select run_id, max(finished_at) from marts.pipeline_runs
            where status = $ok and run_id in (select unnest($runs::varchar[])) group by all""",
            {"ok": SUCCEEDED, "runs": run_ids},
        ).fetchall())
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
            con.execute(
                """insert into marts.pipeline_runs
                select coalesce(p.run_id, ''), p.source, p._partition, p.n_lines, null, null, null,
                       p.started_at, null, $running, null
                from raw._partitions as p
                anti join marts.pipeline_runs as r
                    on r.run_id = coalesce(p.run_id, '') and r.source = p.source and r._partition = p._partition""",
                {"running": RUNNING},
            )
            con.execute(
                """update marts.pipeline_runs as r
                set n_read = c.n_read, n_accepted = c.n_accepted, n_rejected = c.n_rejected,
                    n_duplicates = c.n_duplicates
                from (
                    select p.source, p._partition, coalesce(p.run_id, '') as run_id,
                           coalesce(c.n_read, 0) as n_read, coalesce(c.n_accepted, 0) as n_accepted,
                           coalesce(c.n_rejected, 0) as n_rejected, coalesce(c.n_duplicates, 0) as n_duplicates
                    from raw._partitions as p
                    left join intermediate.partition_counts as c using (source, _partition)
                ) as c
                where r.source = c.source and r._partition = c._partition and r.run_id = c.run_id
                  and (r.run_id = $run or r.n_accepted is null)""",
                {"run": run_id},
            )
        if runs:
            # a run whose failure hook marked some rows failed (those loaded before the error) is
            # failed as a whole, with that error
            con.execute(
                """update marts.pipeline_runs as r
                set status = o.status, finished_at = o.finished_at,
                    message = case
                        when r.n_accepted is null and o.status <> $ok then concat_ws(' ', o.message,
                            'Its records were replaced by a later load before they were staged: only n_read is known.')
                        else o.message
                    end
                from (
                    select o.run_id, coalesce(f.status, o.status) as status, coalesce(f.message, o.message) as message,
                           coalesce(f.finished_at, o.finished_at) as finished_at
                    from (
                        select unnest($runs::varchar[]) as run_id, unnest($statuses::varchar[]) as status,
                               unnest($messages::varchar[]) as message, unnest($finished::timestamp[]) as finished_at
                    ) as o
                    left join (
                        select run_id, any_value(status) as status, min(message) as message, max(finished_at) as finished_at
                        from marts.pipeline_runs where status = $failed group by all
                    ) as f using (run_id)
                ) as o
                where r.run_id = o.run_id and r.status = $running""",
                {"runs": runs, "statuses": [outcomes[r].status for r in runs],
                 "messages": [outcomes[r].message for r in runs],
                 "finished": [outcomes[r].finished_at for r in runs], "ok": SUCCEEDED, "running": RUNNING,
                 "failed": FAILED},
            )
        apply_comments(con, "marts.pipeline_runs")
    return con.execute("select count(*) from marts.pipeline_runs where run_id = $run", {"run": run_id}).fetchall()[0][0]


def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, finished_at: datetime) -> int:
    """Mark every row of `run_id` succeeded (the run has published). Returns the rows marked."""
    ensure_runs_table(con)
    con.execute(
        "update marts.pipeline_runs set status = $ok, finished_at = $at, message = null where run_id = $run",
        {"ok": SUCCEEDED, "at": finished_at, "run": run_id},
    )
    return con.execute("select count(*) from marts.pipeline_runs where run_id = $run", {"run": run_id}).fetchall()[0][0]


def fail_run(con: duckdb.DuckDBPyConnection, run_id: str, message: str, finished_at: datetime) -> None:
    """Mark the rows of `run_id` that are still running as failed, with the error's `message`."""
    ensure_runs_table(con)
    with transaction(con):
        mark_changed(con, "marts.pipeline_runs")
        con.execute(
            """update marts.pipeline_runs set status = $failed, finished_at = $at, message = $m
            where run_id = $run and status = $running""",
            {"failed": FAILED, "at": finished_at, "m": message, "run": run_id, "running": RUNNING},
        )


def run_log_gaps(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(source, partition, run_id, problem) for each partition in raw._partitions whose run log
    row is missing, lacks its counts, disagrees with the records loaded, or does not add up."""
    ensure_runs_table(con)
    if not _has_partitions(con):
        return []
    return con.execute(
        """with raw_counts as (
            select source, _partition, n_lines as n from raw._partitions
        )
        select p.source, p._partition, p.run_id,
            case
                when r.run_id is null then 'no marts.pipeline_runs row'
                when r.n_accepted is null or r.n_rejected is null or r.n_duplicates is null then 'counts not recorded'
                when r.n_read <> coalesce(c.n, 0) then 'n_read ' || r.n_read || ' but ' || coalesce(c.n, 0) || ' records loaded'
                when r.n_read <> r.n_accepted + r.n_rejected + r.n_duplicates then
                    'read ' || r.n_read || ' <> accepted ' || r.n_accepted || ' + rejected ' || r.n_rejected
                    || ' + duplicates ' || r.n_duplicates
            end as problem
        from raw._partitions as p
        left join marts.pipeline_runs as r
            on r.run_id = coalesce(p.run_id, '') and r.source = p.source and r._partition = p._partition
        left join raw_counts as c on c.source = p.source and c._partition = p._partition
        where problem is not null
        order by all"""
    ).fetchall()
