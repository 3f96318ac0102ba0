-- grain: one row per design and touchpoint it plans
-- depends on: no relation: the designs config arrives as bound lists
-- The touchpoints each design plans: those its steps name and its also_planned ones. An event
-- at any other front-stage touchpoint is an unplanned touchpoint for a design that names some.
with bound as (
    select
        unnest($design_planned_design::varchar[]) as design,
        unnest($design_planned_touchpoint::varchar[]) as touchpoint
),

final as (
    select distinct design, touchpoint from bound
)

select * from final
