-- grain: one row per cohort week, persona ('all' included) and week since the cohort week
-- depends on: marts.journey_events
-- Weekly retention: customers grouped by the week of their first return event (first_seen) or of
-- their first conversion (first_purchase, settings.retention.cohort), and for each week since,
-- how many did the return event in that week. The return event is a front-stage event matching
-- settings.retention (phase, touchpoint, event name; unset = any). Weeks start on Monday (UTC).
-- Week 0 counts the whole cohort; only weeks that have begun by the newest event are listed.
with journey_events as (
    select customer_id, persona, occurred_at, stage, touchpoint, phase, event_name, is_conversion
    from marts.journey_events
    where customer_id is not null
),

flagged as (
    select
        customer_id,
        persona,
        occurred_at,
        is_conversion,
        stage = 'front'
        and ($return_phase::varchar is null or phase = $return_phase::varchar)
        and ($return_touchpoint::varchar is null or touchpoint = $return_touchpoint::varchar)
        and ($return_event_name::varchar is null or event_name = $return_event_name::varchar) as is_return
    from journey_events
),

newest as (
    select max(occurred_at) as newest_at, date_trunc('week', max(occurred_at))::date as newest_week
    from journey_events
),

returns as (
    select distinct customer_id, date_trunc('week', occurred_at)::date as week
    from flagged
    where is_return
),

firsts as (
    select
        customer_id,
        any_value(persona) as persona,
        min(occurred_at) filter (where is_return) as first_return_at,
        min(occurred_at) filter (where is_conversion) as first_purchase_at
    from flagged
    group by customer_id
),

cohorts as (
    select
        customer_id,
        persona,
        date_trunc(
            'week', case when $retention_cohort = 'first_purchase' then first_purchase_at else first_return_at end
        )::date as cohort
    from firsts
),

members as (
    select customer_id, persona, cohort from cohorts where cohort is not null
    union all
    select customer_id, 'all' as persona, cohort from cohorts where cohort is not null
),

sizes as (
    select cohort, persona, count(*) as n_customers
    from members
    group by cohort, persona
),

periods as (
    select unnest(range(0, $retention_periods::integer + 1)) as period
),

grid as (
    select s.cohort, s.persona, p.period, s.n_customers
    from sizes as s
    cross join periods as p
    cross join newest as n
    where s.cohort + to_days(7 * p.period::integer) <= n.newest_week
),

retained as (
    select
        m.cohort,
        m.persona,
        (datediff('day', m.cohort, r.week) // 7)::bigint as period,
        count(*) as n_retained
    from members as m
    inner join returns as r
        on m.customer_id = r.customer_id
        and r.week > m.cohort
    group by m.cohort, m.persona, (datediff('day', m.cohort, r.week) // 7)::bigint
),

final as (
    select
        -- keys
        g.cohort,
        g.persona,
        g.period,
        -- counts
        g.n_customers,
        case when g.period = 0 then g.n_customers else coalesce(r.n_retained, 0) end as n_retained,
        case when g.period = 0 then 1.0 else coalesce(r.n_retained, 0) / g.n_customers end as rate,
        -- the week has ended by the newest event
        g.cohort + to_days(7 * (g.period::integer + 1)) <= n.newest_at as period_complete
    from grid as g
    cross join newest as n
    left join retained as r
        on g.cohort = r.cohort
        and g.persona = r.persona
        and g.period = r.period
)

select * from final
