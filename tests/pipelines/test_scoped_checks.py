"""Checks scoped to what the run changed (issue 16, point 6): a nightly run checks the partitions
it loaded and the rows of the customers it rebuilt; `journeys check` (and `journeys run
--full-checks`) check every row.

A bad row is planted in staging.events between two nights: a second copy of a staged event, in
the first day's partition (which no later night reloads). When its customer has no new event,
the nightly checks do not look at it and the run succeeds; the full check finds it
(counts_add_up: that partition no longer adds up). When its customer has a new event, the
night rebuilds that customer, the copy reaches intermediate.classified_events twice, and the
nightly form of every_event_exactly_once stops the run.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from tests.e2e.test_cli import error_lines, journeys
from tests.pipelines.test_incremental import START, Landing, small_config
from transforms.warehouse import WarehousePaths


def plant_copy_of_an_event(warehouse: Path, anonymous_id: str) -> None:
    """A second row in staging.events for one staged event of `anonymous_id` (its first)."""
    con = duckdb.connect(str(WarehousePaths(published=warehouse).work))
    try:
        n = con.execute("insert into staging.events select * from staging.events "
                        "where identifiers['anonymous_id'] = $a order by event_id limit 1",
                        {"a": anonymous_id}).fetchall()[0][0]
        assert n == 1, f"no staged event of {anonymous_id}"
    finally:
        con.close()


def land_and_run(tmp_path: Path, landing: Landing, cfg: Path, k: int, ops: list[tuple], *extra: str):
    landing.land_day(k, ops)
    end = START + timedelta(days=k)
    return journeys(["run", "--landing", str(landing.root), "--config", str(cfg), "--start", START.isoformat(),
                     "--end", end.isoformat(), *extra], tmp_path)


def first_day(tmp_path: Path) -> tuple[Landing, Path, Path]:
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    r = land_and_run(tmp_path, landing, cfg, 0, [("event", 0, "Product Viewed"), ("event", 1, "Product Viewed"),
                                                 ("event", 1, "Order Completed")])
    assert r.returncode == 0, r.stderr
    return landing, cfg, tmp_path / "wh" / "journeys.duckdb"


def test_a_bad_row_of_a_customer_the_night_does_not_touch_is_seen_only_by_the_full_check(tmp_path):
    landing, cfg, warehouse = first_day(tmp_path)
    plant_copy_of_an_event(warehouse, "anon-1")  # person 1: no event on day 1

    night = land_and_run(tmp_path, landing, cfg, 1, [("event", 0, "Product Added")])
    assert night.returncode == 0, night.stderr  # day 0's partition and person 1 are not the night's

    full = journeys(["check", "--landing", str(landing.root), "--config", str(cfg)], tmp_path)
    assert full.returncode == 1, full.stdout + full.stderr
    assert "1 failed" in full.stdout
    # the run's own checks did not see it; --full-checks does, and stops the run
    landing.land_day(2, [("event", 0, "Product Viewed")])
    forced = journeys(["run", "--landing", str(landing.root), "--config", str(cfg), "--start", START.isoformat(),
                       "--end", (START + timedelta(days=2)).isoformat(), "--full-checks"], tmp_path)
    assert forced.returncode == 1, forced.stderr
    assert any("check counts_add_up did not pass: 1 offending row(s), the select in "
               "sql/checks/staging/events/counts_add_up.sql" in line for line in error_lines(forced)), forced.stderr


def test_a_bad_row_of_a_customer_the_night_rebuilds_fails_the_nightly_check(tmp_path):
    landing, cfg, warehouse = first_day(tmp_path)
    plant_copy_of_an_event(warehouse, "anon-1")

    night = land_and_run(tmp_path, landing, cfg, 1, [("event", 1, "Product Added")])  # person 1 is dirty
    assert night.returncode == 1, night.stdout + night.stderr
    lines = error_lines(night)
    assert any("check every_event_exactly_once did not pass: 1 offending row(s), the select in "
               "sql/checks/intermediate/classified_events/by_customer/every_event_exactly_once.sql" in line
               for line in lines), night.stderr
