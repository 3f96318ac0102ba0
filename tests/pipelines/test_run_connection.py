"""The steps of a run share one connection to the working file (issue 16: the fixed cost of a
small step), yet each starts as it did on a connection of its own: no temporary table of an
earlier step, no connection kept after a step failed, the file closed when the run ends."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from pipelines.defs.ops.resources import JourneysResource
from tests.conftest import FIXTURE_LANDING, TEST_SECRET


def resource(tmp_path) -> JourneysResource:
    return JourneysResource(landing_dir=str(FIXTURE_LANDING), warehouse=str(tmp_path / "journeys.duckdb"),
                            hash_secret=TEST_SECRET)


def started(tmp_path) -> JourneysResource:
    r = resource(tmp_path)
    r.setup_for_execution(dg.build_init_resource_context())
    return r


def test_steps_of_a_run_share_one_connection_without_each_others_temp_tables(tmp_path):
    r = started(tmp_path)
    try:
        with r.connect() as first:
            first.execute("create or replace temp table scratch as select 1 as x")
            first.execute("create or replace temp view scratch_view as select 2 as y")
            first.execute("create table marts.kept as select 3 as z")
            with r.connect() as inner:  # a nested block: the same connection, scratch still there
                assert inner is first
                assert inner.execute("select x from scratch").fetchall() == [(1,)]
        with r.connect() as second:
            assert second is first
            assert second.execute("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]
            assert second.execute(
                "select count(*) from duckdb_views() where temporary and not internal").fetchall() == [(0,)]
            assert second.execute("select z from marts.kept").fetchall() == [(3,)]
    finally:
        r.teardown_after_execution(dg.build_init_resource_context())
    # the run's end closed the file: another connection (here read-only) may open it
    con = duckdb.connect(str(r.paths.work), read_only=True)
    assert con.execute("select z from marts.kept").fetchall() == [(3,)]
    con.close()


def test_a_failed_step_closes_the_connection_and_the_next_opens_a_new_one(tmp_path):
    r = started(tmp_path)
    try:
        with pytest.raises(duckdb.CatalogException), r.connect() as con:
            con.execute("select * from marts.no_such_table")
        with r.connect() as again:
            assert again is not con
            assert again.execute("select 1").fetchall() == [(1,)]
        with pytest.raises(duckdb.ConnectionException):
            con.execute("select 1")  # the failed step's connection was closed
    finally:
        r.teardown_after_execution(dg.build_init_resource_context())


def test_close_connection_lets_another_connection_attach_the_working_file(tmp_path):
    r = started(tmp_path)
    try:
        with r.connect() as con:
            con.execute("create table marts.t as select 1 as a")
        r.close_connection()  # what the publish step does before it attaches the working file
        other = duckdb.connect(str(tmp_path / "other.duckdb"))
        other.execute("attach $p as work (read_only)", {"p": str(r.paths.work)})
        assert other.execute("select a from work.marts.t").fetchall() == [(1,)]
        other.close()
        with r.connect() as reopened:  # and a later step of the run opens it again
            assert reopened.execute("select a from marts.t").fetchall() == [(1,)]
    finally:
        r.teardown_after_execution(dg.build_init_resource_context())


def test_outside_a_run_each_block_has_its_own_connection(tmp_path):
    r = resource(tmp_path)
    with r.connect() as a:
        a.execute("create or replace temp table scratch as select 1 as x")
    with r.connect() as b:
        assert b is not a
        assert b.execute("select count(*) from duckdb_tables() where temporary").fetchall() == [(0,)]
    with pytest.raises(duckdb.ConnectionException):
        a.execute("select 1")
