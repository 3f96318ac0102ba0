-- grain: one row per journey
-- depends on: marts.journey_events
-- Journeys with their timing, outcome and paths. Paths leave out 'unclassified' events and
-- collapse consecutive repeats; a journey of unclassified events only has the path 'unclassified'.
with journey_events as (
    select
        journey_id, customer_id, persona, journey_number, step_index, occurred_at,
        touchpoint, phase, is_conversion, revenue
    from marts.journey_events
),

per_journey as (
    select
        journey_id,
        any_value(customer_id) as customer_id,
        any_value(persona) as persona,
        any_value(journey_number) as journey_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        coalesce(bool_or(is_conversion), false) as converted,
        max(occurred_at) filter (where is_conversion) as converted_at,
        sum(revenue) filter (where is_conversion) as revenue,
        count(*) as n_events,
        count(*) filter (where touchpoint = 'unclassified') as n_unclassified_events,
        list(phase order by step_index) filter (where phase <> 'unclassified') as phases,
        list(touchpoint order by step_index) filter (where touchpoint <> 'unclassified') as touchpoints
    from journey_events
    group by journey_id
),

collapsed as (
    select
        * exclude (phases, touchpoints),
        list_filter(phases, lambda p, i: i = 1 or p <> phases[i - 1]) as phase_steps,
        list_filter(touchpoints, lambda t, i: i = 1 or t <> touchpoints[i - 1]) as touchpoint_steps
    from per_journey
),

final as (
    select
        -- keys
        journey_id,
        customer_id,
        persona,
        journey_number,
        -- timing
        started_at,
        ended_at,
        epoch(ended_at - started_at) as duration_seconds,
        -- outcome
        converted,
        converted_at,
        revenue,
        -- size
        n_events,
        n_unclassified_events,
        -- paths
        coalesce(nullif(array_to_string(phase_steps, ' > '), ''), 'unclassified') as phase_path,
        coalesce(nullif(array_to_string(touchpoint_steps, ' > '), ''), 'unclassified') as touchpoint_path,
        coalesce(touchpoint_steps[1], 'unclassified') as first_touchpoint,
        coalesce(touchpoint_steps[-1], 'unclassified') as last_touchpoint,
        coalesce(phase_steps[1], 'unclassified') as first_phase,
        coalesce(phase_steps[-1], 'unclassified') as last_phase,
        coalesce(len(touchpoint_steps), 0)::integer as n_touchpoint_steps
    from collapsed
)

select * from final
