"""The checks are SQL files (sql/checks/<schema>/<table>/<check_name>.sql) run by one runner
(transforms.checks) and made into blocking Dagster asset checks by one factory
(pipelines/defs/ops/checks.py): every file guards a model table, parses, has its description
and binds only known parameters; a file that returns rows fails its Dagster check."""

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlglot

from pipelines.defs.ops.checks import build_sql_checks, sql_check
from pipelines.defs.ops.resources import JourneysResource
from transforms.checks import CHECKS_DIR, SCOPES, all_checks, check_params, find_check, run_check
from transforms.config import load_config
from transforms.models import STAGE_BUILT, graph, reads
from transforms.warehouse import SCOPE_PREDICATES, bind, scope_inputs, table_doc

CHECKS = all_checks()
# the loader's ledger and the run log, written by the ingest and staging steps (not models)
WRITTEN_BY_LOAD_AND_STAGING = {"raw._partitions", "marts.pipeline_runs"}


def test_the_checks_are_the_files():
    assert sorted(c.path for c in CHECKS) == sorted(CHECKS_DIR.rglob("*.sql"))  # a nightly form is no file
    assert len(CHECKS) >= 13
    keys = [(c.relation, c.name) for c in CHECKS]
    assert len(set(keys)) == len(keys)
    specs = [s for a in build_sql_checks() for s in a.check_specs]
    assert {(".".join(s.asset_key.path), s.name) for s in specs} == set(keys)
    assert all(s.blocking for s in specs)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: f"{c.relation}/{c.name}")
def test_check_file_guards_a_model_table_parses_and_says_what_it_checks(check):
    tables = set(graph()) | STAGE_BUILT | WRITTEN_BY_LOAD_AND_STAGING
    assert check.relation in tables, f"{check.path}: no model builds {check.relation}"
    trees = [t for t in sqlglot.parse(check.sql, read="duckdb") if t is not None]
    assert len(trees) == 1 and isinstance(trees[0], sqlglot.exp.Query), f"{check.path}: not one select"
    unknown = set(reads(check.sql, where=str(check.path))) - tables
    assert not unknown, f"{check.path} reads {unknown}, which no model builds"
    first = check.path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith("-- ") and len(check.description) > 20, f"{check.path}: no `--` description line"
    bind(check.sql, check_params(load_config()) | {"run_id": None, "nightly": False})  # every $name is given


SELF_SCOPED = [c for c in CHECKS if c.reads_nightly]


@pytest.mark.parametrize("check", SELF_SCOPED, ids=lambda c: f"{c.relation}/{c.name}")
def test_a_check_that_keeps_to_its_scope_itself_reads_what_it_keeps_to(check):
    assert check.nightly in SCOPES
    read = set(reads(check.sql, where=str(check.path)))
    assert ("intermediate.dirty_customers" in read) == (check.nightly == "by_customer"), check.path
    assert ("$run_id" in check.sql) == (check.nightly == "by_partition"), check.path


def test_a_nightly_line_the_runner_cannot_honour_fails_with_the_file_and_the_fix(tmp_path):
    from transforms.checks import _check
    from transforms.models import ModelError

    table = tmp_path / "marts" / "journeys"
    table.mkdir(parents=True)
    cases = {
        "unknown_scope.sql": ("-- a check\n-- nightly: by_week\nselect 1 where false", "by_week"),
        "unsaid_scope.sql": ("-- a check\nselect 1 where $nightly", "no line `-- nightly: <scope>`"),
        "partition_unscoped.sql": ("-- a check\n-- nightly: by_partition\nselect 1 where false", "$run_id"),
    }
    for name, (text, said) in cases.items():
        (table / name).write_text(text, encoding="utf-8")
        with pytest.raises(ModelError, match=re.escape(said)) as e:
            _check(table / name)
        assert str(table / name) in str(e.value)


BY_CUSTOMER_INPUTS = [c for c in CHECKS if c.by_customer_inputs]


@pytest.mark.parametrize("check", BY_CUSTOMER_INPUTS, ids=lambda c: f"{c.relation}/{c.name}")
def test_a_check_run_over_the_run_customers_reads_every_table_by_customer(check):
    # a table read whole beside ones kept to the run's customers would make the check compare
    # the history with one night's rows
    for relation in reads(check.sql, where=str(check.path)):
        columns = set((table_doc(relation) or {}).get("columns") or {})
        assert columns & set(SCOPE_PREDICATES), f"{check.path} reads {relation}, which has no customer to scope by"


