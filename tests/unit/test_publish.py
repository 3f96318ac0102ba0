"""Publishing writes only the tables that changed since the published file: real working and
analyst files under tmp_path, real DuckDB, a reader in another process."""

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from transforms.warehouse import (
    WarehousePaths,
    connect,
    mark_changed,
    mark_days,
    publish,
    replace_table,
    transaction,
)


@pytest.fixture
def paths(tmp_path: Path) -> WarehousePaths:
    """A working file with two published tables, one private one and the load ledger."""
    p = WarehousePaths(published=tmp_path / "wh" / "journeys.duckdb")
    con = connect(p.work)
    try:
        replace_table(con, "marts.a", "select range as id, 'a' || range as label from range(1000)")
        replace_table(con, "marts.b", "select range as id, range * 2 as doubled from range(500)")
        replace_table(con, "intermediate.steps", "select 1 as x")
        with transaction(con):
            con.execute("create table raw._partitions (source varchar, _partition date)")
            con.execute("insert into raw._partitions values ('web', date '2025-03-01')")
            mark_changed(con, "raw._partitions")
        con.execute("checkpoint")
    finally:
        con.close()
    return p


def work(paths: WarehousePaths, *statements: str) -> None:
    con = connect(paths.work)
    try:
        for s in statements:
            con.execute(s)
        con.execute("checkpoint")
    finally:
        con.close()


def rebuild(paths: WarehousePaths, relation: str, select: str) -> None:
    con = connect(paths.work)
    try:
        replace_table(con, relation, select)
        con.execute("checkpoint")
    finally:
        con.close()


