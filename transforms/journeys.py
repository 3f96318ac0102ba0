"""Journeys: each customer's classified events cut into journeys, and the paths, transitions
and customer summaries built from them.

The work is SQL (``sql/marts/journey_events.sql`` and the models after it); this module holds
the parameters those models take from the settings, the order they are built in, and the
invariants the asset checks verify. No Python loop here runs once per event or per customer.

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

import duckdb

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
    }


# --------------------------------------------------------------------------- invariants


def events_not_once(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    """Events of intermediate.classified_events that are not exactly once in
    marts.journey_events: (event_id, times upstream, times in journey_events), at most 10.

    First a cheap pass: equal row counts, equal sums of the event ids' hashes (a multiset
    fingerprint) and no event id twice in marts.journey_events mean every event is there once;
    only when that pass fails are the two tables matched event by event to name the events."""
    (same,), = con.execute(
        """
        with upstream as (
            select count(*) as n, sum(hash(event_id)::hugeint) as fingerprint from intermediate.classified_events
        ),
        journey as (
            select count(*) as n, sum(hash(event_id)::hugeint) as fingerprint from marts.journey_events
        ),
        repeated as (
            select event_id from marts.journey_events group by event_id having count(*) > 1 limit 1
        )
        select u.n = j.n and u.fingerprint is not distinct from j.fingerprint and not exists (from repeated)
        from upstream as u, journey as j
        """
    ).fetchall()
    if same:
        return []
    return con.execute(
        """
        with upstream as (select event_id, count(*) as n from intermediate.classified_events group by all),
        journey as (select event_id, count(*) as n from marts.journey_events group by all)
        select coalesce(u.event_id, j.event_id), coalesce(u.n, 0), coalesce(j.n, 0)
        from upstream as u full outer join journey as j on u.event_id = j.event_id
        where coalesce(u.n, 0) <> 1 or coalesce(j.n, 0) <> 1
        order by 1
        limit 10
        """
    ).fetchall()


def journey_errors(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Journeys that break the segmentation rules: a conversion anywhere but at the last
    event, `converted` disagreeing with the events, or step_index not running 1..n_events.
    Returns (journey_id, problem), at most 10."""
    return con.execute(
        """
        with per_journey as (
            select
                journey_id,
                count(*) as n_events,
                min(step_index) as first_step,
                max(step_index) as last_step,
                count(distinct step_index) as n_steps,
                count(*) filter (where is_conversion) as n_conversions,
                max(step_index) filter (where is_conversion) as conversion_step
            from marts.journey_events
            where journey_id is not null
            group by journey_id
        ),
        checked as (
            select
                p.journey_id,
                case
                    when j.journey_id is null then 'not in marts.journeys'
                    when p.n_conversions > 1 then 'more than one conversion'
                    when p.n_conversions = 1 and p.conversion_step <> p.last_step
                        then 'the conversion is not the last event'
                    when j.converted <> (p.n_conversions = 1)
                        then 'converted does not match its events'
                    when p.first_step <> 1 or p.last_step <> p.n_events or p.n_steps <> p.n_events
                        then 'step_index does not run 1..n_events'
                    when j.n_events <> p.n_events then 'n_events does not match its events'
                end as problem
            from per_journey as p
            left join marts.journeys as j on p.journey_id = j.journey_id
        )
        select journey_id, problem from checked where problem is not null
        order by journey_id
        limit 10
        """
    ).fetchall()


def transition_probability_errors(con: duckdb.DuckDBPyConnection, tolerance: float = 1e-9) -> list[tuple[str, float]]:
    """from_touchpoint values whose outgoing probabilities do not sum to 1: (from, sum)."""
    return con.execute(
        """
        select from_touchpoint, sum(probability) as total
        from marts.touchpoint_transitions
        group by from_touchpoint
        having abs(sum(probability) - 1) > $tolerance
        order by from_touchpoint
        """,
        {"tolerance": tolerance},
    ).fetchall()


def path_count_errors(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int]]:
    """(level, persona) groups of marts.journey_paths whose n_journeys do not add up to the
    journeys of marts.journeys: (level, persona, sum of n_journeys, journeys)."""
    return con.execute(
        """
        with expected as (
            select persona, count(*) as n from marts.journeys group by all
            union all
            select 'all', count(*) from marts.journeys
        ),
        levels as (select unnest(['phase', 'touchpoint']) as level),
        observed as (
            select level, persona, sum(n_journeys) as n from marts.journey_paths group by all
        )
        select l.level, e.persona, coalesce(o.n, 0)::bigint, e.n
        from expected as e cross join levels as l
        left join observed as o on o.level = l.level and o.persona = e.persona
        where coalesce(o.n, 0) <> e.n
        order by 1, 2
        """
    ).fetchall()
