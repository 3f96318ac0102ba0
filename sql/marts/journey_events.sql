-- grain: one row per event of staging.events
-- depends on: staging.events, intermediate.classified_events, intermediate.journey_timeline,
--             intermediate.customer_profiles
-- The one wide event table: each event of staging.events, read once, with what classification
-- added (intermediate.classified_events), its journey, step and session
-- (intermediate.journey_timeline, where journeys and sessions are cut) and its customer's
-- persona. All joins are by key.
with events as (
    select
        event_id, source, event_name, amount, csat, satisfaction, device, channel, url, url_path, referrer,
        utm_source, utm_medium, utm_campaign, text, properties, _partition
    from staging.events
),

classified_events as (
    select
        event_id, customer_id, occurred_at, source_rank, touchpoint, channel_group, stage, phase, phase_order,
        rule_id, is_conversion, revenue, sentiment, sentiment_source
    from intermediate.classified_events
),

journey_timeline as (
    select event_id, journey_id, journey_number, step_index, session_number from intermediate.journey_timeline
),

customer_profiles as (
    select customer_id, persona from intermediate.customer_profiles
),

final as (
    select
        -- keys
        c.event_id,
        c.customer_id,
        -- when, where from
        c.occurred_at,
        e.source,
        c.source_rank,
        e.event_name,
        -- classification
        c.touchpoint,
        c.channel_group,
        c.stage,
        c.phase,
        c.phase_order,
        c.rule_id,
        c.is_conversion,
        -- measures
        c.revenue,
        c.sentiment,
        c.sentiment_source,
        e.csat,
        e.satisfaction,
        e.amount,
        -- context
        e.device,
        e.channel,
        e.url,
        e.url_path,
        e.referrer,
        e.utm_source,
        e.utm_medium,
        e.utm_campaign,
        e.text,
        e.properties,
        -- lineage
        e._partition,
        -- who
        coalesce(p.persona, 'unknown') as persona,
        -- journey (null for an event without a customer)
        t.journey_id,
        t.journey_number,
        t.step_index,
        -- web or app session (null for an event of another source): '<customer_id>-s<number>',
        -- the number zero-padded to four digits
        c.customer_id || '-s' || case
            when t.session_number < 10000 then lpad(t.session_number::varchar, 4, '0')
            else t.session_number::varchar
        end as session_id
    from events as e
    inner join classified_events as c on e.event_id = c.event_id
    -- by the classified event's key: the two narrow inputs can meet before the wide one
    left join journey_timeline as t on c.event_id = t.event_id
    left join customer_profiles as p on c.customer_id = p.customer_id
)

select * from final