def read(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def held(path: Path) -> dict[str, str]:
    return dict(read(path, "select relation, version from _journeys.published_tables"))


def working_versions(paths: WarehousePaths) -> dict[str, str]:
    return dict(read(paths.work, "select relation, version from intermediate._table_versions"))


def tables(path: Path) -> list[str]:
    return [f"{s}.{t}" for s, t in read(path, "select schema_name, table_name from duckdb_tables() order by all")]


def test_the_first_publish_writes_a_fresh_file_recording_the_versions_it_holds(paths):
    info = publish(paths)
    assert (info["mode"], info["reason"]) == ("full", "no analyst file yet")
    assert info["tables"] == 3 and info["changed_tables"] == ["marts.a", "marts.b", "raw._partitions"]
    assert tables(paths.published) == ["_journeys.published_tables", "marts.a", "marts.b", "raw._partitions"]
    versions = working_versions(paths)
    assert held(paths.published) == {r: versions[r] for r in ("marts.a", "marts.b", "raw._partitions")}
    assert info["summary"].startswith("wrote a fresh file (no analyst file yet): 3 tables")
    assert oct(paths.published.stat().st_mode & 0o777) == "0o644"


def test_changing_one_table_rewrites_only_that_table(paths):
    publish(paths)
    before_b = read(paths.published, "select * from marts.b order by id")
    held_before = held(paths.published)
    rebuild(paths, "marts.a", "select range as id, 'new' || range as label from range(10)")
    info = publish(paths)
    assert (info["mode"], info["changed_tables"], info["dropped_tables"]) == ("incremental", ["marts.a"], [])
    assert info["copied_bytes"] > 0 and info["written_bytes"] >= 0
    assert info["summary"].startswith("1 of 3 tables changed; copied ")
    assert read(paths.published, "select count(*), min(label) from marts.a") == [(10, "new0")]
    assert read(paths.published, "select * from marts.b order by id") == before_b
    now = held(paths.published)
    assert now["marts.a"] == working_versions(paths)["marts.a"] != held_before["marts.a"]
    assert {r: v for r, v in now.items() if r != "marts.a"} == {r: v for r, v in held_before.items() if r != "marts.a"}
    # comments come with the rewritten table; nothing left behind
    assert not list(paths.published.parent.glob(".*publishing*"))


def test_nothing_changed_copies_the_file_and_writes_no_table(paths):
    publish(paths)
    info = publish(paths)
    assert (info["mode"], info["changed_tables"]) == ("incremental", [])
    assert info["summary"].startswith("0 of 3 tables changed")


def test_a_table_dropped_from_the_working_file_disappears(paths):
    publish(paths)
    work(paths, "drop table marts.b")
    info = publish(paths)
    assert (info["mode"], info["changed_tables"], info["dropped_tables"]) == ("incremental", [], ["marts.b"])
    assert tables(paths.published) == ["_journeys.published_tables", "marts.a", "raw._partitions"]
    assert set(held(paths.published)) == {"marts.a", "raw._partitions"}


def test_a_table_written_without_a_new_version_is_still_caught_or_always_copied(paths):
    publish(paths)
    # a writer that forgot mark_changed but changed the row count, and a table never versioned
    work(paths, "insert into marts.b values (1000, 2000)", "create table marts.c as select 1 as x")
    info = publish(paths)
    assert info["changed_tables"] == ["marts.b", "marts.c"]
    assert read(paths.published, "select count(*) from marts.b") == [(501,)]
    assert publish(paths)["changed_tables"] == ["marts.c"]  # no version: copied every time


def load_day(paths: WarehousePaths, day: date, n: int) -> None:
    """Replace landing day `day` of source 'web' in quarantine.rejected by `n` rows, as staging does."""
    con = connect(paths.work)
    try:
        with transaction(con):
            con.execute("create table if not exists quarantine.rejected (source varchar, _partition date, line bigint)")
            con.execute("delete from quarantine.rejected where source = 'web' and _partition = $d", {"d": day})
            con.execute("insert into quarantine.rejected select 'web', $d, range from range($n)", {"d": day, "n": n})
            mark_days(con, "quarantine.rejected", "source_day", "web", [day])
        con.execute("checkpoint")
    finally:
        con.close()


def test_a_table_written_by_landing_day_is_published_by_day_while_its_log_reaches_the_held_version(paths):
    d1, d2, d3, d4 = (date(2025, 3, d) for d in (1, 2, 3, 4))
    load_day(paths, d1, 3)
    load_day(paths, d2, 2)
    assert publish(paths)["mode"] == "full"
    everything = "select * from quarantine.rejected order by all"

    load_day(paths, d2, 4)
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {"quarantine.rejected": {"days": 1, "deleted": 2, "inserted": 4}}
    assert info["changed_tables"] == ["quarantine.rejected"]
    assert read(paths.published, everything) == read(paths.work, everything)

    # two writes since the published version: both days
    load_day(paths, d3, 1)
    load_day(paths, d1, 0)
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {"quarantine.rejected": {"days": 2, "deleted": 3, "inserted": 1}}
    assert read(paths.published, everything) == read(paths.work, everything)

    # the log of day writes lost a link: copied whole
    load_day(paths, d4, 2)
    work(paths, "delete from intermediate._day_writes")
    load_day(paths, d4, 3)
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {} and info["changed_tables"] == ["quarantine.rejected"]
    assert read(paths.published, everything) == read(paths.work, everything)

    # a write of the whole table since: copied whole, even though the next write is by day
    con = connect(paths.work)
    with transaction(con):
        con.execute("delete from quarantine.rejected where _partition = $d", {"d": d3})
        mark_changed(con, "quarantine.rejected")
    con.close()
    load_day(paths, d4, 1)
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {} and info["changed_tables"] == ["quarantine.rejected"]
    assert read(paths.published, everything) == read(paths.work, everything)
    assert publish(paths)["changed_tables"] == []


def land_events(paths: WarehousePaths, landed: dict[date, list[str]], written: list[date]) -> None:
    """Staging of source 'web' after the landing days `written` were (re)loaded, `landed` holding
    every day's event ids: an event's kept row in staging.events is its first landed copy (the
    earliest day), the later copies are in intermediate.duplicate_events, as sql/ingest/stage.sql
    files them."""
    copies = [(e, d, i) for d, ids in landed.items() for i, e in enumerate(ids)]
    con = connect(paths.work)
    try:
        with transaction(con):
            con.execute("create or replace temp table copies (event_id varchar, _partition date, line bigint)")
            con.executemany("insert into copies values (?, ?, ?)", copies)
            ranked = ("select event_id, 'web' as source, _partition, line, row_number() over "
                      "(partition by event_id order by _partition, line) as n from copies")
            con.execute(f"create or replace table staging.events as select * exclude (n) from ({ranked}) where n = 1 "
                        "order by _partition, line")
            con.execute(f"create or replace table intermediate.duplicate_events as select * exclude (n) from ({ranked}) "
                        "where n > 1")
            mark_days(con, "staging.events", "event_id", "web", written)
        con.execute("checkpoint")
    finally:
        con.close()


def test_events_whose_kept_copy_moves_to_or_from_another_day_are_replaced_by_event_id(paths):
    d0, d1, d2, d3 = (date(2025, 3, d) for d in (1, 2, 3, 4))
    landed = {d1: ["e1", "e2"], d2: ["e3", "e2"]}
    land_events(paths, landed, [d1, d2])
    assert publish(paths)["mode"] == "full"
    everything = "select * from staging.events order by all"

    # a new day: replaced by day, nothing moved
    landed[d3] = ["e4", "e1"]
    land_events(paths, landed, [d3])
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {"staging.events": {"days": 1, "deleted": 0, "inserted": 1, "moved": 0}}
    assert read(paths.published, everything) == read(paths.work, everything)

    # day 1 reloaded without e2: its kept copy moves to day 2, which was not written
    landed[d1] = ["e1"]
    land_events(paths, landed, [d1])
    info = publish(paths)
    assert info["rows_replaced_by_day"]["staging.events"]["moved"] == 1
    assert read(paths.published, everything) == read(paths.work, everything)

    # an earlier day loaded late with a copy of e3: its kept copy moves from day 2 to day 0
    landed[d0] = ["e3", "e5"]
    land_events(paths, landed, [d0])
    info = publish(paths)
    assert info["rows_replaced_by_day"] == {"staging.events": {"days": 1, "deleted": 1, "inserted": 2, "moved": 1}}
    assert read(paths.published, everything) == read(paths.work, everything)

    # both kinds in two writes since the published version, and an event gone
    landed[d2] = ["e2", "e6"]
    land_events(paths, landed, [d2])
    landed[d3] = ["e3", "e4"]
    land_events(paths, landed, [d3])
    info = publish(paths)
    assert info["rows_replaced_by_day"]["staging.events"]["days"] == 2
    assert read(paths.published, everything) == read(paths.work, everything)


def test_a_new_schema_an_erasure_or_a_request_writes_a_fresh_file(paths):
    publish(paths)
    rebuild(paths, "identity.customer_ids", "select 'x' as customer_id")
    assert (publish(paths)["reason"]) == "the set of schemas changed"
    assert publish(paths)["mode"] == "incremental"
    work(paths, "create table marts.erasures (erasure_id varchar)")
    assert publish(paths)["mode"] == "incremental"
    work(paths, "insert into marts.erasures values ('e1')")
    assert publish(paths)["reason"] == "an erasure was recorded since the last publish"
    assert publish(paths)["mode"] == "incremental"
    info = publish(paths, full=True)
    assert (info["mode"], info["reason"]) == ("full", "asked for a full rewrite")
    assert tables(paths.published) == ["_journeys.published_tables", "identity.customer_ids", "marts.a", "marts.b",
                                       "marts.erasures", "raw._partitions"]


def test_an_unreadable_analyst_file_is_written_fresh(paths):
    paths.published.parent.mkdir(parents=True, exist_ok=True)
    paths.published.write_bytes(b"not a database" * 1000)
    info = publish(paths)
    assert info["mode"] == "full" and info["reason"].startswith("the analyst file could not be read")
    assert read(paths.published, "select count(*) from marts.a") == [(1000,)]


def test_an_analyst_file_without_versions_is_written_fresh(paths):
    paths.published.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(paths.published)).close()
    assert publish(paths)["reason"] == "the analyst file records no table versions"


