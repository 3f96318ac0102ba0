-- grain: one row per step of a journey's touchpoint path and of its phase path (level)
-- depends on: intermediate.journey_timeline
-- The collapsed paths of every journey, one row per step: a run of consecutive classified
-- events at one touchpoint (phase), 'unclassified' events left out. A hash aggregate of the
-- runs the journey pass numbered; no event is sorted here.
with timeline as (
    select journey_id, step_index, occurred_at, touchpoint, phase, touchpoint_run, phase_run
    from intermediate.journey_timeline
    where touchpoint <> 'unclassified'
),

runs as (
    select
        'touchpoint' as level,
        journey_id,
        touchpoint_run as run,
        any_value(touchpoint) as name,
        min(step_index) as first_step_index,
        max(step_index) as last_step_index,
        min(occurred_at) as arrived_at,
        max(occurred_at) as left_at,
        count(*) as n_events
    from timeline
    group by journey_id, touchpoint_run
    union all
    select
        'phase' as level,
        journey_id,
        phase_run as run,
        any_value(phase) as name,
        min(step_index) as first_step_index,
        max(step_index) as last_step_index,
        min(occurred_at) as arrived_at,
        max(occurred_at) as left_at,
        count(*) as n_events
    from timeline
    group by journey_id, phase_run
),

-- a journey's runs are consecutive numbers: its first run is step 1
final as (
    select
        level,
        journey_id,
        (run - min(run) over (partition by level, journey_id) + 1)::integer as step_number,
        name,
        first_step_index,
        last_step_index,
        arrived_at,
        left_at,
        n_events::integer as n_events
    from runs
)

select * from final
