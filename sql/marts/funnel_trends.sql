-- grain: one row per funnel and ISO week (Monday) of entry, from the funnel's first week of
--        entry to its last, weeks without entries included
-- depends on: marts.funnel_customers, intermediate.funnel_definitions
-- Conversion rate by week of entry (the week of the counted attempt's step-1 event), with
-- whether every attempt of that week has had its full window.
with funnel_customers as (
    select * from marts.funnel_customers
),

funnel_definitions as (
    select * from intermediate.funnel_definitions
),

weekly as (
    select
        funnel,
        date_trunc('week', started_at)::date as period_start,
        count(*) as entered,
        count(*) filter (where status = 'converted') as converted,
        count(*) filter (where status = 'dropped') as dropped,
        count(*) filter (where status = 'in_window') as in_window
    from funnel_customers
    group by funnel, date_trunc('week', started_at)::date
),

weeks as (
    select
        funnel,
        unnest(
            generate_series(min(period_start), max(period_start), interval 7 day)
        )::date as period_start
    from weekly
    group by funnel
),

final as (
    select
        -- keys
        weeks.funnel,
        weeks.period_start,
        -- counts
        coalesce(weekly.entered, 0) as entered,
        coalesce(weekly.converted, 0) as converted,
        coalesce(weekly.dropped, 0) as dropped,
        coalesce(weekly.in_window, 0) as in_window,
        -- rates
        weekly.converted / nullif(weekly.entered, 0) as conversion_rate,
        -- completeness
        coalesce(
            weeks.period_start + interval 7 day + to_seconds(funnel_definitions.window_seconds)
            <= funnel_definitions.as_of,
            false
        ) as period_complete
    from weeks
    inner join funnel_definitions on weeks.funnel = funnel_definitions.funnel
    left join weekly
        on weeks.funnel = weekly.funnel and weeks.period_start = weekly.period_start
)

select * from final
