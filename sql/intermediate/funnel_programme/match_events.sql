-- The funnel programme, step 1 for every funnel at once: which events match which step or
-- exclusion. Steps and exclusions arrive as condition rows (data, never SQL text: see
-- transforms/classify.py, match_conditions, the one compiler of EventMatch), evaluated as the
-- classification rules are: once per distinct combination of the fields any condition reads,
-- then joined back to the events.
-- A target is (funnel, bit): bits 0..15 the steps, 16.. the exclusions; it holds when every
-- group of its conditions holds, a group when any of its rows holds.
create or replace temp table funnel_conditions as
select
    unnest($target_funnel::varchar[]) as funnel,
    unnest($target_bit::integer[]) as bit,
    unnest($target_group::integer[]) as group_no,
    unnest($target_field::varchar[]) as field,
    unnest($target_kind::varchar[]) as kind,
    unnest($target_pattern::varchar[]) as pattern,
    unnest($target_prop::integer[]) as prop_index;

create or replace temp table funnel_units as
select
    unnest($funnel_names::varchar[]) as funnel,
    unnest($funnel_units::varchar[]) as unit;

create or replace temp table funnel_event_masks as
with events as (
    select * from funnel_journey_events
),

-- what the conditions can see of each event; fields no condition reads are left out
hosts as (
    select
        *,
        case when list_contains($target_field::varchar[], 'referrer_host') or $target_use_external then
            regexp_extract(lower(referrer), '^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/?#:]*)', 1)
        end as _referrer_host,
        case when $target_use_external then
            regexp_extract(lower(url), '^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?([^/?#:]*)', 1)
        end as _url_host
    from events
),

features as (
    select
        event_id,
        customer_id,
        journey_id,
        epoch_us(occurred_at) as t_us,
        source_rank,
        if(list_contains($target_field::varchar[], 'phase'), phase, null) as f_phase,
        if(list_contains($target_field::varchar[], 'touchpoint'), touchpoint, null) as f_touchpoint,
        if(list_contains($target_field::varchar[], 'source'), source, null) as f_source,
        if(list_contains($target_field::varchar[], 'event_name'), event_name, null) as f_event_name,
        if(list_contains($target_field::varchar[], 'url'), url, null) as f_url,
        if(list_contains($target_field::varchar[], 'url_path'), url_path, null) as f_url_path,
        if(list_contains($target_field::varchar[], 'referrer'), referrer, null) as f_referrer,
        nullif(_referrer_host, '') as f_referrer_host,
        if(list_contains($target_field::varchar[], 'utm_source'), utm_source, null) as f_utm_source,
        if(list_contains($target_field::varchar[], 'utm_medium'), utm_medium, null) as f_utm_medium,
        if(list_contains($target_field::varchar[], 'utm_campaign'), utm_campaign, null) as f_utm_campaign,
        if(list_contains($target_field::varchar[], 'device'), device, null) as f_device,
        if(list_contains($target_field::varchar[], 'channel'), channel, null) as f_channel,
        case
            when $target_use_external
                then coalesce(_referrer_host <> '' and _referrer_host is distinct from nullif(_url_host, ''), false)
        end as f_external_referrer,
        case
            when len($target_prop_paths::varchar[]) > 0
                then json_extract_string(properties, $target_prop_paths::varchar[])
        end as f_properties
    from hosts
),

combinations as (
    select
        -- numbered in an order both engines give (Spark has no row_number() over ())
        row_number() over (
            order by
                f_phase, f_touchpoint, f_source, f_event_name, f_url, f_url_path, f_referrer, f_referrer_host,
                f_utm_source, f_utm_medium, f_utm_campaign, f_device, f_channel, f_external_referrer, f_properties
        ) as combination_id,
        *
    from (
        select distinct
            f_phase, f_touchpoint, f_source, f_event_name, f_url, f_url_path, f_referrer, f_referrer_host,
            f_utm_source, f_utm_medium, f_utm_campaign, f_device, f_channel, f_external_referrer, f_properties
        from features
    )
),

