-- grain: one row per (from_touchpoint, to_touchpoint) pair
-- depends on: intermediate.journey_steps, marts.journeys
-- First-order transitions between consecutive steps of each journey's touchpoint path (the path
-- of marts.journeys: visit by visit, 'unclassified' events and back-stage touchpoints left out,
-- consecutive repeats collapsed), with '(start)' before the first step and '(conversion)' or
-- '(exit)' after the last.
-- A step meets the next by a join on (journey, step_number + 1): no event is sorted here.
with journeys as (
    select
        journey_id,
        converted,
        converted_at,
        n_touchpoint_steps,
        touchpoint_path
    from marts.journeys
),

-- a run of one touchpoint, with when the journey arrived there
runs as (
    select
        journey_id,
        step_number,
        name as touchpoint,
        arrived_at
    from intermediate.journey_steps
    where level = 'touchpoint'
),

-- journeys without a step: their path is the single step 'unclassified' (no classified event)
-- or '(none)' (back-stage events only)
unclassified_runs as (
    select journey_id, touchpoint_path as touchpoint
    from journeys
    where n_touchpoint_steps = 0
),

edges as (
    select
        '(start)' as from_touchpoint,
        touchpoint as to_touchpoint,
        null::double as seconds
    from runs
    where step_number = 1
    union all
    select
        previous.touchpoint as from_touchpoint,
        runs.touchpoint as to_touchpoint,
        epoch(runs.arrived_at - previous.arrived_at) as seconds
    from runs
    inner join runs as previous
        on runs.journey_id = previous.journey_id
        and runs.step_number = previous.step_number + 1
    union all
    select
        runs.touchpoint as from_touchpoint,
        case when journeys.converted then '(conversion)' else '(exit)' end as to_touchpoint,
        case when journeys.converted then epoch(journeys.converted_at - runs.arrived_at) end as seconds
    from runs
    inner join journeys
        on runs.journey_id = journeys.journey_id
        and runs.step_number = journeys.n_touchpoint_steps
    union all
    select '(start)' as from_touchpoint, touchpoint as to_touchpoint, null::double as seconds
    from unclassified_runs
    union all
    select touchpoint as from_touchpoint, '(exit)' as to_touchpoint, null::double as seconds
    from unclassified_runs
),

aggregated as (
    select
        from_touchpoint,
        to_touchpoint,
        count(*) as n,
        median(seconds) as median_seconds
    from edges
    group by from_touchpoint, to_touchpoint
),

final as (
    select
        from_touchpoint,
        to_touchpoint,
        n,
        n / sum(n) over (partition by from_touchpoint) as probability,
        median_seconds
    from aggregated
)

select * from final
order by from_touchpoint = '(start)' desc, from_touchpoint, n desc, to_touchpoint
