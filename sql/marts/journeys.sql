-- grain: one row per journey
-- depends on: intermediate.journey_timeline, intermediate.journey_steps, intermediate.customer_profiles
-- Journeys with their timing, outcome and paths. Paths leave out 'unclassified' events and
-- collapse consecutive repeats; the touchpoint path goes visit by visit and leaves out back-stage
-- touchpoints (intermediate.journey_steps). A journey of unclassified events only has the path
-- 'unclassified'; one with classified events but no front-stage step has the touchpoint path '(none)'.
with journey_timeline as (
    select journey_id, customer_id, journey_number, occurred_at, touchpoint, is_conversion, revenue
    from intermediate.journey_timeline
),

customer_profiles as (
    select customer_id, persona from intermediate.customer_profiles
),

journey_steps as (
    select level, journey_id, step_number, name from intermediate.journey_steps
),

per_journey as (
    select
        journey_id,
        any_value(customer_id) as customer_id,
        any_value(journey_number) as journey_number,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        coalesce(bool_or(is_conversion), false) as converted,
        max(occurred_at) filter (where is_conversion) as converted_at,
        sum(revenue) filter (where is_conversion) as revenue,
        count(*) as n_events,
        count(*) filter (where touchpoint = 'unclassified') as n_unclassified_events
    from journey_timeline
    group by journey_id
),

-- the collapsed paths, a step per row (intermediate.journey_steps); steps are gathered
-- unordered and sorted by step_number once per journey (cheaper than ordered aggregates)
steps as (
    select
        journey_id,
        list_sort(list({'step_number': step_number, 'name': name}) filter (where level = 'phase'))
            as phase_steps,
        list_sort(list({'step_number': step_number, 'name': name}) filter (where level = 'touchpoint'))
            as touchpoint_steps
    from journey_steps
    group by journey_id
),

paths as (
    select
        journey_id,
        array_to_string(list_transform(phase_steps, lambda s: s.name), ' > ') as phase_path,
        array_to_string(list_transform(touchpoint_steps, lambda s: s.name), ' > ') as touchpoint_path,
        touchpoint_steps[1].name as first_touchpoint,
        touchpoint_steps[-1].name as last_touchpoint,
        phase_steps[1].name as first_phase,
        phase_steps[-1].name as last_phase,
        len(touchpoint_steps) as n_touchpoint_steps
    from steps
),

final as (
    select
        -- keys
        j.journey_id,
        j.customer_id,
        coalesce(cp.persona, 'unknown') as persona,
        j.journey_number,
        -- timing
        j.started_at,
        j.ended_at,
        epoch(j.ended_at - j.started_at) as duration_seconds,
        -- outcome
        j.converted,
        j.converted_at,
        j.revenue,
        -- size
        j.n_events,
        j.n_unclassified_events,
        -- paths
        coalesce(p.phase_path, 'unclassified') as phase_path,
        coalesce(nullif(p.touchpoint_path, ''), j.no_touchpoint_path) as touchpoint_path,
        coalesce(p.first_touchpoint, j.no_touchpoint_path) as first_touchpoint,
        coalesce(p.last_touchpoint, j.no_touchpoint_path) as last_touchpoint,
        coalesce(p.first_phase, 'unclassified') as first_phase,
        coalesce(p.last_phase, 'unclassified') as last_phase,
        coalesce(p.n_touchpoint_steps, 0)::integer as n_touchpoint_steps
    from (
        select
            *,
            case when n_unclassified_events = n_events then 'unclassified' else '(none)' end as no_touchpoint_path
        from per_journey
    ) as j
    left join paths as p on j.journey_id = p.journey_id
    left join customer_profiles as cp on j.customer_id = cp.customer_id
)

select * from final
