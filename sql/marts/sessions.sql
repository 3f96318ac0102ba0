-- grain: one row per web or app session (visit)
-- depends on: intermediate.journey_timeline, marts.journey_events
-- Sessions with Snowplow and GA4 semantics, cut by the journey pass (intermediate.journey_timeline):
-- a new session after a gap longer than the session timeout or at another campaign, never at
-- midnight. A hash aggregate of the visit events by session_id (marts.journey_events); no
-- event is sorted here.
with journey_timeline as (
    select event_id, session_number, visit_touchpoint
    from intermediate.journey_timeline
    where session_number is not null
),

journey_events as (
    select
        event_id, customer_id, session_id, journey_number, step_index, occurred_at, url_path, utm_source,
        utm_medium, utm_campaign, is_conversion, revenue
    from marts.journey_events
    where session_id is not null
),

visit_events as (
    select
        e.session_id,
        e.customer_id,
        t.session_number,
        t.visit_touchpoint,
        -- (journey_number, step_index) numbers the customer's events in timeline order
        e.journey_number::bigint * 4294967296 + e.step_index as event_order,
        e.occurred_at,
        e.url_path,
        e.utm_source,
        e.utm_medium,
        e.utm_campaign,
        e.is_conversion,
        e.revenue
    from journey_timeline as t
    inner join journey_events as e on t.event_id = e.event_id
),

aggregated as (
    select
        session_id,
        any_value(customer_id) as customer_id,
        any_value(session_number) as session_number,
        any_value(visit_touchpoint) as entry_touchpoint,
        min(occurred_at) as started_at,
        max(occurred_at) as ended_at,
        arg_min(url_path, event_order) filter (where nullif(url_path, '') is not null) as landing_page,
        arg_min(utm_source, event_order) as utm_source,
        arg_min(utm_medium, event_order) as utm_medium,
        arg_min(utm_campaign, event_order) as utm_campaign,
        count(*) as n_events,
        coalesce(bool_or(is_conversion), false) as converted,
        sum(revenue) filter (where is_conversion) as revenue
    from visit_events
    group by session_id
),

final as (
    select
        -- keys
        session_id,
        customer_id,
        session_number::integer as session_number,
        -- timing
        started_at,
        ended_at,
        epoch(ended_at - started_at) as duration_seconds,
        -- how the visit began
        entry_touchpoint,
        landing_page,
        utm_source,
        utm_medium,
        utm_campaign,
        -- size and outcome
        n_events::integer as n_events,
        converted,
        revenue
    from aggregated
)

select * from final
