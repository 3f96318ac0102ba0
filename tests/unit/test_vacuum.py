"""A run defers DuckDB's vacuum (row-group merges at each checkpoint) until a table's deleted
rows reach VACUUM_DEAD_SHARE; then the next checkpoint compacts (transforms.warehouse)."""

from __future__ import annotations

from pathlib import Path

from transforms.warehouse import VACUUM_DEAD_SHARE, compact_if_due, connect, defer_vacuum


def _stored_and_live(con) -> tuple[int, int]:
    stored = con.execute("select estimated_size from duckdb_tables() where schema_name = 'marts' "
                         "and table_name = 'events'").fetchall()[0][0]
    return stored, con.execute("select count(*) from marts.events").fetchall()[0][0]


def test_deleted_rows_stay_until_their_share_is_due_then_the_checkpoint_compacts(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    defer_vacuum(con)
    # a million rows (eight row groups); each delete takes a share of every row group, as a
    # nightly run's delete of its customers' rows does
    con.execute("create table marts.events as select range as id, range % 100 as bucket from range(1000000)")
    con.execute("checkpoint")

    con.execute("delete from marts.events where bucket < 10")
    assert compact_if_due(con) == {}
    con.execute("checkpoint")
    assert _stored_and_live(con) == (1_000_000, 900_000)  # deferred: the deleted rows are still stored

    con.execute("delete from marts.events where bucket < 35")
    assert compact_if_due(con) == {"marts.events": 0.35}
    assert VACUUM_DEAD_SHARE <= 0.35
    con.execute("insert into marts.events values (-1, -1)")  # a checkpoint with nothing to write does nothing
    con.execute("checkpoint")
    stored, live = _stored_and_live(con)
    assert live == 650_001 and stored < 1_000_000 and 1 - live / stored < VACUUM_DEAD_SHARE

    # after the compaction, checkpoints defer again
    assert compact_if_due(con) == {}
    assert con.execute("select current_setting('max_vacuum_tasks')").fetchall()[0][0] == 0
    con.close()
