"""Builds in parts (issue 15: at 100M events marts.journey_events' one join spilled 49 GB, and the
funnel programme's temp tables 43.8 GB, filling the disk). A model whose .yaml says
`build_in_parts` is built in parts by the hash of its key, and the funnel programme over parts of
the customers; built so, each gives the rows of the whole build. The number of parts follows the
rows of the largest keyed input and DuckDB's memory limit."""

from __future__ import annotations

import shutil

import pytest

from transforms.config import load_config
from transforms.funnels import build_funnel_tables
from transforms.models import model_params
from transforms.warehouse import (
    build_parts,
    connect,
    count_rows,
    memory_limit_bytes,
    part_inputs,
    read_model,
    replace_table,
    table_doc,
)


@pytest.fixture
def work_copy(demo_run, tmp_path):
    copy = tmp_path / "work.duckdb"
    shutil.copy(demo_run.work, copy)
    return copy


def test_journey_events_built_in_parts_equals_the_whole(work_copy):
    con = connect(work_copy)
    try:
        con.execute("create table marts.whole as select * from marts.journey_events")
        n = replace_table(con, "marts.journey_events", read_model("marts.journey_events"),
                          model_params(load_config(None)), parts=4)
        assert n == count_rows(con, "marts.whole") > 0
        for a, b in (("marts.whole", "marts.journey_events"), ("marts.journey_events", "marts.whole")):
            assert con.execute(f"select count(*) from (from {a} except all from {b})").fetchone()[0] == 0
        # each part held some of the events
        select = read_model("marts.journey_events")
        sizes = [con.execute(f"select count(*) from ({part_inputs(con, select, 'event_id', 4, i)})").fetchone()[0]
                 for i in range(4)]
        assert sum(sizes) == n and min(sizes) > 0
    finally:
        con.close()


def test_the_number_of_parts_follows_the_rows_and_the_memory_limit(work_copy):
    con = connect(work_copy, memory_limit="100MB")
    try:
        assert abs(memory_limit_bytes(con) - 100e6) < 0.01 * 100e6  # DuckDB reads 100MB as "95.3 MiB"
        select = read_model("marts.journey_events")
        rows = count_rows(con, "staging.events")  # its largest input with an event_id
        per_part = int(table_doc("marts.journey_events")["build_in_parts"]["rows_per_gb"] * memory_limit_bytes(con) / 2**30)
        assert build_parts(con, "marts.journey_events", select) == ("event_id", -(-rows // per_part))
        con.execute("set memory_limit = '1MB'")
        assert build_parts(con, "marts.journey_events", select)[1] > 1
        assert build_parts(con, "marts.journeys", read_model("marts.journeys")) == ("", 1)
    finally:
        con.close()


def test_the_funnel_programme_over_parts_of_the_customers_equals_the_whole(work_copy):
    config = load_config(None)
    con = connect(work_copy)
    try:
        keyed = ("intermediate.funnel_attempts", "intermediate.funnel_breakdown_values",
                 "intermediate.funnel_period_attempts")
        for relation in keyed:
            con.execute(f"create table {relation}_whole as select * from {relation}")
        md = build_funnel_tables(con, config.funnels, parts=3)
        assert md["parts"] == 3 and md["attempts"] > 0
        for relation in keyed:
            whole = f"{relation}_whole"
            assert count_rows(con, relation) == count_rows(con, whole) > 0, relation
            for a, b in ((whole, relation), (relation, whole)):
                assert con.execute(f"select count(*) from (from {a} except all from {b})").fetchone()[0] == 0, relation
    finally:
        con.close()


def test_the_funnel_programme_asks_for_parts_by_customer(work_copy):
    con = connect(work_copy, memory_limit="100MB")
    try:
        con.execute("set memory_limit = '1MB'")
        key, parts = build_parts(con, "intermediate.funnel_attempts",
                                 "create temp view v as select * from marts.journey_events")
        assert key == "customer_id" and parts > 1
    finally:
        con.close()