def test_the_nightly_form_of_a_check_looks_only_at_the_run_customers():
    check = find_check("marts.journeys/journeys_end_at_conversions")
    assert len(BY_CUSTOMER_INPUTS) >= 3 and check in BY_CUSTOMER_INPUTS
    con = duckdb.connect()
    con.execute("create schema marts; create schema intermediate")
    con.execute("create table intermediate.dirty_customers as select 'c1' as customer_id")
    # one journey of each customer whose events say 2 where the journey says 3
    con.execute("create table marts.journey_events as select customer_id, customer_id || '-1' as journey_id, "
                "i as step_index, i = 2 as is_conversion from (values ('c1'), ('c2')) as c(customer_id), "
                "range(1, 3) as r(i)")
    con.execute("create table marts.journeys as select customer_id, journey_id, true as converted, 3 as n_events "
                "from marts.journey_events group by all")
    full = con.sql(check.sql).fetchall()
    nightly = con.sql(scope_inputs(con, check.sql)).fetchall()
    assert full == [("c1-1", "n_events does not match its events"), ("c2-1", "n_events does not match its events")]
    assert nightly == full[:1]


def test_runner_counts_every_offending_row_and_keeps_twenty_in_file_order():
    con = duckdb.connect()
    con.execute("create schema if not exists marts")
    con.execute("create table marts.touchpoint_transitions as select 'tp' || lpad(i::varchar, 2, '0') as "
                "from_touchpoint, 'x' as to_touchpoint, 0.5 as probability from range(25) as t(i)")
    found = run_check(con, "marts.touchpoint_transitions/probabilities_sum_to_one", check_params(load_config()))
    assert found.columns == ("from_touchpoint", "total_probability")
    assert (found.n_rows, len(found.rows), found.passed) == (25, 20, False)
    assert [r[0] for r in found.rows] == [f"tp{i:02d}" for i in range(20)]
    con.execute("update marts.touchpoint_transitions set probability = 1")
    assert run_check(con, find_check("probabilities_sum_to_one"), check_params(load_config())).passed


def test_a_check_file_returning_rows_fails_its_dagster_check(tmp_path: Path):
    resource = JourneysResource(landing_dir=str(tmp_path / "landing"), warehouse=str(tmp_path / "journeys.duckdb"),
                                hash_secret="test-secret")
    with resource.connect() as con:
        con.execute("create schema if not exists marts")
        con.execute("create table marts.touchpoint_transitions as select 'tp' || lpad(i::varchar, 2, '0') as "
                    "from_touchpoint, 'x' as to_touchpoint, 0.5 as probability from range(25) as t(i)")
    check = sql_check(find_check("marts.touchpoint_transitions/probabilities_sum_to_one"))
    result = check(None, journeys=resource)
    assert isinstance(result, dg.AssetCheckResult)
    assert result.passed is False
    assert result.metadata["offending_rows"].value == 25
    table = result.metadata["examples"].value
    assert table.startswith("| from_touchpoint | total_probability |")
    assert "| tp19 | 0.5 |" in table and "tp20" not in table and "20 of 25 rows shown" in table
    with resource.connect() as con:
        con.execute("update marts.touchpoint_transitions set probability = 1")
    passed = check(None, journeys=resource)
    assert passed.passed is True and passed.metadata["offending_rows"].value == 0


def test_identifier_hashes_stay_out_of_check_metadata(tmp_path: Path):
    resource = JourneysResource(landing_dir=str(tmp_path / "landing"), warehouse=str(tmp_path / "journeys.duckdb"),
                                hash_secret="test-secret")
    with resource.connect() as con:
        con.execute("create schema if not exists identity; create schema if not exists intermediate")
        con.execute("create table identity.customer_ids as select * from (values "
                    "('email', 'hash-of-jane', 'c1'), ('email', 'hash-of-jane', 'c2')) "
                    "as t(identifier_type, identifier_value, customer_id)")
        con.execute("create table intermediate.identity_nodes as select identifier_type, identifier_value "
                    "from identity.customer_ids")
    result = sql_check(find_check("one_customer_per_identifier"))(None, journeys=resource)
    assert result.passed is False and result.metadata["offending_rows"].value == 1
    assert "several customers" in result.metadata["examples"].value
    assert "hash-of-jane" not in result.metadata["examples"].value


