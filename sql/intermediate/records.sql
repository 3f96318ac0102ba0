-- grain: one row per landed record of one source (raw.<source>), accepted or not
-- depends on: raw.<source> (the runner substitutes the validated source table for raw.__source__
--             and one fixed timestamp parser for __parse_timestamp__; everything else is bound)
-- Parses every landed record into the canonical event fields, hashes emails and phones
-- (HMAC-SHA256), and gives each record that cannot be accepted a reason a person understands.
with landed as (
    select
        _partition,
        _source_file,
        _line,
        _loaded_at,
        payload,
        _bytes,
        _load_error
    from raw.__source__
    where _partition in (select unnest($days::date[]))
),

extracted as (
    -- every configured path (properties included) in one call; v is null for a line that
    -- cannot be read as JSON (why is worked out in `judged`, for those lines only)
    select
        *,
        case
            when _load_error is null and _bytes <= $max_bytes and json_valid(payload)
                then json_extract_string(payload, $paths)
        end as v
    from landed
),

first_values as (
    select
        *,
        first_filled(v, $idx_id) as record_id,
        first_filled(v, $idx_ts) as ts_text,
        first_filled(v, $idx_name) as name_text,
        -- zipped, not looked up by path: two identifier types may read the same field
        list_transform(
            list_zip($idx_identifiers, $pii_kinds),
            lambda x: case
                when x[2] = 'email' then nullif(lower(trim(v[x[1]])), '')
                when x[2] = 'phone' then nullif(regexp_replace(v[x[1]], '[^0-9+]', '', 'g'), '')
                else nullif(trim(v[x[1]]), '')
            end
        ) as identifier_values,
        coalesce($const_url, first_nonempty(v, $idx_url)) as url,
        coalesce($const_referrer, first_nonempty(v, $idx_referrer)) as referrer,
        coalesce($const_utm_source, first_nonempty(v, $idx_utm_source)) as utm_source,
        coalesce($const_utm_medium, first_nonempty(v, $idx_utm_medium)) as utm_medium,
        coalesce($const_utm_campaign, first_nonempty(v, $idx_utm_campaign)) as utm_campaign,
        coalesce($const_device, first_nonempty(v, $idx_device)) as device,
        coalesce($const_channel, first_nonempty(v, $idx_channel)) as channel,
        coalesce($const_amount, first_nonempty(v, $idx_amount)) as amount_text,
        coalesce($const_csat, first_nonempty(v, $idx_csat)) as csat_text,
        coalesce($const_satisfaction, first_nonempty(v, $idx_satisfaction)) as satisfaction,
        coalesce($const_text, first_nonempty(v, $idx_text)) as text_raw
    from extracted
),

typed as (
    select
        *,
        __parse_timestamp__ as occurred_at,
        try_cast(amount_text as double) as amount,
        try_cast(csat_text as double) as csat,
        list_filter(identifier_values, lambda x: x is not null) as present_identifiers
    from first_values
),

judged as (
    select
        *,
        case
            when _load_error is not null then _load_error
            when _bytes > $max_bytes
                then 'the record is ' || _bytes || ' bytes, over the limit of ' || $max_bytes || ' bytes'
            when v is null and trim(payload) = '' then 'empty line'
            when v is null then 'the line is not valid JSON'
            when record_id is null and json_type(payload) <> 'OBJECT' then 'the line is JSON but not an object'
            when record_id is null then 'missing id (' || $id_label || ')'
            when ts_text is null then 'missing timestamp (' || $ts_label || ')'
            when occurred_at is null
                then 'timestamp ''' || left(ts_text, 60) || ''' cannot be read as ' || $ts_format_label
            when occurred_at < $min_ts
                then 'timestamp ' || strftime(occurred_at, '%Y-%m-%d %H:%M:%S') || ' is before ' || strftime($min_ts, '%Y-%m-%d')
            when occurred_at > $max_ts
                then 'timestamp ' || strftime(occurred_at, '%Y-%m-%d %H:%M:%S') || ' is in the future (more than ' || $max_future_label || ' after the run)'
            when $kind = 'events' and name_text is null then 'missing event name (' || $name_label || ')'
            when len(present_identifiers) = 0 then 'no identifier: ' || $identifier_label || ' are all empty'
            when amount_text is not null and amount is null
                then 'amount ''' || left(amount_text, 60) || ''' is not a number'
            when csat_text is not null and csat is null
                then 'csat ''' || left(csat_text, 60) || ''' is not a number'
            when csat is not null and (csat < 1 or csat > 5)
                then 'csat ' || csat_text || ' is outside the scale 1 to 5'
        end as reason
    from typed
),

final as (
    select
        -- keys and lineage
        $source as source,
        $kind as kind,
        _partition,
        _source_file,
        _line,
        _loaded_at,
        record_id,
        $source || ':' || record_id as event_id,
        -- what happened, when
        name_text as event_name,
        occurred_at,
        -- identifiers: emails and phones only as keyed hashes
        map_from_entries(list_filter(
            list_transform(
                list_zip($identifier_types, identifier_values, $pii_kinds),
                lambda x: {
                    'k': x[1],
                    'v': case
                        when x[2] is null then null
                        when x[3] = 'none' then x[2]
                        else sha256($opad::blob || unhex(sha256($ipad::blob || encode(x[2]))))
                    end
                }
            ),
            lambda e: e.v is not null
        )) as identifiers,
        -- context
        url,
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
        mask_pii(text_raw) as text,
        mask_pii(case
            when reason is not null then null
            when $props_mode = 'path' and left(v[$idx_props], 1) in ('{', '[') then v[$idx_props]
            when $props_mode = 'path' then json_extract(payload, $props_path)::varchar
            when $props_mode = 'object'
                then to_json(map_from_entries(list_zip($props_names, json_extract(payload, $props_paths))))::varchar
        end)::json as properties,
        case
            when reason is null and $kind = 'profiles'
                then map_from_entries(list_zip($attribute_names, list_select(v, $idx_attributes)))
        end as attributes,
        -- the verdict: null = accepted
        reason,
        case
            when reason is null then null
            else mask_pii(payload)
        end as payload
    from judged
)

select * from final
