-- grain: one row per transition of a journey's touchpoint path ('(start)' and the end included)
-- depends on: intermediate.journey_steps, marts.journeys
-- Each journey's first-order transitions between consecutive steps of its touchpoint path, as
-- marts.touchpoint_transitions counts them (see there). A journey's rows depend on that journey's
-- steps only, so a nightly run rebuilds the dirty customers' rows; the mart is a group-by.
-- Seconds are kept to the microsecond as decimals (a double would be rounded when stored).
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
        journey_id,
        '(start)' as from_touchpoint,
        touchpoint as to_touchpoint,
        null::decimal(18, 6) as seconds
    from runs
    where step_number = 1
    union all
    select
        runs.journey_id,
        previous.touchpoint as from_touchpoint,
        runs.touchpoint as to_touchpoint,
        epoch(runs.arrived_at - previous.arrived_at)::decimal(18, 6) as seconds
    from runs
    inner join runs as previous
        on runs.journey_id = previous.journey_id
        and runs.step_number = previous.step_number + 1
    union all
    select
        runs.journey_id,
        runs.touchpoint as from_touchpoint,
        case when journeys.converted then '(conversion)' else '(exit)' end as to_touchpoint,
        case when journeys.converted then epoch(journeys.converted_at - runs.arrived_at)::decimal(18, 6) end as seconds
    from runs
    inner join journeys
        on runs.journey_id = journeys.journey_id
        and runs.step_number = journeys.n_touchpoint_steps
    union all
    select journey_id, '(start)' as from_touchpoint, touchpoint as to_touchpoint, null::decimal(18, 6) as seconds
    from unclassified_runs
    union all
    select journey_id, touchpoint as from_touchpoint, '(exit)' as to_touchpoint, null::decimal(18, 6) as seconds
    from unclassified_runs
)

select * from edges
