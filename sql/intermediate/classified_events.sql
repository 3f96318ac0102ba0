-- grain: one row per event of staging.events
-- depends on: staging.events, intermediate.identifier_sets, intermediate.text_sentiment
-- Every event's key with what classification adds to it: its customer, the first classification
-- rule it matches (touchpoint, phase, conversion) and its sentiment, plus the ordering keys of
-- its customer's timeline and what the journey pass cuts visits by (the source and the
-- campaign). The rest of the event stays in staging.events (marts.journey_events joins it once). Rules arrive as bound lists (data, never SQL text) and are evaluated once per
-- distinct combination of the columns they look at, then joined back.
with events as not materialized (
    select
        event_id, source, event_name, occurred_at, identifiers, url, url_path, referrer, utm_source,
        utm_medium, utm_campaign, device, channel, amount, csat, satisfaction, text, properties
    from staging.events
),

identifier_sets as (
    select identifier_set, customer_id from intermediate.identifier_sets
),

text_sentiment as (
    select text, sentiment from intermediate.text_sentiment
),

rules as (
    select
        unnest($rule_index::integer[]) as rule_index,
        unnest($rule_id::varchar[]) as rule_id,
        unnest($rule_touchpoint::varchar[]) as touchpoint,
        unnest($rule_phase::varchar[]) as phase,
        unnest($rule_conversion::boolean[]) as is_conversion,
        unnest($rule_channel_group::varchar[]) as channel_group,
        unnest($rule_stage::varchar[]) as stage,
        unnest($rule_phase_order::integer[]) as phase_order
),

conditions as (
    select
        unnest($cond_rule::integer[]) as rule_index,
        unnest($cond_group::integer[]) as group_no,
        unnest($cond_field::varchar[]) as field,
        unnest($cond_kind::varchar[]) as kind,
        unnest($cond_pattern::varchar[]) as pattern,
        unnest($cond_prop::integer[]) as prop_index
),

-- what the rules can see of each event; columns no rule needs are left out
features as (
    select
        *,
        regexp_extract(lower(url), '^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/?#:]*)', 1) as _url_host,
        regexp_extract(lower(referrer), '^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/?#:]*)', 1) as _referrer_host,
        case $mode_url when 'full' then url when 'presence' then if(nullif(url, '') is null, null, '?') end as m_url,
        case $mode_url_path when 'full' then url_path when 'presence' then if(nullif(url_path, '') is null, null, '?') end as m_url_path,
        case $mode_referrer when 'full' then referrer when 'presence' then if(nullif(referrer, '') is null, null, '?') end as m_referrer,
        case $mode_referrer_host when 'full' then nullif(_referrer_host, '') when 'presence' then if(nullif(_referrer_host, '') is null, null, '?') end as m_referrer_host,
        case $mode_utm_source when 'full' then utm_source when 'presence' then if(nullif(utm_source, '') is null, null, '?') end as m_utm_source,
        case $mode_utm_medium when 'full' then utm_medium when 'presence' then if(nullif(utm_medium, '') is null, null, '?') end as m_utm_medium,
        case $mode_utm_campaign when 'full' then utm_campaign when 'presence' then if(nullif(utm_campaign, '') is null, null, '?') end as m_utm_campaign,
        case $mode_device when 'full' then device when 'presence' then if(nullif(device, '') is null, null, '?') end as m_device,
        case $mode_channel when 'full' then channel when 'presence' then if(nullif(channel, '') is null, null, '?') end as m_channel,
        json_extract_string(properties, $prop_paths::varchar[]) as m_properties
    from events
),

featured as (
    select
        * exclude (_url_host, _referrer_host),
        case
            when $use_external
                then coalesce(_referrer_host <> '' and _referrer_host is distinct from nullif(_url_host, ''), false)
        end as m_external_referrer
    from features
),

combinations as materialized (
    select
        row_number() over (
            order by source, event_name, m_url, m_url_path, m_referrer, m_referrer_host, m_utm_source,
                m_utm_medium, m_utm_campaign, m_device, m_channel, m_external_referrer, m_properties
        ) as combination_id,
        *
    from (
        select distinct
            source, event_name, m_url, m_url_path, m_referrer, m_referrer_host, m_utm_source, m_utm_medium,
            m_utm_campaign, m_device, m_channel, m_external_referrer, m_properties
        from featured
    )
),

