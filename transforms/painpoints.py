"""Touchpoint health and pain points: where in the journey customers leave, complain or need help.

Both tables are SQL models (``sql/marts/touchpoint_health.sql``, ``sql/marts/pain_points.sql``);
this module turns the configuration into their parameters and builds them.
"""

from __future__ import annotations

from typing import Any

from transforms.config import Config, parse_duration

NEGATIVE_BELOW = -0.05
"""An event is negative when its sentiment is below this (VADER's usual threshold)."""


def humanize_duration(seconds: float) -> str:
    """86400*2 -> '2 days', 3600 -> '1 hour', 5400 -> '90 minutes': the largest whole unit."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    n = round(seconds)
    return f"{n} second{'s' if n != 1 else ''}"


def touchpoint_health_params(config: Config) -> dict[str, Any]:
    return {"timeout_seconds": parse_duration(config.settings.journeys.timeout)}


def pain_point_params(config: Config) -> dict[str, Any]:
    s = config.settings.pain_points
    within = parse_duration(s.support_within)
    tps, phases = config.taxonomy.touchpoints, config.taxonomy.phases
    return {
        "support_within_seconds": within,
        "support_within_text": humanize_duration(within),
        "support_sources": list(s.support_sources),
        "support_touchpoints": list(s.support_touchpoints),
        "min_customers": s.min_customers,
        "min_lift": s.min_lift,
        "touchpoint_names": [t.name for t in tps],
        "touchpoint_labels": [t.label or t.name for t in tps],
        "phase_names": [p.name for p in phases],
        "phase_labels": [(p.label or p.name).lower() for p in phases],
    }
