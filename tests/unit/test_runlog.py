"""marts.pipeline_runs on a real DuckDB file: a loaded partition and its row commit together,
a stopped run's partitions are recorded by the next run with their counts, and every gap in
the log is found."""

import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from transforms.config import load_config
from transforms.ingest import load_partitions
from transforms.runlog import (
    FAILED,
    INTERRUPTED,
    RUNNING,
    SUCCEEDED,
    Outcome,
    fail_run,
    finish_run,
    published_successes,
    record_loads,
    run_log_gaps,
    stage_runs,
    unsettled_runs,
)
from transforms.staging import build_staging, count_discrepancies, parse_partitions
from transforms.warehouse import connect

CONFIG = load_config()
SRC = CONFIG.sources["clickstream"]
D1, D2 = date(2025, 3, 1), date(2025, 3, 2)
NOW = datetime(2025, 3, 10)


def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    for day in (D1, D2):
        folder = root / "clickstream" / day.isoformat()
        folder.mkdir(parents=True)
        lines = [json.dumps({"messageId": f"{day}-{i}", "type": "page", "anonymousId": "a",
                             "timestamp": f"{day}T10:0{i}:00Z"}) for i in range(3)]
        lines += [json.dumps({"messageId": f"{D1}-0", "type": "page", "anonymousId": "a",
                              "timestamp": f"{D1}T10:00:00Z"}), "{broken"]  # a duplicate, a bad line
        (folder / "e.jsonl").write_text("\n".join(lines) + "\n")
    return root


def load(con, root: Path, days: list[date], run_id: str, fail_after_log: bool = False) -> None:
    """What the raw asset does: load, parse and log each batch in one transaction."""
    def after_load(batch):
        parse_partitions(con, "clickstream", SRC, batch, CONFIG.settings, "k", NOW)
        record_loads(con, "clickstream", batch, run_id, NOW)
        if fail_after_log:
            raise OSError("No space left on device")
    load_partitions(con, root, "clickstream", SRC, days, NOW, run_id=run_id, started_at=NOW, after_load=after_load)


def rows(con) -> list[tuple]:
    return con.execute(
        """select run_id, _partition, status, n_read, n_accepted, n_rejected, n_duplicates, message
        from marts.pipeline_runs order by run_id, _partition"""
    ).fetchall()


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "w.duckdb")
    yield c
    c.close()


