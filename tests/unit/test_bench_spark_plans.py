"""bench/spark_plans.py reads exchanges, shuffle bytes and CPU off a Spark event log, per step;
bench/run.py's Spark helpers. No Spark needed: the plan lines are Spark 4.3's own, copied from
a run's event log."""

from __future__ import annotations

import json
from pathlib import Path

from bench.run import INGEST_STAGE, load_summary, merged_ingest
from bench.spark_plans import (
    Exchange,
    as_rows,
    event_log,
    exchange_of,
    exchanges_in,
    read_event_log,
)

HASH = "Exchange hashpartitioning(source#412, _partition#413, 1), ENSURE_REQUIREMENTS, [plan_id=1365]"
BHJ = "BroadcastHashJoin [customer_id#12, day#13], [customer_id#40, day#41], LeftOuter, BuildRight, false, false"
BROADCAST = "BroadcastExchange HashedRelationBroadcastMode(List(input[0, string, true]),false), [plan_id=6545]"


def test_an_exchange_line_gives_its_kind_and_keys_without_attribute_ids() -> None:
    assert exchange_of(HASH) == Exchange("hash", "source, _partition")
    assert exchange_of("Exchange rangepartitioning(ts#5 ASC NULLS FIRST, 1), ENSURE_REQUIREMENTS, [plan_id=9]") \
        == Exchange("range", "ts ASC NULLS FIRST")
    assert exchange_of("Exchange hashpartitioning(coalesce(a#1, b#2), 200), REPARTITION_BY_COL, [plan_id=3]") \
        == Exchange("hash", "coalesce(a, b)")
    assert exchange_of("Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=223]") == Exchange("single", "")
    assert exchange_of("Exchange RoundRobinPartitioning(4), REPARTITION_BY_NUM, [plan_id=2]") == Exchange("round robin", "")
    assert exchange_of(BROADCAST, BHJ) == Exchange("broadcast", "customer_id, day")
    # a null-safe join key (`is not distinct from`): Spark's coalesce/isnull pair, read as the key
    assert exchange_of("Exchange hashpartitioning(coalesce(source#1, ), isnull(source#1), coalesce(n#2, 0), isnull(n#2), "
                       "day#3, 1), ENSURE_REQUIREMENTS, [plan_id=7]") == Exchange("hash", "source, n, day")
    assert exchange_of("BroadcastExchange IdentityBroadcastMode, [plan_id=6420]",
                       "BroadcastNestedLoopJoin BuildRight, Cross") == Exchange("broadcast", "")
    # not exchanges: a reused one shuffles nothing again, a sort or a join is no exchange
    for line in ("ReusedExchange [a#1], Exchange hashpartitioning(a#1, 1)", "Sort [source#412 ASC NULLS FIRST], false, 0", BHJ):
        assert exchange_of(line) is None
    assert str(Exchange("hash", "customer_id")) == "hash(customer_id)"


def _node(line: str, *children: dict) -> dict:
    return {"nodeName": line.split(" ")[0], "simpleString": line, "children": list(children)}


def test_a_plan_tree_gives_every_exchange_and_a_broadcast_its_join_across_a_query_stage() -> None:
    plan = _node("AdaptiveSparkPlan isFinalPlan=true",
                 _node(BHJ,
                       _node("ShuffleQueryStage 0", _node(HASH, _node("Scan parquet staging.events"))),
                       _node("BroadcastQueryStage 1", _node(BROADCAST, _node("Scan parquet staging.profiles")))))
    assert exchanges_in(plan) == [Exchange("hash", "source, _partition"), Exchange("broadcast", "customer_id, day")]


def _log(*events: dict) -> list[str]:
    return [json.dumps(e) for e in events]


SQL = "org.apache.spark.sql.execution.ui."


