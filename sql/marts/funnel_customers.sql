-- grain: one row per funnel and unit (customer, or journey for unit: journey funnels) that
--        entered the funnel and was not removed by an exclusion
-- depends on: intermediate.funnel_attempts, intermediate.funnel_breakdown_values,
--             intermediate.funnel_definitions
-- The counted attempt of each unit: furthest step, status, step times and breakdown values.
-- A nightly run rebuilds the rows of its customers only (incremental_by in the .yaml); the status
-- depends on as_of, the newest event of all customers, which moves every night, so the other
-- units' rows whose status it moves are then updated (funnel_customers/as_of_moved.sql).
with attempts as (
    select * from intermediate.funnel_attempts
    where not is_excluded
),

breakdown_values as (
    select * from intermediate.funnel_breakdown_values
),

funnel_definitions as (
    select funnel, n_steps, as_of from intermediate.funnel_definitions
),

-- a unit has each breakdown once, so sorting its (breakdown, value) pairs sorts by breakdown:
-- one list_sort instead of two ordered aggregates
value_maps as (
    select
        funnel,
        unit_id,
        map_from_entries(
            list_sort(list({'key': breakdown, 'value': breakdown_value}))
        ) as breakdown_values
    from breakdown_values
    group by funnel, unit_id
),

final as (
    select
        -- keys
        attempts.funnel,
        attempts.unit,
        attempts.unit_id,
        attempts.customer_id,
        attempts.journey_id,
        -- breakdowns
        coalesce(value_maps.breakdown_values, map()::map(varchar, varchar)) as breakdown_values,
        -- outcome
        attempts.furthest_step,
        case
            when attempts.furthest_step = funnel_definitions.n_steps then 'converted'
            when attempts.open_until_at > funnel_definitions.as_of then 'in_window'
            else 'dropped'
        end as status,
        -- times (UTC)
        attempts.started_at,
        attempts.step_at[1] as step_1_at,
        attempts.step_at[2] as step_2_at,
        attempts.step_at[3] as step_3_at,
        attempts.step_at[4] as step_4_at,
        attempts.step_at[5] as step_5_at,
        attempts.step_at[6] as step_6_at,
        attempts.step_at[7] as step_7_at,
        attempts.step_at[8] as step_8_at,
        attempts.step_at[9] as step_9_at,
        attempts.step_at[10] as step_10_at,
        attempts.window_end_at,
        -- the attempt
        attempts.step_at,
        attempts.step_event_ids,
        attempts.start_event_id
    from attempts
    inner join funnel_definitions on attempts.funnel = funnel_definitions.funnel
    left join value_maps
        on attempts.funnel = value_maps.funnel and attempts.unit_id = value_maps.unit_id
)

select * from final
