"""A nightly run with no customer to rebuild (issue 16: an empty dirty set means nothing to
rebuild) rewrites none of the tables incremental by customer: each step says it skipped, the
tables keep their versions (so publish leaves them as they are), and the warehouse still equals
a full rebuild over the same landing zone."""

from __future__ import annotations

from datetime import timedelta

import duckdb

from tests.conftest import run_pipeline
from tests.pipelines.test_incremental import START, Landing, differing, small_config
from transforms.incremental import incremental_key
from transforms.models import graph, step_for


def versions(work) -> dict[str, str]:
    con = duckdb.connect(str(work), read_only=True)
    try:
        return dict(con.execute("select relation, version from intermediate._table_versions").fetchall())
    finally:
        con.close()


def test_a_run_with_no_customer_to_rebuild_rewrites_no_table_by_customer(tmp_path):
    cfg = small_config(tmp_path)
    landing = Landing(tmp_path / "landing")
    landing.land_day(0, [("event", 0, "Product Viewed"), ("event", 1, "Signed In"), ("event", 1, "Order Completed")])
    nightly = tmp_path / "nightly" / "journeys.duckdb"
    first = run_pipeline(landing.root, nightly, config_dir=cfg, start=START, end=START, only_changed=True)
    assert first.result.success
    before = versions(first.work)

    # the next day lands only a line that cannot be read: it is quarantined, no event is staged
    day = START + timedelta(days=1)
    landing.write("clickstream", day, "events.jsonl", "{this is not json\n")
    run = run_pipeline(landing.root, nightly, config_dir=cfg, start=START, end=day, only_changed=True)
    assert run.result.success
    dirty = [m.metadata for m in run.result.asset_materializations_for_node("dirty_customers")][0]
    assert dirty["mode"].value == "incremental" and dirty["customers"].value == 0

    by_customer = [r for r in graph() if step_for(r) is None and incremental_key(r) is not None]
    assert "marts.journeys" in by_customer
    after = versions(run.work)
    for relation in by_customer:
        [md] = [m.metadata for m in run.result.asset_materializations_for_node(relation.replace(".", "__"))]
        assert "dirty set is empty" in md["skipped"].value, relation
        assert md["inserted"].value == 0
        assert after[relation] == before[relation], f"{relation} was rewritten"

    full = tmp_path / "full" / "journeys.duckdb"
    assert run_pipeline(landing.root, full, config_dir=cfg, start=START, end=day).result.success
    assert differing(full, nightly) == []