def test_the_event_log_is_summed_per_step_by_time_with_the_final_adaptive_plan() -> None:
    # two steps, 10 s each; times in the log are epoch milliseconds, the windows epoch seconds
    windows = {"staging": (100.0, 110.0), "marts__journeys": (110.5, 120.0)}
    initial = _node("AdaptiveSparkPlan isFinalPlan=false", _node(HASH))
    final = _node("AdaptiveSparkPlan isFinalPlan=true", _node("ShuffleQueryStage 0", _node(
        "Exchange hashpartitioning(customer_id#7, 1), ENSURE_REQUIREMENTS, [plan_id=2]")))
    task = {"Executor CPU Time": 2_500_000_000, "Executor Run Time": 4000, "JVM GC Time": 500, "Shuffle Write Metrics": {"Shuffle Bytes Written": 1000,
            "Shuffle Records Written": 10}, "Input Metrics": {"Bytes Read": 77}, "Output Metrics": {"Bytes Written": 5}}
    lines = _log(
        {"Event": SQL + "SparkListenerSQLExecutionStart", "executionId": 0, "time": 101_000, "sparkPlanInfo": initial},
        {"Event": "SparkListenerJobStart", "Job ID": 0, "Submission Time": 101_000, "Stage IDs": [0, 1]},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 0, "Task Metrics": task},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 1, "Task Metrics": task},
        {"Event": "SparkListenerJobEnd", "Job ID": 0, "Completion Time": 104_000},
        # a second job beside the first (the ingest reads sources in threads): the overlap counts once
        {"Event": "SparkListenerJobStart", "Job ID": 3, "Submission Time": 103_000, "Stage IDs": [4]},
        {"Event": "SparkListenerJobEnd", "Job ID": 3, "Completion Time": 105_000},
        {"Event": SQL + "SparkListenerSQLExecutionStart", "executionId": 1, "time": 111_000, "sparkPlanInfo": initial},
        {"Event": SQL + "SparkListenerSQLAdaptiveExecutionUpdate", "executionId": 1, "sparkPlanInfo": final},
        {"Event": SQL + "SparkListenerSQLExecutionStart", "executionId": 2, "time": 112_000, "sparkPlanInfo": initial},
        {"Event": "SparkListenerJobStart", "Job ID": 1, "Submission Time": 111_000, "Stage IDs": [2]},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 2, "Task Metrics": {"Executor CPU Time": 500_000_000}},
        {"Event": "SparkListenerJobEnd", "Job ID": 1, "Completion Time": 111_500},
        # a job between two steps (the session's first job, say) is no step's
        {"Event": "SparkListenerJobStart", "Job ID": 2, "Submission Time": 110_200, "Stage IDs": [3]},
        {"Event": "SparkListenerTaskEnd", "Stage ID": 3, "Task Metrics": {"Executor CPU Time": 1_000_000_000}},
    ) + [""]
    steps = read_event_log(lines, windows)
    staging, journeys = steps["staging"], steps["marts__journeys"]
    assert (staging.queries, staging.tasks, staging.shuffle_bytes, staging.shuffle_records) == (1, 2, 2000, 20)
    assert (staging.cpu_seconds, staging.job_seconds, staging.input_bytes, staging.output_bytes) == (5.0, 4.0, 154, 10)
    assert (staging.run_seconds, staging.gc_seconds) == (8.0, 1.0)
    assert dict(staging.exchanges) == {Exchange("hash", "source, _partition"): 1}
    # the final plan replaced the initial one of query 1; query 2 kept its only plan
    assert dict(journeys.exchanges) == {Exchange("hash", "customer_id"): 1, Exchange("hash", "source, _partition"): 1}
    assert (journeys.queries, journeys.cpu_seconds, journeys.job_seconds, journeys.shuffle_bytes) == (2, 0.5, 0.5, 0)
    assert steps["(between steps)"].cpu_seconds == 1.0
    rows = {r["step"]: r for r in as_rows(steps, {"staging": 10.0})}
    assert rows["staging"]["seconds"] == 10.0 and rows["marts__journeys"]["seconds"] is None
    assert rows["marts__journeys"]["exchanges"][0] == {"kind": "hash", "keys": "customer_id", "queries": 1}


def test_a_rolling_event_log_is_read_in_its_files_order(tmp_path: Path) -> None:
    folder = tmp_path / "spark-events" / "eventlog_v2_local-1"
    folder.mkdir(parents=True)
    for name in ("events_10_local-1", "events_2_local-1", "appstatus_local-1.inprogress", ".events_2_local-1.crc"):
        (folder / name).write_text("")
    assert [p.name for p in event_log(tmp_path)] == ["events_2_local-1", "events_10_local-1"]


def test_ingest_and_staging_compare_as_one_stage_and_load_is_summed() -> None:
    stages = {"ingest (landing → staging.events, quarantine)": 10.0, "staging (dedupe, quarantine)": 2.5, "funnels": 3.0}
    assert merged_ingest(stages) == {INGEST_STAGE: 12.5, "funnels": 3.0}
    assert merged_ingest({"staging (dedupe, quarantine)": 40.0}) == {INGEST_STAGE: 40.0}
    assert load_summary([2.0, 4.0, 9.0]) == {"mean": 5.0, "max": 9.0, "samples": 3}
