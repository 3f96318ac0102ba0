"""Journeys: each customer's classified events cut into journeys, and the paths, transitions
and customer summaries built from them.

The work is SQL (``sql/marts/journey_events.sql`` and the models after it); this module holds
the parameters those models take from the settings; the invariants the asset checks verify are
``sql/checks/marts/<table>/*.sql``. No Python loop here runs once per event or per customer.

Journey semantics (DESIGN.md "Journey"):

* a customer's events are ordered by ``(occurred_at, source_rank, event_id)``;
* a journey ends at a conversion event (inclusive) or before a gap of inactivity longer than
  ``settings.journeys.timeout``; the events after a purchase start the next journey;
* ``journey_id`` is ``<customer_id>-<journey_number>`` with the number zero-padded to three
  digits (``c-1a2b-001``): the same input gives the same ids;
* paths leave out ``unclassified`` events (they still count in ``n_events``) and collapse
  consecutive repeats; a journey of unclassified events only has the path ``unclassified``.
"""

from __future__ import annotations

from typing import Any

from transforms.config import JourneySettings, parse_duration

PATH_SEPARATOR = " > "
ELLIPSIS = "…"


def journey_params(settings: JourneySettings) -> dict[str, Any]:
    """Bound parameters of the journey models, from ``settings.journeys``."""
    return {
        "timeout_seconds": parse_duration(settings.timeout),
        "max_path_steps": int(settings.max_path_steps),
        "drop_touchpoints": list(settings.drop_touchpoints),
        "first_occurrence_only": bool(settings.first_occurrence_only),
        "session_timeout_seconds": parse_duration(settings.session_timeout),
        "session_sources": list(settings.session_sources),
        "direct_touchpoints": list(settings.direct_touchpoints),
        "direct_visit_touchpoint": settings.direct_visit_touchpoint,
        **path_definition_params(settings),
    }


def path_definition_params(settings: JourneySettings) -> dict[str, Any]:
    """The path definitions of ``settings.journeys.paths`` as parallel lists (one item a definition;
    the exclusions as (definition, name) pairs), the rows of marts.journey_paths' definitions."""
    defs = settings.paths
    return {
        "path_definition": [d.name for d in defs],
        "path_level": [d.level for d in defs],
        "path_start_name": [d.start.touchpoint if d.start else None for d in defs],
        "path_start_event": [d.start.event_name if d.start else None for d in defs],
        "path_end_name": [d.end.touchpoint if d.end else None for d in defs],
        "path_end_event": [d.end.event_name if d.end else None for d in defs],
        "path_max_steps": [d.max_steps for d in defs],
        "path_exclude_definition": [d.name for d in defs for _ in d.exclude],
        "path_exclude_name": [t for d in defs for t in d.exclude],
    }