def test_a_failing_check_in_a_run_blocks_and_says_where_to_look(tmp_path: Path):
    from pipelines.cli import _failure_reason

    resource = JourneysResource(landing_dir=str(tmp_path / "landing"), warehouse=str(tmp_path / "journeys.duckdb"),
                                hash_secret="test-secret")
    with resource.connect() as con:
        con.execute("create schema if not exists marts")
        con.execute("create table marts.touchpoint_transitions as select 'website' as from_touchpoint, "
                    "'(exit)' as to_touchpoint, 0.5 as probability")
    check = sql_check(find_check("marts.touchpoint_transitions/probabilities_sum_to_one"))
    defs = dg.Definitions(
        assets=[dg.AssetSpec(["marts", "touchpoint_transitions"])], asset_checks=[check],
        jobs=[dg.define_asset_job("checks", selection=dg.AssetSelection.all_asset_checks())],
        resources={"journeys": resource},
    )
    result = defs.resolve_job_def("checks").execute_in_process(instance=dg.DagsterInstance.ephemeral(),
                                                                raise_on_error=False)
    (evaluation,) = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert evaluation.event_specific_data.passed is False
    assert _failure_reason(evaluation) == (
        "check probabilities_sum_to_one did not pass: 1 offending row(s), the select in "
        "sql/checks/marts/touchpoint_transitions/probabilities_sum_to_one.sql")


def nightly_tables() -> duckdb.DuckDBPyConnection:
    """staging.events and intermediate.classified_events that agree, 3 events each of customers
    c1 (rebuilt by the run: intermediate.dirty_customers) and c2 (not)."""
    con = duckdb.connect()
    con.execute("create schema staging; create schema intermediate")
    con.execute("create table staging.events as select c || ':' || i as event_id, 'clickstream' as source, "
                "date '2025-01-01' + i::integer as _partition from (values ('c1'), ('c2')) as t(c), range(3) as r(i)")
    con.execute("create table intermediate.classified_events as select event_id, "
                "split_part(event_id, ':', 1) as customer_id from staging.events")
    con.execute("create table intermediate.dirty_customers as select 'c1' as customer_id")
    return con


def test_the_nightly_form_of_every_event_exactly_once_catches_what_the_run_rebuilt():
    check = find_check("intermediate.classified_events/every_event_exactly_once")
    assert check.nightly == "by_customer" and check.reads_nightly
    sql = check.sql
    params = check_params(load_config()) | {"run_id": "run-2", "nightly": True}

    def found(con, select=sql):
        return con.sql(select, params=bind(select, params)).fetchall()

    assert found(nightly_tables()) == []
    # a rebuilt row lost: the counts disagree, the event-by-event match names it
    con = nightly_tables()
    con.execute("delete from intermediate.classified_events where event_id = 'c1:2'")
    assert found(con) == [("c1:2", "missing from intermediate.classified_events")]
    # an event twice among the rebuilt rows, its staged copy planted too: counts and hashes agree,
    # only the rebuilt rows' ids tell (the nightly form does not group the history by event id)
    con = nightly_tables()
    con.execute("insert into staging.events select * from staging.events where event_id = 'c1:0'")
    con.execute("insert into intermediate.classified_events values ('c1:0', 'c1')")
    assert found(con) == [("c1:0", "more than once in intermediate.classified_events")]
    # the same in the rows of a customer the run did not rebuild: only the full check looks there
    con = nightly_tables()
    con.execute("insert into staging.events select * from staging.events where event_id = 'c2:0'")
    con.execute("insert into intermediate.classified_events values ('c2:0', 'c2')")
    assert found(con) == []
    full = check_params(load_config()) | {"run_id": None, "nightly": False}
    assert con.sql(sql, params=bind(sql, full)).fetchall() == [("c2:0", "more than once in intermediate.classified_events")]
    # an event without a customer is seen anywhere (a narrow scan)
    con = nightly_tables()
    con.execute("update intermediate.classified_events set customer_id = null where event_id = 'c2:1'")
    assert found(con) == [("c2:1", "without a customer")]
