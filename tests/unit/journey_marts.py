"""A small warehouse holding only the two journey marts the design, retention and lifecycle
models read (marts.journey_events and marts.journeys), filled from plain Python rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from transforms.config import Config, DesignConfig, load_config
from transforms.models import build_models

T0 = datetime(2025, 3, 3)  # a Monday
DESIGN_MODELS = ["marts.journey_conformance", "marts.design_gaps"]
UPSTREAM = ["intermediate.design_steps", "intermediate.design_touchpoints", "intermediate.design_moves",
            "intermediate.design_alignments", "intermediate.design_deviations"]


@dataclass(frozen=True)
class E:
    """One event: its journey, minutes since T0, event name and touchpoint."""

    journey_id: str
    minutes: float
    event_name: str
    touchpoint: str = "app"
    phase: str = "interest"
    stage: str = "front"
    is_conversion: bool = False
    persona: str = "consumer"
    customer_id: str | None = None


def load(con: duckdb.DuckDBPyConnection, events: list[E]) -> None:
    """Replace marts.journey_events and marts.journeys with `events` (step_index in time order)."""
    for schema in ("intermediate", "marts"):
        con.execute(f"create schema if not exists {schema}")
    rows = sorted(events, key=lambda e: (e.journey_id, e.minutes))
    step: dict[str, int] = {}
    records = []
    for e in rows:
        step[e.journey_id] = step.get(e.journey_id, 0) + 1
        records.append({
            "journey_id": e.journey_id, "customer_id": e.customer_id or e.journey_id.split("-")[0],
            "persona": e.persona, "step_index": step[e.journey_id], "occurred_at": T0 + timedelta(minutes=e.minutes),
            "touchpoint": e.touchpoint, "stage": e.stage, "phase": e.phase, "event_name": e.event_name,
            "is_conversion": e.is_conversion,
        })
    schema = {"journey_id": pl.Utf8, "customer_id": pl.Utf8, "persona": pl.Utf8, "step_index": pl.Int32,
              "occurred_at": pl.Datetime("us"), "touchpoint": pl.Utf8, "stage": pl.Utf8, "phase": pl.Utf8,
              "event_name": pl.Utf8, "is_conversion": pl.Boolean}
    frame = pl.DataFrame(records, schema=schema)
    journeys = frame.group_by("journey_id").agg(
        pl.col("persona").first(), pl.col("is_conversion").any().alias("converted"),
        pl.col("occurred_at").filter(pl.col("is_conversion")).max().alias("converted_at"),
    )
    for name, data in (("journey_events", frame), ("journeys", journeys)):
        con.execute(f"drop table if exists marts.{name}")
        con.from_arrow(data.to_arrow()).create(f"marts.{name}")


def config_with(designs: list[dict] | None = None, **retention) -> Config:
    config = load_config()
    update: dict = {}
    if designs is not None:
        update["designs"] = [DesignConfig.model_validate(d) for d in designs]
    if retention:
        update["settings"] = config.settings.model_copy(
            update={"retention": config.settings.retention.model_copy(update=retention)})
    return config.model_copy(update=update)


def build(con: duckdb.DuckDBPyConnection, config: Config, targets: list[str]) -> None:
    build_models(con, config, targets, with_upstream=False)


def build_designs(con: duckdb.DuckDBPyConnection, events: list[E], designs: list[dict]) -> None:
    load(con, events)
    build(con, config_with(designs), UPSTREAM + DESIGN_MODELS)
