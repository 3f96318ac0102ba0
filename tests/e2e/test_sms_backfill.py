"""A data engineer adds the SMS channel by configuration and backfills its history: one run,
only SMS partitions reprocessed, customers stitched by phone hash, nothing duplicated."""

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from tests.conftest import FIXTURE_LANDING, PROJECT, run_pipeline

SMS = PROJECT / "fixtures" / "sms"


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("sms")
    landing = tmp / "landing"
    shutil.copytree(FIXTURE_LANDING, landing)
    shutil.copytree(SMS / "landing" / "crm", landing / "crm", dirs_exist_ok=True)  # contacts now carry phones
    before = tmp / "config-before"  # the CRM phone column is mapped, no SMS source yet
    before.mkdir()
    sources = yaml.safe_load((SMS / "config" / "sources.yaml").read_text())
    sources["sources"].pop("sms")
    (before / "sources.yaml").write_text(yaml.safe_dump(sources))
    wh = tmp / "wh" / "journeys.duckdb"
    first = run_pipeline(landing, wh, config_dir=before)
    assert first.result.success
    shutil.copytree(SMS / "landing" / "sms", landing / "sms")  # the SMS history arrives
    return {"landing": landing, "wh": wh, "config": SMS / "config"}


def loads(wh: Path) -> dict[tuple[str, date], object]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return {(s, d): t for s, d, t in con.execute("select source, _partition, loaded_at from raw._partitions").fetchall()}
    finally:
        con.close()


def test_backfill_is_one_run_touching_only_sms_and_is_idempotent(setup):
    before = loads(setup["wh"])
    run = run_pipeline(setup["landing"], setup["wh"], config_dir=setup["config"], job="backfill_sms",
                       sources=["sms"], start=date(2025, 3, 1), end=date(2025, 4, 29))
    assert run.result.success
    raw_steps = {e.step_key for e in run.result.all_events if e.event_type_value == "STEP_SUCCESS" and e.step_key.startswith("raw__")}
    assert raw_steps == {"raw__sms"}
    after = loads(setup["wh"])
    assert {k: v for k, v in after.items() if k[0] != "sms"} == before  # nothing else reprocessed
    sms_days = {d for s, d in after if s == "sms"}
    assert len(sms_days) == 57

    with run.connect() as con:
        n, distinct = con.execute("select count(*), count(distinct event_id) from staging.events where source = 'sms'").fetchall()[0]
        assert n == distinct == 283
        # stitched by phone hash to the CRM contact's customer
        unlinked = con.execute(
            """select count(*) from marts.journey_events e
            where e.source = 'sms' and e.customer_id not in (
                select customer_id from identity.customer_ids where identifier_type = 'crm_contact_id')"""
        ).fetchall()[0][0]
        assert unlinked == 0
        assert con.execute("select count(*) from marts.journeys where touchpoint_path like '%sms%'").fetchall()[0][0] > 20
        assert con.execute("select count(*) from marts.journey_events where rule_id = 'sms_opt_out'").fetchall()[0][0] > 0
        phones = con.execute("select count(*) from identity.customer_ids where identifier_type = 'phone'").fetchall()[0][0]
        assert phones == 60
        leaked = con.execute("select count(*) from staging.events where text like '%+44 7700%' or properties::varchar like '%+44 7700%'").fetchall()[0][0]
        assert leaked == 0

    again = run_pipeline(setup["landing"], setup["wh"], config_dir=setup["config"], job="backfill_sms",
                         sources=["sms"], start=date(2025, 3, 1), end=date(2025, 4, 29))
    with again.connect() as con:
        assert con.execute("select count(*) from staging.events where source = 'sms'").fetchall()[0][0] == 283
        assert con.execute("select count(*) - count(distinct event_id) from staging.events").fetchall()[0][0] == 0
