-- grain: one row per web or app session (visit)
-- depends on: marts.journey_events
-- Sessions with Snowplow and GA4 semantics, cut by the journey pass (intermediate.journey_timeline):
-- a new session after a gap longer than the session timeout or at another campaign, never at
-- midnight. A hash aggregate of the visit events by session_id (marts.journey_events, which
-- carries the session key the journey pass gave each visit event); no event is sorted or joined here.
with journey_events as (
    select
        customer_id, session_id, journey_number, step_index, occurred_at, touchpoint, url_path,
        utm_source, utm_medium, utm_campaign, is_conversion, revenue
    from marts.journey_events
    where session_id is not null
),

visit_events as (
    select
        session_id,
        customer_id,
        -- session_id is '<customer_id>-s<number>' (marts.journey_events)
        substr(session_id, length(customer_id) + 3)::integer as session_number,
        touchpoint,
        -- (journey_number, step_index) numbers the customer's events in timeline order
        journey_number::bigint * 4294967296 + step_index as event_order,
        occurred_at,
        url_path,
        utm_source,
        utm_medium,
        utm_campaign,
        is_conversion,
        revenue
    from journey_events
),

aggregated as (
    select
        session_id,
        any_value(customer_id) as customer_id,
        any_value(session_number) as session_number,
        -- how the visit began: the touchpoint of its first event
        arg_min(touchpoint, event_order) as landing_touchpoint,
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
        -- how the visit began; a visit begun at a direct touchpoint is named by the owned touchpoint
        -- it happens on (as intermediate.journey_timeline.visit_touchpoint)
        case
            when list_contains($direct_touchpoints::varchar[], landing_touchpoint) then $direct_visit_touchpoint::varchar
            else landing_touchpoint
        end as entry_touchpoint,
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
