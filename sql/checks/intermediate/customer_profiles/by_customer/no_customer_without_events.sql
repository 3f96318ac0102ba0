-- No customer of the run without events: every customer of the run in intermediate.customer_profiles has events, and every customer of the run in intermediate.classified_events is in identity.customer_ids and has one profile row.
-- The nightly form of ../no_customer_without_events.sql (transforms/checks.py runs it in an
-- incremental run, unless full checks are asked for): the run's customers
-- (intermediate.dirty_customers) only.
-- offending rows: one per customer and problem
with dirty as (
    select customer_id from intermediate.dirty_customers
),

event_customers as (
    select distinct customer_id
    from intermediate.classified_events
    semi join dirty using (customer_id)
),

identity_customers as (
    select distinct customer_id
    from identity.customer_ids
    semi join dirty using (customer_id)
),

profiles as (
    select customer_id
    from intermediate.customer_profiles
    semi join dirty using (customer_id)
),

profiles_without_events as (
    select
        p.customer_id,
        'profile without events' as problem
    from profiles as p
    anti join event_customers as e using (customer_id)
),

not_in_identity as (
    select
        e.customer_id,
        'events of a customer not in identity.customer_ids' as problem
    from event_customers as e
    anti join identity_customers as c using (customer_id)
),

without_profile as (
    select
        e.customer_id,
        'events of a customer without a profile row' as problem
    from event_customers as e
    anti join profiles as p using (customer_id)
),

repeated as (
    select
        customer_id,
        'several profile rows' as problem
    from profiles
    group by customer_id
    having count(*) > 1
)

select * from profiles_without_events
union all
select * from not_in_identity
union all
select * from without_profile
union all
select * from repeated
order by problem, customer_id
