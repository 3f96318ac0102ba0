-- grain: one row per funnel, breakdown, breakdown value and step ('all' / 'all' always present)
-- depends on: marts.funnel_customers, intermediate.funnel_breakdown_values,
--             intermediate.funnel_breakdown_groups, intermediate.funnel_steps,
--             intermediate.funnel_definitions
-- Units entering each step, reaching the next, dropping out or still in their window, with
-- conversion from the start and the time from this step to the next.
with funnel_customers as (
    select * from marts.funnel_customers
),

-- each unit's value, reported as itself or, beyond the funnel's breakdown limit, as 'Other'
breakdown_values as (
    select
        unit_breakdowns.funnel,
        unit_breakdowns.unit_id,
        unit_breakdowns.breakdown,
        groups.reported_value as breakdown_value
    from intermediate.funnel_breakdown_values as unit_breakdowns
    inner join intermediate.funnel_breakdown_groups as groups
        on unit_breakdowns.funnel = groups.funnel
        and unit_breakdowns.breakdown = groups.breakdown
        and unit_breakdowns.breakdown_value = groups.breakdown_value
),

funnel_steps as (
    select * from intermediate.funnel_steps
),

funnel_definitions as (
    select * from intermediate.funnel_definitions
),

-- each unit once under 'all' and once under its value of each breakdown
unit_values as (
    select
        funnel,
        unit_id,
        'all' as breakdown,
        'all' as breakdown_value,
        furthest_step,
        status,
        step_at
    from funnel_customers
    union all
    select
        funnel_customers.funnel,
        funnel_customers.unit_id,
        breakdown_values.breakdown,
        breakdown_values.breakdown_value,
        funnel_customers.furthest_step,
        funnel_customers.status,
        funnel_customers.step_at
    from funnel_customers
    inner join breakdown_values
        on funnel_customers.funnel = breakdown_values.funnel
        and funnel_customers.unit_id = breakdown_values.unit_id
),

breakdown_groups as (
    select distinct funnel, breakdown, breakdown_value from unit_values
    union
    select funnel, 'all' as breakdown, 'all' as breakdown_value from funnel_definitions
),

grid as (
    select
        breakdown_groups.funnel,
        breakdown_groups.breakdown,
        breakdown_groups.breakdown_value,
        funnel_steps.step_index,
        funnel_steps.step_name,
        funnel_steps.n_steps
    from breakdown_groups
    inner join funnel_steps on breakdown_groups.funnel = funnel_steps.funnel
),

per_step as (
    select
        grid.funnel,
        grid.breakdown,
        grid.breakdown_value,
        grid.step_index,
        grid.step_name,
        grid.n_steps,
        count(unit_values.unit_id) filter (
            where unit_values.furthest_step >= grid.step_index
        ) as entered,
        count(unit_values.unit_id) filter (
            where unit_values.furthest_step > grid.step_index
        ) as next_entered,
        count(unit_values.unit_id) filter (
            where unit_values.furthest_step = grid.step_index and unit_values.status = 'dropped'
        ) as dropped,
        count(unit_values.unit_id) filter (
            where unit_values.furthest_step = grid.step_index and unit_values.status = 'in_window'
        ) as in_window,
        quantile_cont(
            (
                epoch_us(unit_values.step_at[grid.step_index + 1])
                - epoch_us(unit_values.step_at[grid.step_index])
            ) / 1e6,
            [0.5, 0.9]
        ) filter (where grid.step_index < grid.n_steps) as seconds_to_next
    from grid
    left join unit_values
        on grid.funnel = unit_values.funnel
        and grid.breakdown = unit_values.breakdown
        and grid.breakdown_value = unit_values.breakdown_value
    group by
        grid.funnel,
        grid.breakdown,
        grid.breakdown_value,
        grid.step_index,
        grid.step_name,
        grid.n_steps
),

final as (
    select
        -- keys
        funnel,
        breakdown,
        breakdown_value,
        step_index,
        step_name,
        n_steps,
        -- counts
        entered,
        case when step_index < n_steps then next_entered else entered end as reached_next,
        dropped,
        in_window,
        -- rates
        case
            when step_index < n_steps then dropped / nullif(dropped + next_entered, 0)
        end as dropoff_rate,
        entered / nullif(
            first_value(entered) over (
                partition by funnel, breakdown, breakdown_value order by step_index
            ),
            0
        ) as conversion_from_start,
        -- timing
        seconds_to_next[1] as median_seconds_to_next,
        seconds_to_next[2] as p90_seconds_to_next
    from per_step
)

select * from final
