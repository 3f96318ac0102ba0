"""A nightly run reads staging.events by the ids of the events in scope (issue 16): the dirty-set
step lists them (intermediate._scope_events, sql/ops/incremental/scope_events.sql) and the models
incremental by customer read no other event, so one missing event of a customer in scope would
leave that customer's rows short. Each night below is compared with a full build:

* day 1: a late event of an old customer (dated the day before), and person 2's browser signing
  in as u-3: customers 2 and 3 merge, and both have events of day 0 only in the history;
* day 2: the run stops at intermediate.classified_events (its dirty set and events in scope are
  kept as a run that did not finish keeps them);
* day 3: the next night adds one event of person 0; it must also rebuild person 1, whose events of
  day 2 the stopped run loaded (so they are neither of a day this run loads nor in the previous
  build).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

import transforms.incremental
from tests.conftest import run_pipeline
from tests.pipelines.test_identity_incremental import at, customer_of, land, metadata
from tests.pipelines.test_incremental import START, Landing, differing, small_config


def night(root: Path, cfg: Path, nightly: Path, k: int, *, compare: bool = True):
    end = START + timedelta(days=k)
    run = run_pipeline(root / "landing", nightly, config_dir=cfg, start=START, end=end, only_changed=True,
                       raise_on_error=False)
    if compare:
        assert run.result.success
        full = root / f"full-{k}" / "journeys.duckdb"
        assert run_pipeline(root / "landing", full, config_dir=cfg, start=START, end=end).result.success
        assert differing(full, nightly) == [], f"day {k}"
    return run


def in_scope(work: Path) -> tuple[int, int]:
    """How many events the run listed in scope, of how many staged."""
    with duckdb.connect(str(work), read_only=True) as con:
        return con.execute("select (select count(*) from intermediate._scope_events), "
                           "(select count(*) from staging.events)").fetchone()


def test_a_nightly_reads_every_event_of_its_customers_and_only_theirs(tmp_path, monkeypatch):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"

    land(landing, 0, [landing.event(i, at(0, i), "Signed In", user=f"u-{i}") for i in range(5)]
         + [landing.event(i, at(0, 10 + i), "Product Viewed") for i in range(5)])
    assert metadata(night(tmp_path, cfg, nightly, 0, compare=False), "dirty_customers")["mode"] == "full"

    land(landing, 1, [landing.event(1, at(0, 30), "Product Added"),  # late: dated day 0
                      landing.event(2, at(1, 0), "Signed In", user="u-3")])
    run = night(tmp_path, cfg, nightly, 1)
    assert metadata(run, "dirty_customers")["mode"] == "incremental"
    assert customer_of(nightly, "u-2") == customer_of(nightly, "u-3")
    # persons 1, 2 and 3 (0 and 4 untouched): their 6 events of day 0, and the 2 landed on day 1
    assert in_scope(run.work) == (8, 12)

    land(landing, 2, [landing.event(1, at(2, 0), "Product Viewed"), landing.event(1, at(2, 1), "Product Added")])
    real = transforms.incremental.replace_scope

    def stop_at_classification(con, relation, *args, **kwargs):
        if relation == "intermediate.classified_events":
            raise RuntimeError("stopped")
        return real(con, relation, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(transforms.incremental, "replace_scope", stop_at_classification)
        assert not night(tmp_path, cfg, nightly, 2, compare=False).result.success

    land(landing, 3, [landing.event(0, at(3, 0), "Product Viewed")])
    run = night(tmp_path, cfg, nightly, 3)
    assert metadata(run, "dirty_customers")["mode"] == "incremental"
    with duckdb.connect(str(nightly), read_only=True) as con:
        assert con.execute("select count(*) from marts.journey_events as e join identity.customer_ids as c "
                           "using (customer_id) where c.identifier_value = 'anon-1' and c.identifier_type = "
                           "'anonymous_id'").fetchone()[0] == 5  # day 0's two, the late one, day 2's two

