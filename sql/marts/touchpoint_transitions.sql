-- grain: one row per (from_touchpoint, to_touchpoint) pair
-- depends on: marts.journey_events, marts.journeys
-- First-order transitions between consecutive touchpoints of each journey, after leaving out
-- 'unclassified' events and collapsing consecutive repeats (the path of marts.journeys), with
-- '(start)' before the first touchpoint and '(conversion)' or '(exit)' after the last.
-- journeys are keyed by a row number here: the windows below sort every event, and an
-- integer key keeps those sorts (and what they spill to disk at 100M events) small
with journeys as materialized (
    select
        journey_id,
        row_number() over () as journey_key,
        converted,
        converted_at,
        n_touchpoint_steps
    from marts.journeys
),

journey_events as (
    select journeys.journey_key as journey_id, events.step_index, events.occurred_at, events.touchpoint
    from marts.journey_events as events
    inner join journeys on events.journey_id = journeys.journey_id
    where events.touchpoint <> 'unclassified'
),

-- the first event of each run of one touchpoint: when the journey arrived there
arrivals as (
    select
        journey_id,
        step_index,
        touchpoint,
        occurred_at as arrived_at
    from journey_events
    qualify touchpoint is distinct from lag(touchpoint) over (partition by journey_id order by step_index)
),

runs as (
    select
        journey_id,
        touchpoint,
        arrived_at,
        lag(touchpoint) over journey as previous_touchpoint,
        lag(arrived_at) over journey as previous_arrived_at,
        lead(touchpoint) over journey is null as is_last
    from arrivals
    window journey as (partition by journey_id order by step_index)
),

-- journeys of unclassified events only: their path is the single step 'unclassified'
unclassified_runs as (
    select journey_id, 'unclassified' as touchpoint
    from journeys
    where n_touchpoint_steps = 0
),

edges as (
    select
        coalesce(previous_touchpoint, '(start)') as from_touchpoint,
        touchpoint as to_touchpoint,
        epoch(arrived_at - previous_arrived_at) as seconds
    from runs
    union all
    select
        runs.touchpoint as from_touchpoint,
        case when journeys.converted then '(conversion)' else '(exit)' end as to_touchpoint,
        case when journeys.converted then epoch(journeys.converted_at - runs.arrived_at) end as seconds
    from runs
    inner join journeys on runs.journey_id = journeys.journey_key
    where runs.is_last
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
