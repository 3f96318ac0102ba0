-- grain: one row per funnel, breakdown and breakdown value of a unit that entered the funnel
-- depends on: intermediate.funnel_breakdown_values, intermediate.funnel_definitions
-- The value each breakdown value is reported under: itself for the funnel's breakdown_limit most
-- frequent values by units (ties by value), 'Other' for the rest (PostHog's breakdown limit).
with breakdown_values as (
    select * from intermediate.funnel_breakdown_values
),

funnel_definitions as (
    select funnel, breakdown_limit from intermediate.funnel_definitions
),

value_units as (
    select
        breakdown_values.funnel,
        breakdown_values.breakdown,
        breakdown_values.breakdown_value,
        count(*) as n_units
    from breakdown_values
    group by breakdown_values.funnel, breakdown_values.breakdown, breakdown_values.breakdown_value
),

ranked as (
    select
        *,
        row_number() over (
            partition by funnel, breakdown order by n_units desc, breakdown_value
        ) as value_rank
    from value_units
),

final as (
    select
        -- keys
        ranked.funnel,
        ranked.breakdown,
        ranked.breakdown_value,
        -- grouping
        case
            when ranked.value_rank <= funnel_definitions.breakdown_limit then ranked.breakdown_value
            else 'Other'
        end as reported_value,
        ranked.value_rank,
        ranked.n_units
    from ranked
    inner join funnel_definitions on ranked.funnel = funnel_definitions.funnel
)

select * from final
