-- No customer without events: every customer of intermediate.customer_profiles has events, and every customer of intermediate.classified_events is in identity.customer_ids and has one profile row.
-- nightly: by_customer (in an incremental run, each table it reads is kept to the run's customers)
-- offending rows: one per customer and problem
with event_customers as (
    select distinct customer_id from intermediate.classified_events
),

identity_customers as (
    select distinct customer_id from identity.customer_ids
),

profiles_without_events as (
    select
        p.customer_id,
        'profile without events' as problem
    from intermediate.customer_profiles as p
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
    anti join intermediate.customer_profiles as p using (customer_id)
),

repeated as (
    select
        customer_id,
        'several profile rows' as problem
    from intermediate.customer_profiles
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
