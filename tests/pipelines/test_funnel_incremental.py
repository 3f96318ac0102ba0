"""Funnels in a nightly run (issue 16): the funnel programme rebuilds the rows of the run's
customers only, and the statuses that depend on the newest event are decided when the marts are
built, so after every nightly run the published funnel tables equal a full rebuild.

Two people, a funnel Product Viewed -> Product Added -> Order Completed with a one-day window:
* day 1: person 0 views and adds (in_window); person 1 views (in_window);
* day 2 lands only person 1's events: a late add and order dated day 1 (person 1 converts, on a
  later day, from a late event), and a view at noon that moves as_of past person 0's window:
  person 0, not touched on day 2 and not rebuilt, drops only because as_of moved.

marts.funnel_customers is rebuilt for the run's customers only: the status of the other units'
rows as_of moved (forward, or back when a landing day loses its newest event) is updated, and
publish replaces those customers' rows too (the second test).
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import yaml

from tests.conftest import run_pipeline
from tests.pipelines.test_incremental import Landing, differing
from tests.pipelines.test_publish_pipeline import publish_metadata
from transforms.config import DEFAULTS_DIR

DAY1 = date(2025, 3, 3)
DAY2 = DAY1 + timedelta(days=1)


def funnel_config(root: Path) -> Path:
    """The default configuration with a customer funnel (one-day window, breakdowns) and a strict
    journey funnel over the same steps."""
    cfg = root / "config"
    shutil.copytree(DEFAULTS_DIR, cfg)
    steps = [{"event": {"event_name": n}} for n in ("Product Viewed", "Product Added", "Order Completed")]
    funnels = {"funnels": [
        {"name": "buy", "steps": steps, "window": "1d", "breakdowns": ["cohort_month", "first_touchpoint"]},
        {"name": "buy_strict", "unit": "journey", "mode": "strict", "steps": steps, "window": "1d"},
    ]}
    (cfg / "funnels.yaml").write_text(yaml.safe_dump(funnels, sort_keys=False))
    return cfg


def land(landing: Landing, day: date, rows: list[dict]) -> None:
    landing.write("clickstream", day, "events.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")


def outcomes(published: Path) -> dict[datetime, tuple[str, int, str]]:
    """Funnel 'buy': the attempt's start -> (customer, furthest step, status)."""
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute("select started_at, customer_id, furthest_step, status from marts.funnel_customers "
                           "where funnel = 'buy'").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def run_state(work: Path) -> tuple[str, list[str]]:
    """The last run's mode and the customers it rebuilt (the working file's dirty set)."""
    with duckdb.connect(str(work), read_only=True) as con:
        mode = con.execute("select mode from intermediate._incremental_state").fetchone()[0]
        dirty = sorted(r[0] for r in con.execute("select customer_id from intermediate.dirty_customers").fetchall())
    return mode, dirty


def funnel_mode(run) -> str:
    """How the run built intermediate.funnel_attempts: full, or incremental (the run's customers)."""
    for event in run.result.get_asset_materialization_events():
        if event.asset_key.path == ["intermediate", "funnel_attempts"]:
            return event.materialization.metadata["mode"].value
    raise AssertionError("intermediate.funnel_attempts was not materialized")


def assert_equals_full(root: Path, cfg: Path, nightly: Path, end: date) -> None:
    full = root / f"full-{end}" / "journeys.duckdb"
    assert run_pipeline(root / "landing", full, config_dir=cfg, start=DAY1, end=end).result.success
    assert differing(full, nightly) == []  # every published table, the funnel marts among them


