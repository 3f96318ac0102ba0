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

import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.e2e.test_cli import error_lines, journeys
from tests.pipelines.test_incremental import START, Landing, small_config
from transforms.warehouse import WarehousePaths

# one xdist worker runs the whole module: the first night (`night_zero`) is built once, not per worker
pytestmark = pytest.mark.xdist_group("scoped_checks")


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


@pytest.fixture(scope="module")
def night_zero(tmp_path_factory) -> tuple[Path, Landing]:
    """The first night, built once: a `journeys run` over day 0 (persons 0 and 1)."""
    root = tmp_path_factory.mktemp("scoped-night-zero")
    cfg = small_config(root)
    landing = Landing(root / "landing")
    r = land_and_run(root, landing, cfg, 0, [("event", 0, "Product Viewed"), ("event", 1, "Product Viewed"),
                                             ("event", 1, "Order Completed")])
    assert r.returncode == 0, r.stderr
    return root, landing


def first_day(tmp_path: Path, night_zero: tuple[Path, Landing]) -> tuple[Landing, Path, Path]:
    """A copy of the first night's landing zone, configuration and warehouse files in tmp_path
    (file times kept: the next night sees day 0 as loaded and unchanged), for this test alone."""
    root, built = night_zero
    for folder in ("landing", "config", "wh"):
        shutil.copytree(root / folder, tmp_path / folder)
    landing = Landing(tmp_path / "landing")
    landing.landed, landing.n = list(built.landed), built.n  # the next events get the next ids
    return landing, tmp_path / "config", tmp_path / "wh" / "journeys.duckdb"


def test_a_bad_row_of_a_customer_the_night_does_not_touch_is_seen_only_by_the_full_check(tmp_path, night_zero):
    landing, cfg, warehouse = first_day(tmp_path, night_zero)
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


def test_a_bad_row_of_a_customer_the_night_rebuilds_fails_the_nightly_check(tmp_path, night_zero):
    landing, cfg, warehouse = first_day(tmp_path, night_zero)
    plant_copy_of_an_event(warehouse, "anon-1")

    night = land_and_run(tmp_path, landing, cfg, 1, [("event", 1, "Product Added")])  # person 1 is dirty
    assert night.returncode == 1, night.stdout + night.stderr
    lines = error_lines(night)
    assert any("check every_event_exactly_once did not pass: 1 offending row(s), the select in "
               "sql/checks/intermediate/classified_events/every_event_exactly_once.sql" in line
               for line in lines), night.stderr
