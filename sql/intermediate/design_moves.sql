-- grain: one row per move of a journey in a design (a run of consecutive events, from the
--        journey's entry into the design, that match the same steps or sit at one unplanned touchpoint)
-- depends on: marts.journey_events, intermediate.design_steps, intermediate.design_touchpoints
-- The observed trace each design's alignment works on. A journey of the design's persona enters
-- the design at its first event matching step 1. From there, each classified event either
-- matches some steps, or sits at a front-stage touchpoint the design does not plan (unplanned),
-- or is left out (another event at a planned touchpoint, or a back-stage one). Consecutive
-- events with the same matches (or at the same unplanned touchpoint) collapse into one move.
with journey_events as (
    select
        journey_id, customer_id, persona, step_index, occurred_at, touchpoint, stage, phase, event_name
    from marts.journey_events
    where journey_id is not null and touchpoint <> 'unclassified'
),

design_steps as (
    select design, persona, step, phase, touchpoint, event_name from intermediate.design_steps
),

design_touchpoints as (
    select design, touchpoint from intermediate.design_touchpoints
),

designs as (
    select distinct design, persona from design_steps
),

-- every (event, design step) pair where the event matches the step
matches as (
    select
        e.journey_id,
        s.design,
        e.step_index,
        s.step
    from journey_events as e
    inner join design_steps as s
        on (s.persona = 'all' or s.persona = e.persona)
        and (s.phase is null or s.phase = e.phase)
        and (s.touchpoint is null or s.touchpoint = e.touchpoint)
        and (s.event_name is null or s.event_name = e.event_name)
),

entries as (
    select journey_id, design, min(step_index) as entry_index
    from matches
    where step = 1
    group by journey_id, design
),

matched_sets as (
    select journey_id, design, step_index, list_sort(list(step)) as matched_steps
    from matches
    group by journey_id, design, step_index
),

plans_touchpoints as (
    select distinct design from design_touchpoints
),

-- the events of each journey from its entry on, with what they match
candidates as (
    select
        en.design,
        e.journey_id,
        e.customer_id,
        e.step_index,
        e.occurred_at,
        e.touchpoint,
        e.event_name,
        ms.matched_steps,
        e.stage = 'front' and pt.design is not null and dt.touchpoint is null as is_unplanned
    from entries as en
    inner join journey_events as e
        on en.journey_id = e.journey_id
        and e.step_index >= en.entry_index
    left join matched_sets as ms
        on e.journey_id = ms.journey_id
        and en.design = ms.design
        and e.step_index = ms.step_index
    left join plans_touchpoints as pt on en.design = pt.design
    left join design_touchpoints as dt
        on en.design = dt.design
        and e.touchpoint = dt.touchpoint
),

kept as (
    select
        *,
        case
            when matched_steps is not null then 'steps:' || array_to_string(matched_steps, ',')
            else 'unplanned:' || touchpoint
        end as move_key
    from candidates
    where matched_steps is not null or is_unplanned
),

-- a move starts where the key changes
flagged as (
    select
        *,
        move_key is distinct from lag(move_key) over by_event as is_move_start
    from kept
    window by_event as (partition by journey_id, design order by step_index)
),

numbered as (
    select
        *,
        sum(is_move_start::integer) over (
            partition by journey_id, design order by step_index
            rows between unbounded preceding and current row
        ) as move_index
    from flagged
),

final as (
    select
        -- keys
        design,
        journey_id,
        any_value(customer_id) as customer_id,
        move_index::integer as move_index,
        -- what the move is
        coalesce(arg_min(matched_steps, step_index), []::integer[]) as matched_steps,
        arg_min(touchpoint, step_index) as touchpoint,
        arg_min(event_name, step_index) as event_name,
        -- where in the journey
        min(step_index) as first_step_index,
        count(*) as n_events,
        min(occurred_at) as started_at
    from numbered
    group by design, journey_id, move_index
)

select * from final