def test_late_event_and_moving_as_of_in_nightly_runs_equal_a_full_rebuild(tmp_path):
    cfg = funnel_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"
    at = datetime(DAY1.year, DAY1.month, DAY1.day, 9)

    land(landing, DAY1, [
        landing.event(0, at, "Product Viewed"),
        landing.event(0, at + timedelta(minutes=10), "Product Added"),
        landing.event(1, at - timedelta(hours=1), "Product Viewed"),
    ])
    run = run_pipeline(tmp_path / "landing", nightly, config_dir=cfg, start=DAY1, end=DAY1, only_changed=True)
    assert run.result.success
    assert funnel_mode(run) == "full"
    day1 = outcomes(nightly)
    person0, person1 = day1[at][0], day1[at - timedelta(hours=1)][0]
    assert day1 == {at: (person0, 2, "in_window"), at - timedelta(hours=1): (person1, 1, "in_window")}
    assert_equals_full(tmp_path, cfg, nightly, DAY1)

    # day 2: only person 1's events, two of them dated back to day 1 (late)
    land(landing, DAY2, [
        landing.event(1, at - timedelta(minutes=30), "Product Added"),
        landing.event(1, at - timedelta(minutes=20), "Order Completed"),
        landing.event(1, at + timedelta(days=1, hours=3), "Product Viewed"),
    ])
    run = run_pipeline(tmp_path / "landing", nightly, config_dir=cfg, start=DAY1, end=DAY2, only_changed=True)
    assert run.result.success
    assert run_state(run.work) == ("incremental", [person1])  # person 0 was not rebuilt
    assert funnel_mode(run) == "incremental"
    assert outcomes(nightly) == {
        at: (person0, 2, "dropped"),  # as_of (day 2, 12:00) is past person 0's window (day 2, 09:00)
        at - timedelta(hours=1): (person1, 3, "converted"),  # the late add and order
    }
    with duckdb.connect(str(nightly), read_only=True) as con:
        dropoff = con.execute("select step_index, entered, dropped, in_window from marts.funnel_dropoff "
                              "where funnel = 'buy' and breakdown = 'all' order by step_index").fetchall()
        trend = con.execute("select entered, converted, dropped, in_window, period_complete from marts.funnel_trends "
                            "where funnel = 'buy'").fetchall()
    assert dropoff == [(1, 2, 0, 0), (2, 2, 1, 0), (3, 1, 0, 0)]
    assert trend == [(2, 1, 1, 0, False)]
    assert_equals_full(tmp_path, cfg, nightly, DAY2)


def materialized(run, relation: str) -> dict:
    """The metadata of `relation`'s materialization in `run`."""
    (md,) = [m.metadata for m in run.result.asset_materializations_for_node(relation.replace(".", "__"))]
    return {k: v.value for k, v in md.items()}


def test_as_of_moving_flips_the_status_of_customers_the_nightly_run_does_not_rebuild(tmp_path):
    """Persons 0 and 1 have no event after day 1; day 2 lands only person 2's, which moves as_of
    past both their windows (they drop), then day 2 is landed again with person 2's event earlier,
    which moves as_of back before person 0's window closes (open again). The nightly runs rebuild
    the rows of day 2's people only, update the others' status and publish replaces their rows
    too: the analyst file says what a full rebuild says."""
    cfg = funnel_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"
    at = datetime(DAY1.year, DAY1.month, DAY1.day, 9)
    land(landing, DAY1, [
        landing.event(0, at, "Product Viewed"),  # window open until day 2, 09:00
        landing.event(0, at + timedelta(minutes=10), "Product Added"),
        landing.event(1, at - timedelta(hours=1), "Product Viewed"),  # until day 2, 08:00
    ])
    assert run_pipeline(landing.root, nightly, config_dir=cfg, start=DAY1, end=DAY1, only_changed=True).result.success
    day1 = outcomes(nightly)
    person0, person1 = day1[at][0], day1[at - timedelta(hours=1)][0]
    assert {s for _, _, s in day1.values()} == {"in_window"}

    def nightly_run(*people_at: datetime):
        land(landing, DAY2, [landing.event(2 + i, t, "Signed In") for i, t in enumerate(people_at)])  # no funnel step
        run = run_pipeline(landing.root, nightly, config_dir=cfg, start=DAY1, end=DAY2, only_changed=True)
        assert run.result.success
        mode, dirty = run_state(run.work)
        assert mode == "incremental" and person0 not in dirty and person1 not in dirty
        return run

    # as_of moves forward, to day 2 12:00: both windows have closed
    run = nightly_run(at + timedelta(days=1, hours=3))
    md = materialized(run, "marts.funnel_customers")
    assert md["mode"] == "incremental" and md["other_customers_updated"] == 2
    replaced = publish_metadata(run)["rows_replaced_by_customer"]
    # persons 0 and 1's rows (a row in each funnel), though neither is in the run's dirty set
    assert replaced["marts.funnel_customers"] == {"deleted": 4, "inserted": 4}
    assert outcomes(nightly) == {at: (person0, 2, "dropped"), at - timedelta(hours=1): (person1, 1, "dropped")}
    assert_equals_full(tmp_path, cfg, nightly, DAY2)

    # day 2 landed again, person 2's event at 08:30 and one of person 3 (a dirty set other than the
    # last run's: publish then replaces by customer): as_of goes back, person 0's window is open again
    run = nightly_run(at + timedelta(days=1, minutes=-30), at + timedelta(days=1, minutes=-40))
    assert materialized(run, "marts.funnel_customers")["other_customers_updated"] == 1
    replaced = publish_metadata(run)["rows_replaced_by_customer"]
    assert replaced["marts.funnel_customers"] == {"deleted": 2, "inserted": 2}  # person 0's
    assert outcomes(nightly) == {at: (person0, 2, "in_window"), at - timedelta(hours=1): (person1, 1, "dropped")}
    shutil.rmtree(tmp_path / f"full-{DAY2}")
    assert_equals_full(tmp_path, cfg, nightly, DAY2)
