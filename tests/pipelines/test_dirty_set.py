"""The nightly's dirty set costs what the new day costs (issue 16): identity records which
identifier sets changed customer in the step that writes them (intermediate._identity_moves), the
dirty set reads that log and the loaded days, and no run copies every identifier set or profile.

* a linking identifier: the dirty set holds both customers it merged, from the log;
* a working file from before the log (it holds the last run's whole copies instead) is compared
  with those copies once, says so, equals a full build, and starts the log;
* intermediate.identifier_sets written outside identity's build: the log cannot be trusted, so
  the run builds in full and says why.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb

from tests.conftest import run_pipeline
from tests.pipelines.test_identity_incremental import at, customer_of, land, metadata
from tests.pipelines.test_incremental import START, Landing, differing, small_config

COPIES = ("intermediate._built_identifier_sets", "intermediate._built_profiles")


def tables(work: Path) -> set[str]:
    with duckdb.connect(str(work), read_only=True) as con:
        return {f"{s}.{t}" for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()").fetchall()}


def dirty_set(work: Path) -> set[str]:
    with duckdb.connect(str(work), read_only=True) as con:
        return {c for (c,) in con.execute("select customer_id from intermediate.dirty_customers").fetchall()}


def night(root: Path, cfg: Path, nightly: Path, k: int):
    run = run_pipeline(root / "landing", nightly, config_dir=cfg, start=START, end=START + timedelta(days=k),
                       only_changed=True)
    assert run.result.success
    return run


def test_the_dirty_set_reads_identitys_change_log_not_a_copy_of_every_set(tmp_path):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"

    land(landing, 0, [landing.event(i, at(0, i), "Signed In", user=f"u-{i}") for i in range(4)])
    first = night(tmp_path, cfg, nightly, 0)
    assert metadata(first, "dirty_customers")["mode"] == "full"
    assert not set(COPIES) & tables(first.work)  # no run keeps a copy of every set or profile
    before = {u: customer_of(nightly, u) for u in ("u-0", "u-1", "u-2", "u-3")}
    assert len(set(before.values())) == 4

    # person 0's browser signs in as u-1: a linking identifier merges customers 0 and 1
    land(landing, 1, [landing.event(0, at(1, 0), "Signed In", user="u-1")])
    run = night(tmp_path, cfg, nightly, 1)
    assert metadata(run, "dirty_customers")["mode"] == "incremental"
    merged = customer_of(nightly, "u-0")
    assert merged == customer_of(nightly, "u-1")
    assert dirty_set(run.work) == {before["u-0"], before["u-1"], merged}  # both old ids, and the new
    assert not set(COPIES) & tables(run.work)
    with duckdb.connect(str(run.work), read_only=True) as con:  # read by the run's dirty set, then emptied
        assert con.execute("select count(*) from intermediate._identity_moves").fetchone()[0] == 0

    # a working file from before the log: the last run's whole copies instead of the log
    with duckdb.connect(str(run.work)) as con:
        con.execute("create table intermediate._built_identifier_sets as "
                    "select identifier_set, customer_id from intermediate.identifier_sets")
        con.execute("create table intermediate._built_profiles as select profile_id, "
                    "identifiers::varchar as identifier_set, md5(p::varchar) as digest from staging.profiles as p")
        for t in ("intermediate._identity_moves", "intermediate._identity_moves_state",
                  "intermediate._profile_digests"):
            con.execute(f"drop table {t}")
    landing.land_day(2, [("link", 2, 3), ("profile", 2, "customer")])
    run = night(tmp_path, cfg, nightly, 2)
    md = metadata(run, "dirty_customers")
    assert md["mode"] == "incremental" and "older version" in md["compared_with"], md
    assert customer_of(nightly, "u-2") == customer_of(nightly, "u-3")
    assert {before["u-2"], before["u-3"]} <= dirty_set(run.work)
    full = tmp_path / "full" / "journeys.duckdb"
    assert run_pipeline(landing.root, full, config_dir=cfg, start=START, end=START + timedelta(days=2)).result.success
    assert differing(full, nightly) == []
    assert not set(COPIES) & tables(run.work)  # the log took over
    assert {"intermediate._identity_moves_state", "intermediate._profile_digests"} <= tables(run.work)

    # intermediate.identifier_sets written outside identity's build: the log cannot be trusted
    with duckdb.connect(str(run.work)) as con:
        con.execute("update intermediate._table_versions set version = 'elsewhere' "
                    "where relation = 'intermediate.identifier_sets'")
    land(landing, 3, [landing.event(1, at(3, 0), "Product Viewed")])
    md = metadata(night(tmp_path, cfg, nightly, 3), "dirty_customers")
    assert md["mode"] == "full" and "outside identity's build" in md["reason"], md
