"""A late event lands days after it happened: it keeps its own time, and the journeys and
funnels it belongs to change on the next run."""

import json
from datetime import date
from pathlib import Path

from tests.conftest import run_pipeline

STEPS = ["Product Viewed", "Product Added", "Checkout Started", "Payment Info Entered"]


def track(mid: str, event: str, ts: str, **props) -> str:
    return json.dumps({"messageId": mid, "type": "track", "event": event, "anonymousId": "late-1",
                       "timestamp": ts, "context": {"device": {"type": "desktop"}}, "properties": props})


def write(landing: Path, day: str, name: str, lines: list[str]) -> None:
    folder = landing / "clickstream" / day
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n")


def test_late_order_completes_the_journey_and_the_funnel(tmp_path):
    landing = tmp_path / "landing"
    write(landing, "2025-03-01", "events.jsonl",
          [track(f"m{i}", e, f"2025-03-01T10:0{i}:00Z") for i, e in enumerate(STEPS)])
    write(landing, "2025-03-02", "events.jsonl", [track("other", "Product Viewed", "2025-03-02T09:00:00Z")])
    wh = tmp_path / "wh" / "journeys.duckdb"
    first = run_pipeline(landing, wh, only_changed=True)
    with first.connect() as con:
        assert con.execute("select count(*) filter (where converted) from marts.journeys").fetchall()[0][0] == 0
        assert con.execute("select status from marts.funnel_customers where funnel = 'checkout'").fetchall() == [("in_window",)]

    # The order confirmation was delayed upstream and lands three days later, with its own time.
    write(landing, "2025-03-04", "events.jsonl", [track("late", "Order Completed", "2025-03-01T10:09:00Z", revenue=42.0)])
    second = run_pipeline(landing, wh, only_changed=True)
    loaded = {e.asset_key.path[1]: e.step_materialization_data.materialization.metadata["days_loaded"].value
              for e in second.result.get_asset_materialization_events()
              if e.asset_key.path[0] == "raw" and e.asset_key.path[1] != "_partitions"}
    assert loaded["clickstream"] == 1  # only the new day folder was read
    with second.connect() as con:
        row = con.execute("select occurred_at::date, _partition from staging.events where source_event_id = 'late'").fetchall()
        assert row == [(date(2025, 3, 1), date(2025, 3, 4))]
        journeys = con.execute(
            "select converted, revenue, n_events from marts.journeys order by started_at").fetchall()
        assert journeys[0] == (True, 42.0, 5)
        assert con.execute("select status, furthest_step from marts.funnel_customers where funnel = 'checkout'").fetchall() == [("converted", 5)]
        last = con.execute(
            "select entered from marts.funnel_dropoff where funnel = 'checkout' and breakdown = 'all' and step_index = 5"
        ).fetchall()
        assert last == [(1,)]
