"""Nothing new, nothing done in a Dagster-launched run (the sensor and the schedule load changed
day folders only): every step returns at once, no table is rewritten, publish leaves the
analyst file as it is; a new day folder does work again."""

import hashlib
import shutil
from pathlib import Path

from tests.conftest import FIXTURE_LANDING, run_pipeline


def digest(path: Path) -> tuple[int, str]:
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unchanged_dagster_run_rewrites_nothing(tmp_path):
    landing = tmp_path / "landing"
    for day in FIXTURE_LANDING.glob("*/*"):
        if day.is_dir() and day.name <= "2025-03-02":
            shutil.copytree(day, landing / day.parent.name / day.name)
    wh = tmp_path / "wh" / "journeys.duckdb"
    first = run_pipeline(landing, wh, only_changed=True)
    versions = "select * from _journeys.published_tables order by all"
    with first.connect() as con:
        held = con.execute(versions).fetchall()
    published, work = digest(wh), digest(first.work)

    second = run_pipeline(landing, wh, only_changed=True)
    assert second.result.success
    mds = {e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
           for e in second.result.get_asset_materialization_events()}
    assert "warehouse/published" in mds and all("nothing_new_since" in md for md in mds.values())
    assert digest(wh) == published and digest(first.work) == work
    with second.connect() as con:
        assert con.execute(versions).fetchall() == held

    # a new day folder: the run loads it and publishes
    shutil.copytree(FIXTURE_LANDING / "clickstream" / "2025-03-03", landing / "clickstream" / "2025-03-03")
    third = run_pipeline(landing, wh, only_changed=True)
    md = next(e.step_materialization_data.materialization.metadata for e in third.result.get_asset_materialization_events()
              if e.asset_key.to_user_string() == "warehouse/published")
    assert "nothing_new_since" not in md and digest(wh) != published
