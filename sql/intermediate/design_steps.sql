-- grain: one row per step of a designed journey
-- depends on: no relation: the designs config arrives as bound lists
-- The steps of every design in designs.yaml, in order: what each matches (phase, touchpoint,
-- event name; null = any), whether it is optional or repeatable, and its target time.
with bound as (
    select
        unnest($design_step_design::varchar[]) as design,
        unnest($design_step_persona::varchar[]) as persona,
        unnest($design_step_description::varchar[]) as description,
        unnest($design_step_index::integer[]) as step,
        unnest($design_step_name::varchar[]) as step_name,
        unnest($design_step_phase::varchar[]) as phase,
        unnest($design_step_touchpoint::varchar[]) as touchpoint,
        unnest($design_step_event_name::varchar[]) as event_name,
        unnest($design_step_optional::boolean[]) as is_optional,
        unnest($design_step_repeatable::boolean[]) as is_repeatable,
        unnest($design_step_target_seconds::double[]) as target_seconds
),

final as (
    select
        design,
        persona,
        description,
        step,
        step_name,
        phase,
        touchpoint,
        event_name,
        is_optional,
        is_repeatable,
        target_seconds,
        max(step) over (partition by design) as n_steps
    from bound
)

select * from final
