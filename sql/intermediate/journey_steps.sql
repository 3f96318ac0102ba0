-- grain: one row per step of a journey's touchpoint path and of its phase path (level)
-- depends on: intermediate.journey_timeline
-- The collapsed paths of every journey, one row per step, 'unclassified' events left out.
-- Phase level: a run of consecutive classified events in one phase (a hash aggregate of the runs
-- the journey pass numbered). Touchpoint level, visit by visit: a web or app visit is one item
-- named by how it began (intermediate.journey_timeline.visit_touchpoint), every other
-- front-stage event is one item (back-stage touchpoints belong to the service blueprint, not to
-- the customer's path); consecutive items of one name are one step. Only the items of a journey,
-- not its events, are put in order.
with timeline as not materialized (
    select
        journey_id, step_index, occurred_at, touchpoint, phase, stage, phase_run, session_number,
        visit_touchpoint
    from intermediate.journey_timeline
),

phase_runs as (
    select
        journey_id,
        phase_run as run,
        any_value(phase) as name,
        min(step_index) as first_step_index,
        max(step_index) as last_step_index,
        min(occurred_at) as arrived_at,
        max(occurred_at) as left_at,
        count(*) as n_events
    from timeline
    where touchpoint <> 'unclassified'
    group by journey_id, phase_run
),

-- an item: the part of a visit inside the journey, or one front-stage event outside visits
items as (
    select
        journey_id,
        session_number,
        case when session_number is null then step_index end as event_step_index,
        any_value(coalesce(visit_touchpoint, touchpoint)) as name,
        min(step_index) as first_step_index,
        max(step_index) as last_step_index,
        min(occurred_at) as arrived_at,
        max(occurred_at) as left_at,
        count(*) as n_events
    from timeline
    where session_number is not null or (touchpoint <> 'unclassified' and stage = 'front')
    group by journey_id, session_number, case when session_number is null then step_index end
),

-- a visit whose first event no rule classified stays out of the path, like unclassified events
item_changes as (
    select
        *,
        coalesce(lag(name) over (partition by journey_id order by first_step_index) <> name, true)
            as is_new_step
    from items
    where name <> 'unclassified'
),

item_steps as (
    select
        *,
        sum(is_new_step::integer) over (
            partition by journey_id order by first_step_index rows between unbounded preceding and current row
        ) as step_number
    from item_changes
),

touchpoint_steps as (
    select
        journey_id,
        step_number,
        any_value(name) as name,
        min(first_step_index) as first_step_index,
        max(last_step_index) as last_step_index,
        min(arrived_at) as arrived_at,
        max(left_at) as left_at,
        sum(n_events) as n_events
    from item_steps
    group by journey_id, step_number
),

-- a journey's phase runs are consecutive numbers: its first run is step 1
final as (
    select
        'touchpoint' as level,
        journey_id,
        step_number::integer as step_number,
        name,
        first_step_index,
        last_step_index,
        arrived_at,
        left_at,
        n_events::integer as n_events
    from touchpoint_steps
    union all
    select
        'phase' as level,
        journey_id,
        (run - min(run) over (partition by journey_id) + 1)::integer as step_number,
        name,
        first_step_index,
        last_step_index,
        arrived_at,
        left_at,
        n_events::integer as n_events
    from phase_runs
)

select * from final
