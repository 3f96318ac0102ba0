"""The nightly schedule and the landing sensor, evaluated with Dagster's test helpers."""

import json
import os
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from pipelines.definitions import build_definitions
from pipelines.defs.ops.resources import JourneysResource
from transforms.config import load_config


def defs_for(landing: Path, warehouse: Path) -> dg.Definitions:
    resource = JourneysResource(landing_dir=str(landing), warehouse=str(warehouse), hash_secret="t")
    return build_definitions(load_config(), resource)


def test_nightly_requests_yesterday_for_every_source(tmp_path):
    defs = defs_for(tmp_path, tmp_path / "w.duckdb")
    schedule = defs.resolve_schedule_def("nightly")
    when = datetime(2025, 3, 15, 2, 0, tzinfo=ZoneInfo("UTC"))
    ctx = dg.build_schedule_context(scheduled_execution_time=when)
    req = schedule.evaluate_tick(ctx).run_requests[0]
    assert req.tags["dagster/asset_partition_range_start"] == "2025-03-14"
    assert req.tags["dagster/asset_partition_range_end"] == "2025-03-14"
    ops = req.run_config["ops"]
    assert set(ops) == {"raw__clickstream", "raw__crm", "raw__crm_contacts", "raw__support"}
    assert schedule.job_name == "refresh" and schedule.execution_timezone == "UTC"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_sensor_runs_once_per_new_file_and_again_when_a_file_changes(tmp_path):
    landing = tmp_path / "landing"
    defs = defs_for(landing, tmp_path / "w.duckdb")
    sensor = defs.resolve_sensor_def("landing_sensor")

    def tick(cursor):
        ctx = dg.build_sensor_context(cursor=cursor)
        result = sensor.evaluate_tick(ctx)
        return result, result.cursor

    result, cursor = tick(None)
    assert result.run_requests == [] and result.skip_message

    write(landing / "clickstream" / "2025-03-04" / "a.jsonl", "{}\n")
    write(landing / "crm" / "2025-03-02" / "activities.csv", "x\n")
    result, cursor = tick(cursor)
    (req,) = result.run_requests
    assert req.tags["dagster/asset_partition_range_start"] == "2025-03-02"
    assert req.tags["dagster/asset_partition_range_end"] == "2025-03-04"
    assert all(op["config"]["only_changed"] for op in req.run_config["ops"].values())

    result, cursor = tick(cursor)  # nothing new: processed once
    assert result.run_requests == []

    f = landing / "clickstream" / "2025-03-04" / "a.jsonl"
    f.write_text("{}\n{}\n")
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    result, cursor = tick(cursor)
    (req,) = result.run_requests
    assert req.tags["dagster/asset_partition_range_start"] == "2025-03-04"
    assert req.tags["dagster/asset_partition_range_end"] == "2025-03-04"
    assert "clickstream/2025-03-04" in json.loads(cursor)
