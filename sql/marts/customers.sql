-- grain: one row per customer (every customer of intermediate.customer_profiles)
-- depends on: marts.journeys, intermediate.customer_profiles
-- Each customer's persona, profile attributes, first and last event, journeys, conversions
-- and revenue. Customers known only from a profile have no events: zero counts, null times.
with customer_profiles as (
    select customer_id, persona, company, industry, company_size, segment, lifecycle_stage
    from intermediate.customer_profiles
),

journeys as (
    select customer_id, persona, started_at, ended_at, n_events, converted, converted_at, revenue,
        first_touchpoint
    from marts.journeys
),

per_customer as (
    select
        customer_id,
        any_value(persona) as persona,
        min(started_at) as first_seen_at,
        max(ended_at) as last_seen_at,
        min(converted_at) as first_converted_at,
        arg_min(first_touchpoint, started_at) as first_touchpoint,
        sum(n_events) as n_events,
        count(*) as n_journeys,
        count(*) filter (where converted) as n_conversions,
        sum(revenue) as revenue
    from journeys
    group by customer_id
),

final as (
    select
        -- keys
        coalesce(customer_profiles.customer_id, per_customer.customer_id) as customer_id,
        -- who
        coalesce(customer_profiles.persona, per_customer.persona, 'unknown') as persona,
        customer_profiles.company,
        customer_profiles.industry,
        customer_profiles.company_size,
        customer_profiles.segment,
        customer_profiles.lifecycle_stage,
        -- when
        per_customer.first_seen_at,
        per_customer.last_seen_at,
        per_customer.first_converted_at,
        per_customer.first_touchpoint,
        -- counts and money
        coalesce(per_customer.n_events, 0)::bigint as n_events,
        coalesce(per_customer.n_journeys, 0)::bigint as n_journeys,
        coalesce(per_customer.n_conversions, 0)::bigint as n_conversions,
        coalesce(per_customer.revenue, 0)::double as revenue
    from customer_profiles
    full outer join per_customer on customer_profiles.customer_id = per_customer.customer_id
)

select * from final
