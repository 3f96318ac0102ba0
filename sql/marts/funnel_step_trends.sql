-- grain: one row per funnel, breakdown, breakdown value, ISO week (Monday) of the attempts' start
--        and step, from the funnel's first week to its last, weeks without entries included
-- depends on: intermediate.funnel_period_attempts, intermediate.funnel_breakdown_values,
--             intermediate.funnel_breakdown_groups, intermediate.funnel_steps,
--             intermediate.funnel_definitions
-- Each unit counted once per week, at the furthest step of the attempts that start in that week
-- (PostHog's funnel trends), so a step-to-step conversion can be followed week by week.
-- The status of a unit's week is decided here against as_of (it moves every night).
with funnel_period_attempts as (
    select * from intermediate.funnel_period_attempts
    where not is_excluded
),

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

period_attempts as (
    select
        funnel_period_attempts.funnel,
        funnel_period_attempts.unit_id,
        funnel_period_attempts.period_start,
        funnel_period_attempts.furthest_step,
        case
            when funnel_period_attempts.furthest_step = funnel_definitions.n_steps then 'converted'
            when funnel_period_attempts.open_until_at > funnel_definitions.as_of then 'in_window'
            else 'dropped'
        end as status
    from funnel_period_attempts
    inner join funnel_definitions on funnel_period_attempts.funnel = funnel_definitions.funnel
),

-- each unit's week once under 'all' and once under its value of each breakdown
unit_periods as (
    select
        funnel,
        unit_id,
        'all' as breakdown,
        'all' as breakdown_value,
        period_start,
        furthest_step,
        status
    from period_attempts
    union all
    select
        period_attempts.funnel,
        period_attempts.unit_id,
        breakdown_values.breakdown,
        breakdown_values.breakdown_value,
        period_attempts.period_start,
        period_attempts.furthest_step,
        period_attempts.status
    from period_attempts
    inner join breakdown_values
        on period_attempts.funnel = breakdown_values.funnel
        and period_attempts.unit_id = breakdown_values.unit_id
),

weeks as (
    select
        funnel,
        unnest(
            generate_series(min(period_start), max(period_start), interval 7 day)
        )::date as period_start
    from period_attempts
    group by funnel
),

breakdown_groups as (
    select distinct funnel, breakdown, breakdown_value from unit_periods
),

grid as (
    select
        breakdown_groups.funnel,
        breakdown_groups.breakdown,
        breakdown_groups.breakdown_value,
        weeks.period_start,
        funnel_steps.step_index,
        funnel_steps.step_name,
        funnel_steps.n_steps
    from breakdown_groups
    inner join weeks on breakdown_groups.funnel = weeks.funnel
    inner join funnel_steps on breakdown_groups.funnel = funnel_steps.funnel
),

per_step as (
    select
        grid.funnel,
        grid.breakdown,
        grid.breakdown_value,
        grid.period_start,
        grid.step_index,
        grid.step_name,
        grid.n_steps,
        count(unit_periods.unit_id) filter (
            where unit_periods.furthest_step >= grid.step_index
        ) as entered,
        count(unit_periods.unit_id) filter (
            where unit_periods.furthest_step > grid.step_index
        ) as next_entered,
        count(unit_periods.unit_id) filter (
            where unit_periods.furthest_step = grid.step_index and unit_periods.status = 'dropped'
        ) as dropped,
        count(unit_periods.unit_id) filter (
            where unit_periods.furthest_step = grid.step_index and unit_periods.status = 'in_window'
        ) as in_window
    from grid
    left join unit_periods
        on grid.funnel = unit_periods.funnel
        and grid.breakdown = unit_periods.breakdown
        and grid.breakdown_value = unit_periods.breakdown_value
        and grid.period_start = unit_periods.period_start
    group by
        grid.funnel,
        grid.breakdown,
        grid.breakdown_value,
        grid.period_start,
        grid.step_index,
        grid.step_name,
        grid.n_steps
),

final as (
    select
        -- keys
        per_step.funnel,
        per_step.breakdown,
        per_step.breakdown_value,
        per_step.period_start,
        per_step.step_index,
        per_step.step_name,
        per_step.n_steps,
        -- counts
        per_step.entered,
        case
            when per_step.step_index < per_step.n_steps then per_step.next_entered
            else per_step.entered
        end as reached_next,
        per_step.dropped,
        per_step.in_window,
        -- rates
        case
            when per_step.step_index = 1 then case when per_step.entered > 0 then 1.0 end
            else per_step.entered / nullif(
                lag(per_step.entered) over (
                    partition by
                        per_step.funnel,
                        per_step.breakdown,
                        per_step.breakdown_value,
                        per_step.period_start
                    order by per_step.step_index
                ),
                0
            )
        end as conversion_from_previous,
        -- completeness
        coalesce(
            per_step.period_start + interval 7 day + to_seconds(funnel_definitions.window_seconds)
            <= funnel_definitions.as_of,
            false
        ) as period_complete
    from per_step
    inner join funnel_definitions on per_step.funnel = funnel_definitions.funnel
)

select * from final
