-- grain: one row per deviation of a journey from a design
-- depends on: intermediate.design_alignments, intermediate.design_moves, intermediate.design_steps
-- The deviations an optimal alignment shows: a required step skipped, a move that matches a
-- step but comes out of order (or repeats a step that is not repeatable), a move at a touchpoint
-- the design does not plan, and a step reached later after the previous one than its target.
with alignments as (
    select design, journey_id, customer_id, path from intermediate.design_alignments
),

moves as (
    select design, journey_id, move_index, matched_steps, touchpoint, started_at
    from intermediate.design_moves
),

design_steps as (
    select design, step, step_name, is_optional, target_seconds from intermediate.design_steps
),

aligned_moves as (
    select
        m.design,
        m.journey_id,
        a.customer_id,
        m.move_index,
        m.matched_steps,
        m.touchpoint,
        m.started_at,
        a.path[m.move_index] as followed_step
    from moves as m
    inner join alignments as a
        on m.design = a.design
        and m.journey_id = a.journey_id
),

-- a deviating move that matches a step is out of order (named by the first step it matches)
log_moves as (
    select
        design,
        journey_id,
        customer_id,
        case when len(matched_steps) > 0 then 'out_of_order' else 'unplanned_touchpoint' end as kind,
        case when len(matched_steps) > 0 then list_min(matched_steps) end as step,
        touchpoint,
        move_index,
        cast(null as double) as seconds
    from aligned_moves
    where followed_step = 0
),

followed as (
    select
        design,
        journey_id,
        customer_id,
        move_index,
        followed_step,
        started_at,
        lag(followed_step) over in_order as previous_step,
        lag(started_at) over in_order as previous_at
    from aligned_moves
    where followed_step > 0
    window in_order as (partition by design, journey_id order by move_index)
),

stalls as (
    select
        f.design,
        f.journey_id,
        f.customer_id,
        'stall' as kind,
        f.followed_step as step,
        cast(null as varchar) as touchpoint,
        f.move_index,
        epoch(f.started_at - f.previous_at) as seconds
    from followed as f
    inner join design_steps as s
        on f.design = s.design
        and f.followed_step = s.step
    where
        f.previous_step < f.followed_step
        and s.target_seconds is not null
        and epoch(f.started_at - f.previous_at) > s.target_seconds
),

skipped as (
    select
        a.design,
        a.journey_id,
        a.customer_id,
        'skipped_step' as kind,
        s.step,
        cast(null as varchar) as touchpoint,
        cast(null as integer) as move_index,
        cast(null as double) as seconds
    from alignments as a
    inner join design_steps as s
        on a.design = s.design
        and not s.is_optional
        and not list_contains(a.path, s.step)
),

deviations as (
    select * from log_moves
    union all
    select * from stalls
    union all
    select * from skipped
),

final as (
    select
        -- keys
        d.design,
        d.journey_id,
        d.customer_id,
        -- what and where
        d.kind,
        d.step,
        coalesce(s.step_name, d.touchpoint) as location,
        d.move_index,
        d.seconds
    from deviations as d
    left join design_steps as s
        on d.design = s.design
        and d.step = s.step
)

select * from final