-- each condition is tested once per distinct value of the field it reads
combination_values as (
    -- a union, not DuckDB's UNPIVOT statement (portable); nulls are kept
    select combination_id, 'source' as field, 0 as prop_index, source as value from combinations
    union all
    select combination_id, 'event_name' as field, 0 as prop_index, event_name as value from combinations
    union all
    select combination_id, 'url' as field, 0 as prop_index, m_url as value from combinations
    union all
    select combination_id, 'url_path' as field, 0 as prop_index, m_url_path as value from combinations
    union all
    select combination_id, 'referrer' as field, 0 as prop_index, m_referrer as value from combinations
    union all
    select combination_id, 'referrer_host' as field, 0 as prop_index, m_referrer_host as value from combinations
    union all
    select combination_id, 'utm_source' as field, 0 as prop_index, m_utm_source as value from combinations
    union all
    select combination_id, 'utm_medium' as field, 0 as prop_index, m_utm_medium as value from combinations
    union all
    select combination_id, 'utm_campaign' as field, 0 as prop_index, m_utm_campaign as value from combinations
    union all
    select combination_id, 'device' as field, 0 as prop_index, m_device as value from combinations
    union all
    select combination_id, 'channel' as field, 0 as prop_index, m_channel as value from combinations
    union all
    select combination_id, 'external_referrer' as field, 0 as prop_index, m_external_referrer::varchar as value from combinations
    union all
    select combination_id, 'always' as field, 0 as prop_index, null::varchar as value from combinations
    union all
    select
        combination_id,
        'property' as field,
        unnest(range(1, len(m_properties) + 1)) as prop_index,
        unnest(m_properties) as value
    from combinations
),

distinct_values as (
    select distinct field, prop_index, value
    from combination_values
),

satisfied_groups as (
    select distinct
        d.field,
        d.prop_index,
        d.value,
        k.rule_index,
        k.group_no
    from distinct_values as d
    inner join conditions as k
        on d.field = k.field
        and d.prop_index = k.prop_index
    where condition_holds(k.kind, k.pattern, d.value)  -- sql/macros/match.sql
),

rule_groups as (
    select
        rule_index,
        count(distinct group_no) as n_groups
    from conditions
    group by rule_index
),

group_hits as (
    select distinct
        v.combination_id,
        s.rule_index,
        s.group_no
    from combination_values as v
    inner join satisfied_groups as s
        on v.field = s.field
        and v.prop_index = s.prop_index
        and v.value is not distinct from s.value
),

rule_matches as (
    select
        h.combination_id,
        h.rule_index
    from group_hits as h
    inner join rule_groups as g on h.rule_index = g.rule_index
    group by h.combination_id, h.rule_index, g.n_groups
    having count(*) = g.n_groups
),

first_match as (
    select
        combination_id,
        min(rule_index) as rule_index
    from rule_matches
    group by combination_id
),

classified_combinations as (
    select
        c.*,
        r.rule_id,
        r.touchpoint,
        r.channel_group,
        r.stage,
        r.phase,
        r.phase_order,
        r.is_conversion
    from combinations as c
    left join first_match as m on c.combination_id = m.combination_id
    left join rules as r on m.rule_index = r.rule_index
),

classified as (
    select
        f.*,
        cc.rule_id,
        cc.touchpoint,
        cc.channel_group,
        cc.stage,
        cc.phase,
        cc.phase_order,
        cc.is_conversion
    from featured as f
    inner join classified_combinations as cc
        on f.source is not distinct from cc.source
        and f.event_name is not distinct from cc.event_name
        and f.m_url is not distinct from cc.m_url
        and f.m_url_path is not distinct from cc.m_url_path
        and f.m_referrer is not distinct from cc.m_referrer
        and f.m_referrer_host is not distinct from cc.m_referrer_host
        and f.m_utm_source is not distinct from cc.m_utm_source
        and f.m_utm_medium is not distinct from cc.m_utm_medium
        and f.m_utm_campaign is not distinct from cc.m_utm_campaign
        and f.m_device is not distinct from cc.m_device
        and f.m_channel is not distinct from cc.m_channel
        and f.m_external_referrer is not distinct from cc.m_external_referrer
        and f.m_properties is not distinct from cc.m_properties
),

final as (
    select
        -- keys
        e.event_id,
        s.customer_id,
        -- the order of the customer's timeline: time, then the source's rank
        e.occurred_at,
        list_position($source_names::varchar[], e.source)::integer as source_rank,
        -- what the journey pass cuts web and app visits by (intermediate.journey_timeline)
        e.source,
        e.utm_source,
        e.utm_medium,
        e.utm_campaign,
        -- classification
        coalesce(e.touchpoint, 'unclassified') as touchpoint,
        e.channel_group,
        e.stage,
        coalesce(e.phase, 'unclassified') as phase,
        e.phase_order,
        e.rule_id,
        coalesce(e.is_conversion, false) as is_conversion,
        -- measures
        case when e.is_conversion then e.amount end as revenue,
        case
            when e.csat between 1 and 5 then (e.csat - 3) / 2
            when lower(e.satisfaction) = 'good' then 1.0
            when lower(e.satisfaction) = 'bad' then -1.0
            -- most events have no scored text: their JSON properties are never parsed
            when ts.sentiment is null then null
            -- text an agent wrote is not the customer's voice
            when coalesce(json_extract_string(e.properties, '$.author'), '') in ('agent', 'staff', 'bot') then null
            else ts.sentiment
        end as sentiment,
        case
            when e.csat between 1 and 5 then 'csat'
            when lower(e.satisfaction) in ('good', 'bad') then 'satisfaction'
            when ts.sentiment is null then null
            when coalesce(json_extract_string(e.properties, '$.author'), '') in ('agent', 'staff', 'bot') then null
            else 'text'
        end as sentiment_source
    from classified as e
    left join identifier_sets as s on e.identifiers::varchar = s.identifier_set
    left join text_sentiment as ts on e.text = ts.text
)

select * from final