-- each condition is tested once per distinct value of the field it reads
combination_values as (
    select combination_id, field, 0 as prop_index, value
    from (
        select
            combination_id,
            f_phase as phase,
            f_touchpoint as touchpoint,
            f_source as source,
            f_event_name as event_name,
            f_url as url,
            f_url_path as url_path,
            f_referrer as referrer,
            f_referrer_host as referrer_host,
            f_utm_source as utm_source,
            f_utm_medium as utm_medium,
            f_utm_campaign as utm_campaign,
            f_device as device,
            f_channel as channel,
            f_external_referrer::varchar as external_referrer,
            null::varchar as always
        from combinations
    ) unpivot include nulls (
        value for field in (
            phase, touchpoint, source, event_name, url, url_path, referrer, referrer_host, utm_source,
            utm_medium, utm_campaign, device, channel, external_referrer, always
        )
    )
    union all
    select
        combination_id,
        'property' as field,
        unnest(range(1, len(f_properties) + 1)) as prop_index,
        unnest(f_properties) as value
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
        k.funnel,
        k.bit,
        k.group_no
    from distinct_values as d
    inner join funnel_conditions as k
        on d.field = k.field
        and d.prop_index = k.prop_index
    where condition_holds(k.kind, k.pattern, d.value)  -- sql/macros/match.sql
),

target_groups as (
    select
        funnel,
        bit,
        count(distinct group_no) as n_groups
    from funnel_conditions
    group by funnel, bit
),

group_hits as (
    select distinct
        v.combination_id,
        s.funnel,
        s.bit,
        s.group_no
    from combination_values as v
    inner join satisfied_groups as s
        on v.field = s.field
        and v.prop_index = s.prop_index
        and v.value is not distinct from s.value
),

target_hits as (
    select
        h.combination_id,
        h.funnel,
        h.bit
    from group_hits as h
    inner join target_groups as g on h.funnel = g.funnel and h.bit = g.bit
    group by h.combination_id, h.funnel, h.bit, g.n_groups
    having count(*) = g.n_groups
),

-- the bits of one funnel's targets are distinct, so their sum is their union
combination_masks as (
    select
        combination_id,
        funnel,
        sum(1::bigint << bit)::bigint as mask
    from target_hits
    group by combination_id, funnel
),

event_masks as (
    select
        f.event_id,
        f.customer_id,
        f.journey_id,
        f.t_us,
        f.source_rank,
        m.funnel,
        m.mask
    from features as f
    inner join combinations as c
        on f.f_phase is not distinct from c.f_phase
        and f.f_touchpoint is not distinct from c.f_touchpoint
        and f.f_source is not distinct from c.f_source
        and f.f_event_name is not distinct from c.f_event_name
        and f.f_url is not distinct from c.f_url
        and f.f_url_path is not distinct from c.f_url_path
        and f.f_referrer is not distinct from c.f_referrer
        and f.f_referrer_host is not distinct from c.f_referrer_host
        and f.f_utm_source is not distinct from c.f_utm_source
        and f.f_utm_medium is not distinct from c.f_utm_medium
        and f.f_utm_campaign is not distinct from c.f_utm_campaign
        and f.f_device is not distinct from c.f_device
        and f.f_channel is not distinct from c.f_channel
        and f.f_external_referrer is not distinct from c.f_external_referrer
        and f.f_properties is not distinct from c.f_properties
    inner join combination_masks as m on c.combination_id = m.combination_id
)

select
    e.funnel,
    case when u.unit = 'customer' then e.customer_id else e.journey_id end as unit_id,
    e.customer_id,
    e.journey_id,
    e.event_id,
    e.t_us,
    e.source_rank,
    e.mask
from event_masks as e
inner join funnel_units as u on e.funnel = u.funnel
where (case when u.unit = 'customer' then e.customer_id else e.journey_id end) is not null;
