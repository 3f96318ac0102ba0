"""Identity in a nightly run (issue 16, point 8): components are recomputed only where new pairs
or newly shared identifiers touch them, and every published table still equals a full rebuild.

Five people, each with a browser (anon-i) signing in (u-i, person<i>@example.com); the shared
threshold is 2 (tests/pipelines/test_incremental.small_config):
* day 0: everyone signs in; the kiosk browser signs in as u-0 and u-1 (two users: not shared, so
  persons 0 and 1 are one customer);
* day 1: person 2's browser signs in as u-3: persons 2 and 3 merge; only their 6 identifiers
  are recomputed;
* day 2: the kiosk signs in as u-2: a third user, so the kiosk is shared and persons 0 and 1
  split; the components of the kiosk and of u-2 are recomputed, person 4's never is.
A reloaded day that removes a link builds identity in full, and says why; one that moves an
event's kept copy to another day that was not reloaded stays incremental. After every nightly
run, identity's own tables (the sets with their counts, per landing day too, and each set's
customer) equal those of a full build.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from tests.conftest import run_pipeline
from tests.pipelines.test_incremental import START, Landing, differing, small_config
from tests.pipelines.test_publish_pipeline import publish_metadata


def metadata(run, table: str) -> dict:
    """The metadata of intermediate.<table>'s materialization in `run`."""
    for event in run.result.get_asset_materialization_events():
        if event.asset_key.path == ["intermediate", table]:
            return {k: v.value for k, v in event.materialization.metadata.items()}
    raise AssertionError(f"intermediate.{table} was not materialized")


def customer_of(warehouse: Path, user: str) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select customer_id from identity.customer_ids where identifier_type = 'user_id' "
                           "and identifier_value = $u", {"u": user}).fetchone()[0]


def n_nodes(run) -> int:
    """The identifiers of the identity graph, in the run's working file."""
    with duckdb.connect(str(run.work), read_only=True) as con:
        return con.execute("select count(*) from intermediate.identity_nodes").fetchone()[0]


def land(landing: Landing, k: int, events: list[dict]) -> None:
    day = START + timedelta(days=k)
    landing.write("clickstream", day, "events.jsonl", "\n".join(json.dumps(e) for e in events) + "\n")


def at(k: int, minute: int) -> datetime:
    return datetime(START.year, START.month, START.day, 9) + timedelta(days=k, minutes=minute)


def first_night(root: Path, cfg: Path, nightly: Path):
    """The nightly run of day 0 into the empty warehouse `nightly`: a first build, in full. That
    a first nightly equals a full build is proven by test_incremental (its first day holds
    sign-ins, a kiosk and a profile), so no full build is made here to compare with."""
    run = run_pipeline(root / "landing", nightly, config_dir=cfg, start=START, end=START, only_changed=True)
    assert run.result.success
    assert metadata(run, "identity_components")["identity_mode"] == "full"
    return run


# identity's tables that hold no node id, so a full build and an incremental one fill them alike
IDENTITY_BOOKKEEPING = ("intermediate.identity_sets", "intermediate._identity_partition_sets",
                        "intermediate.identifier_sets")


def bookkeeping_differs(full_work: Path, nightly_work: Path) -> list[str]:
    """The tables of IDENTITY_BOOKKEEPING whose rows differ between the two working files."""
    out = []
    with duckdb.connect(str(nightly_work), read_only=True) as con:
        con.execute("attach $p as full_build (read_only)", {"p": str(full_work)})
        for table in IDENTITY_BOOKKEEPING:
            cols = [r[0] for r in con.execute(f"select * from {table} limit 0").description if r[0] != "identifiers"]
            select = ", ".join(cols)
            n = con.execute(f"select count(*) from (select {select} from {table} except all "
                            f"select {select} from full_build.{table}) union all "
                            f"select count(*) from (select {select} from full_build.{table} except all "
                            f"select {select} from {table})").fetchall()
            if any(c for (c,) in n):
                out.append(table)
    return out


def nightly_equals_full(root: Path, cfg: Path, nightly: Path, k: int):
    """The nightly run through day k, then a full build over the same landing zone: identical."""
    end = START + timedelta(days=k)
    run = run_pipeline(root / "landing", nightly, config_dir=cfg, start=START, end=end, only_changed=True)
    assert run.result.success
    full = root / f"full-{k}" / "journeys.duckdb"
    full_run = run_pipeline(root / "landing", full, config_dir=cfg, start=START, end=end)
    assert full_run.result.success
    assert differing(full, nightly) == [], f"day {k}"
    assert bookkeeping_differs(full_run.work, run.work) == [], f"day {k}"
    return run


