-- grain: one row per cohort week, persona ('all' included) and week since the cohort week
-- depends on: intermediate.return_weeks, intermediate.customer_firsts
-- Weekly retention: customers grouped by the week of their first return event (first_seen) or of
-- their first conversion (first_purchase, settings.retention.cohort), and for each week since,
-- how many did the return event in that week. The return event is a front-stage event matching
-- settings.retention (phase, touchpoint, event name; unset = any). Weeks start on Monday (UTC).
-- Week 0 counts the whole cohort; only weeks that have begun by the newest event are listed.
with newest as (
    select max(last_event_at) as newest_at, date_trunc('week', max(last_event_at))::date as newest_week
    from intermediate.customer_firsts
),

returns as (
    select distinct customer_id, week
    from intermediate.return_weeks
),

firsts as (
    select customer_id, persona, first_return_at, first_purchase_at
    from intermediate.customer_firsts
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