def test_a_loaded_partition_and_its_row_commit_together(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")
    assert rows(con) == [("a", D1, RUNNING, 5, None, None, None, None)]
    with pytest.raises(OSError):
        load(con, root, [D2], "b", fail_after_log=True)
    assert rows(con) == [("a", D1, RUNNING, 5, None, None, None, None)]  # neither D2 nor its row
    assert con.execute("select _partition from raw._partitions").fetchall() == [(D1,)]


def test_a_stopped_runs_partitions_are_recorded_by_the_next_run_with_their_counts(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")  # run a is killed before staging
    load(con, root, [D2], "b")
    build_staging(con)
    assert unsettled_runs(con, "b") == ["a"]
    assert stage_runs(con, "b", {"a": Outcome(INTERRUPTED, "stopped")}) == 1
    assert rows(con) == [
        ("a", D1, INTERRUPTED, 5, 3, 1, 1, "stopped"),
        ("b", D2, RUNNING, 5, 3, 1, 1, None),
    ]
    assert run_log_gaps(con) == [] and count_discrepancies(con) == []
    assert unsettled_runs(con, "c") == ["b"]  # b has not published yet
    finish_run(con, "b", NOW)
    assert [r[2] for r in rows(con)] == [INTERRUPTED, SUCCEEDED]
    assert unsettled_runs(con, "c") == []


def test_a_partition_reloaded_before_staging_keeps_what_is_known(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")
    load(con, root, [D1, D2], "b")  # b reloads D1 before anyone staged a's load
    build_staging(con)
    stage_runs(con, "b", {"a": Outcome(INTERRUPTED, "stopped")})
    (a,) = [r for r in rows(con) if r[0] == "a"]
    assert a[2:7] == (INTERRUPTED, 5, None, None, None)
    assert "replaced by a later load before they were staged" in a[7]
    assert run_log_gaps(con) == []  # the current loads (b's) are complete


def test_partitions_without_their_row_are_recorded_and_found(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1, D2], "a")
    build_staging(con)
    stage_runs(con, "a", {})
    finish_run(con, "a", NOW)
    con.execute("delete from marts.pipeline_runs where _partition = $d", {"d": D2})
    assert run_log_gaps(con) == [("clickstream", D2, "a", "no marts.pipeline_runs row")]
    # the next run repairs the missing row from raw._partitions, with the counts staged, and
    # settles it as the analyst file shows run a
    assert unsettled_runs(con, "b") == ["a"]
    stage_runs(con, "b", {"a": Outcome(SUCCEEDED, None, NOW)})
    assert [r[1:7] for r in rows(con)] == [(D1, SUCCEEDED, 5, 3, 1, 1), (D2, SUCCEEDED, 5, 3, 1, 1)]
    assert run_log_gaps(con) == []
    con.execute("update marts.pipeline_runs set n_duplicates = 0 where _partition = $d", {"d": D1})
    con.execute("update marts.pipeline_runs set n_read = 4 where _partition = $d", {"d": D2})
    assert run_log_gaps(con) == [
        ("clickstream", D1, "a", "read 5 <> accepted 3 + rejected 1 + duplicates 0"),
        ("clickstream", D2, "a", "n_read 4 but 5 records loaded"),
    ]


def test_failed_runs_keep_their_error_and_a_success_overrides_a_retried_failure(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")
    fail_run(con, "a", "The run failed in step raw__crm: OSError: disk full", NOW)
    assert rows(con)[0][2] == FAILED and rows(con)[0][7].endswith("disk full")
    assert unsettled_runs(con, "b") == []  # settled: the next run leaves it as it is
    load(con, root, [D2], "a")  # another step of run a loads after the error, then a stops
    build_staging(con)
    assert unsettled_runs(con, "b") == ["a"]
    stage_runs(con, "b", {"a": Outcome(INTERRUPTED, "stopped")})
    assert {(r[2], r[7]) for r in rows(con)} == {(FAILED, "The run failed in step raw__crm: OSError: disk full")}
    finish_run(con, "a", NOW)  # had the failed step been retried and the run published
    assert {(r[2], r[7]) for r in rows(con)} == {(SUCCEEDED, None)}


def test_rows_staged_from_no_landed_record_do_not_add_up(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")
    build_staging(con)
    assert count_discrepancies(con) == []
    con.execute(
        """insert into quarantine.rejected by name
        select 'clickstream' as source, date '2025-02-01' as _partition, 'x' as _source_file, 1 as _line,
               'stray' as reason, '' as payload"""
    )
    assert count_discrepancies(con) == [("clickstream", date(2025, 2, 1), 0, 0, 1, 0)]
    stage_runs(con, "a", {})
    # the blocking check counts_add_up (sql/checks/staging/events) finds it, with the run log's gaps
    assert run_log_gaps(con) == [
        ("clickstream", date(2025, 2, 1), None, "counted on the tables: read 0 <> accepted 0 + rejected 1 + duplicates 0"),
    ]


def test_published_successes_reads_the_analyst_file(tmp_path, con):
    root = landing(tmp_path)
    load(con, root, [D1], "a")
    published = tmp_path / "published.duckdb"
    assert published_successes(published, ["a"]) == {}
    pub = duckdb.connect(str(published))
    pub.execute("create schema marts")
    pub.execute("create table marts.pipeline_runs as select * from (select 'a' as run_id, $s as status, $t::timestamp as finished_at)",
                {"s": SUCCEEDED, "t": NOW})
    pub.close()
    assert published_successes(published, ["a", "b"]) == {"a": NOW}