def test_links_and_a_shared_identifier_recompute_only_the_components_they_touch(tmp_path):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"

    land(landing, 0, [landing.event(i, at(0, i), "Signed In", user=f"u-{i}") for i in range(5)]
         + [landing.event(0, at(0, 10), "Signed In", anon="kiosk", user="u-0"),
            landing.event(1, at(0, 11), "Signed In", anon="kiosk", user="u-1")])
    first_night(tmp_path, cfg, nightly)
    assert customer_of(nightly, "u-0") == customer_of(nightly, "u-1")  # through the kiosk

    land(landing, 1, [landing.event(2, at(1, 0), "Signed In", user="u-3"),
                      landing.event(4, at(1, 1), "Product Viewed")])
    run = nightly_equals_full(tmp_path, cfg, nightly, 1)
    md = metadata(run, "identity_components")
    assert md["identity_mode"] == "incremental"
    assert md["recomputed_nodes"] == 6  # anon, user and email of persons 2 and 3
    assert customer_of(nightly, "u-2") == customer_of(nightly, "u-3")
    # published by customer: the rows of the customers the recomputed identifiers had and have
    assert "identity.customer_ids" in publish_metadata(run)["rows_replaced_by_customer"]

    land(landing, 2, [landing.event(2, at(2, 0), "Signed In", anon="kiosk", user="u-2")])
    run = nightly_equals_full(tmp_path, cfg, nightly, 2)
    md = metadata(run, "identity_components")
    assert md["identity_mode"] == "incremental"
    # the kiosk's component (kiosk, persons 0 and 1) and u-2's (persons 2 and 3): 7 + 6 of 16
    assert (md["recomputed_nodes"], n_nodes(run)) == (13, 16)
    assert customer_of(nightly, "u-0") != customer_of(nightly, "u-1")  # the kiosk is shared now
    # the kiosk is its own customer now, the customer of no identifier set (so not in the run's
    # dirty set), yet its row is published: identity.customer_ids is replaced by the customers
    # its rows had and have, and equals the full build's (above)
    replaced = publish_metadata(run)["rows_replaced_by_customer"]["identity.customer_ids"]
    assert replaced == {"deleted": 13, "inserted": 13}
    with duckdb.connect(str(nightly), read_only=True) as con:
        assert con.execute("select identifier_value from identity.shared_identifiers").fetchall() == [("kiosk",)]


def test_a_reloaded_day_that_removes_a_link_builds_identity_in_full(tmp_path):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"

    land(landing, 0, [landing.event(i, at(0, i), "Signed In", user=f"u-{i}") for i in range(3)])
    first_night(tmp_path, cfg, nightly)
    land(landing, 1, [landing.event(0, at(1, 0), "Signed In", user="u-1")])  # links persons 0 and 1
    run = nightly_equals_full(tmp_path, cfg, nightly, 1)
    assert metadata(run, "identity_components")["identity_mode"] == "incremental"
    assert customer_of(nightly, "u-0") == customer_of(nightly, "u-1")

    # day 1 is landed again without the sign-in that linked them
    land(landing, 1, [landing.event(0, at(1, 0), "Product Viewed")])
    run = nightly_equals_full(tmp_path, cfg, nightly, 1)
    assert metadata(run, "identity_components")["identity_mode"] == "full"
    assert "gone" in metadata(run, "identity_sets")["identity_reason"]
    assert customer_of(nightly, "u-0") != customer_of(nightly, "u-1")

    # and the night after, identity is incremental again
    land(landing, 2, [landing.event(2, at(2, 0), "Signed In", user="u-1")])  # links persons 1 and 2
    run = nightly_equals_full(tmp_path, cfg, nightly, 2)
    md = metadata(run, "identity_components")
    assert md["identity_mode"] == "incremental"
    assert md["recomputed_nodes"] == 6


def test_an_event_whose_kept_copy_moves_to_a_day_not_reloaded_stays_incremental(tmp_path):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    nightly = tmp_path / "nightly" / "journeys.duckdb"

    moved = landing.event(0, at(1, 0), "Signed In", user="u-0")
    land(landing, 0, [landing.event(i, at(0, i), "Signed In", user=f"u-{i}") for i in range(3)])
    land(landing, 1, [moved, landing.event(1, at(1, 1), "Product Viewed")])
    nightly_equals_full(tmp_path, cfg, nightly, 1)
    land(landing, 2, [moved, landing.event(2, at(2, 0), "Product Viewed")])  # a copy: day 1's is kept
    run = nightly_equals_full(tmp_path, cfg, nightly, 2)
    assert metadata(run, "identity_sets")["identity_mode"] == "incremental"

    # day 1 is landed again without the event: day 2's copy is kept now, day 2 is not reloaded
    land(landing, 1, [landing.event(1, at(1, 1), "Product Viewed")])
    run = nightly_equals_full(tmp_path, cfg, nightly, 2)
    md = metadata(run, "identity_sets")
    assert md["identity_mode"] == "incremental", md.get("identity_reason")
    assert md["new_sets"] == 0
