-- grain: one row per accepted, de-duplicated event (event_id = '<source>:<id>')
-- depends on: intermediate.records
-- Accepted event records of every source; the first landed copy of an event_id wins
-- (earliest partition, then file name, then line).
-- not materialized: referenced three times, and a materialized copy of every wide record
-- cost more than the dedupe itself (27 s of 80 s at 10M)
with records as not materialized (
    select * from intermediate.records
    where kind = 'events' and reason is null
),

-- most events land once: only the few ids landed more than once go through the window
landed_more_than_once as (
    select event_id from records
    group by event_id
    having count(*) > 1
),

first_landed as (
    select * from records
    anti join landed_more_than_once using (event_id)
    union all
    select * from records
    semi join landed_more_than_once using (event_id)
    qualify row_number() over (
        partition by event_id order by _partition, _source_file, _line
    ) = 1
),

final as (
    select
        -- keys
        event_id,
        source,
        record_id as source_event_id,
        -- what happened, when (UTC)
        event_name,
        occurred_at,
        -- who
        identifiers,
        -- context
        url,
        regexp_extract(url, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*([^?#]*)', 1) as url_path,
        referrer,
        utm_source,
        utm_medium,
        utm_campaign,
        device,
        channel,
        -- measures
        amount,
        csat,
        satisfaction,
        text,
        properties,
        -- lineage
        _partition,
        _source_file,
        _line,
        _loaded_at
    from first_landed
)

select * from final
