-- grain: one row per week, persona ('all' included) and lifecycle status
-- depends on: intermediate.return_weeks, intermediate.customer_firsts
-- PostHog's lifecycle, by week (Monday, UTC): an active customer (a return event that week, as in
-- marts.retention) is new (first active week), returning (active the week before too) or
-- resurrecting (active before, not the week before); a customer active the week before and not
-- this week is dormant. Every week from the first to the newest event's, every status, zeros kept.
with active as (
    select customer_id, persona, week
    from intermediate.return_weeks
),

bounds as (
    select
        min(week) as first_week,
        (select date_trunc('week', max(last_event_at))::date from intermediate.customer_firsts) as newest_week
    from active
),

sequenced as (
    select
        customer_id,
        persona,
        week,
        lag(week) over by_week as previous_week,
        lead(week) over by_week as next_week
    from active
    window by_week as (partition by customer_id order by week)
),

statuses as (
    select
        persona,
        week,
        case
            when previous_week is null then 'new'
            when previous_week = week - to_days(7) then 'returning'
            else 'resurrecting'
        end as status
    from sequenced
    union all
    -- the week after an active week that is not followed by another active week
    select
        s.persona,
        s.week + to_days(7) as week,
        'dormant' as status
    from sequenced as s
    cross join bounds as b
    where
        (s.next_week is null or s.next_week <> s.week + to_days(7))
        and s.week + to_days(7) <= b.newest_week
),

counted as (
    select week, persona, status, count(*) as n_customers
    from statuses
    group by week, persona, status
    union all
    select week, 'all' as persona, status, count(*) as n_customers
    from statuses
    group by week, status
),

weeks as (
    select unnest(generate_series(b.first_week, b.newest_week, interval 7 day))::date as week
    from bounds as b
),

personas as (
    select distinct persona from active
    union all
    select 'all' as persona
),

status_names as (
    select unnest(['new', 'returning', 'resurrecting', 'dormant']) as status
),

final as (
    select
        -- keys
        w.week as period_start,
        p.persona,
        s.status,
        -- count
        coalesce(c.n_customers, 0) as n_customers
    from weeks as w
    cross join personas as p
    cross join status_names as s
    left join counted as c
        on w.week = c.week
        and p.persona = c.persona
        and s.status = c.status
)

select * from final