@pytest.mark.parametrize("full", [False, True])
def test_a_failed_publish_leaves_the_old_analyst_file_intact(paths, full):
    publish(paths)
    before = paths.published.read_bytes()
    rebuild(paths, "marts.a", "select 1 as id, 'changed' as label")

    def fail(_con):
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        publish(paths, full=full, finalize=fail)
    assert paths.published.read_bytes() == before
    assert read(paths.published, "select count(*) from marts.a") == [(1000,)]
    assert not list(paths.published.parent.glob(".*publishing*"))
    assert publish(paths)["changed_tables"] == ["marts.a"]  # the next publish still sees the change


READER = """
import sys, time, duckdb
path, go = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=True)
con.execute("begin transaction")
print(con.execute("select count(*) from marts.a").fetchall()[0][0], flush=True)
import os
while not os.path.exists(go):
    time.sleep(0.05)
print(con.execute("select count(*) from marts.a").fetchall()[0][0], flush=True)
"""


def test_a_reader_keeps_its_view_and_a_new_connection_sees_the_new_data(paths, tmp_path):
    publish(paths)
    go = tmp_path / "go"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(paths.published), str(go)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "1000"
        rebuild(paths, "marts.a", "select range as id, 'x' as label from range(7)")
        t0 = time.monotonic()
        assert publish(paths)["changed_tables"] == ["marts.a"]
        assert time.monotonic() - t0 < 60
        assert read(paths.published, "select count(*) from marts.a") == [(7,)]  # a new connection
    finally:
        go.touch()
        out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    assert out.strip() == "1000"  # the reader's transaction kept the old file
