-- Parse one batch of landed lines (temp table landing_rows, filled by transforms.ingest from
-- the landing files) into temp table `parsed`: one row per landed record, with its canonical
-- fields when accepted or the reason it is rejected. Run once per batch; sql/ingest/stage.sql
-- then files the rows into staging.events, quarantine.rejected and the private duplicates and
-- profile versions. Every per-source variant is a bound parameter ($ts_kind picks the
-- timestamp parser). The personal-data macros are in sql/macros/pii.sql.
-- Parses every landed record into the canonical event fields, normalises every identifier and
-- keyed-hashes (HMAC-SHA256) the emails and phones among them, masks emails and phones in
-- names, URLs and free text, and gives each record that cannot be accepted a reason a person
-- understands.

-- the first of a field's configured paths that holds a value; the common case of one path
-- skips the list filter
create or replace temp macro first_nonempty(v, idx) as
    case
        when len(idx) = 0 then null
        when len(idx) = 1 then nullif(v[idx[1]], '')
        else list_filter(list_select(v, idx), lambda x: x <> '')[1]
    end;

create or replace temp macro first_filled(v, idx) as
    case
        when len(idx) = 0 then null
        when len(idx) = 1 then (case when trim(v[idx[1]]) <> '' then v[idx[1]] end)
        else list_filter(list_select(v, idx), lambda x: nullif(trim(x), '') is not null)[1]
    end;

-- doubles rounded to 12 significant digits, as every model's are (transforms.warehouse.deterministic)
create or replace temp macro round_12(x) as
    case when x is null or x = 0 or isnan(x) or isinf(x) then x
    else round(x, (11 - floor(log10(abs(x))))::integer) end;

create or replace temp table parsed as
with landed as (
    select
        _partition,
        _source_file,
        _line,
        _loaded_at,
        payload,
        _bytes,
        _load_error
    from landing_rows
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
        -- zipped, not looked up by path: two identifier types may read the same field. Each
        -- value gets its kind: a declared email or phone field, or an email or phone number
        -- found in any other identifier field (a Segment userId that is an email)
        list_transform(
            list_zip($idx_identifiers, $pii_kinds, $identifier_types),
            lambda x: {'t': x[3], 'k': pii_kind(v[x[1]], x[2]), 'raw': v[x[1]]}
        ) as identifier_raw,
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
        -- without an offset an ISO timestamp is read in the source's time zone; the session's
        -- zone is UTC, so for UTC sources one cast does both
        case $ts_kind
            when 'iso8601' then
                case
                    when $ts_tz = 'UTC' then timezone('UTC', try_cast(ts_text as timestamptz))
                    when regexp_matches(ts_text, '\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)$')
                        then timezone('UTC', try_cast(ts_text as timestamptz))
                    else timezone('UTC', timezone($ts_tz, try_cast(ts_text as timestamp)))
                end
            when 'epoch_seconds' then timezone('UTC', to_timestamp(try_cast(ts_text as double)))
            when 'epoch_millis' then timezone('UTC', to_timestamp(try_cast(ts_text as double) / 1000))
            else timezone('UTC', timezone($ts_tz, try_strptime(ts_text, $ts_format)))
        end as occurred_at,
        try_cast(amount_text as double) as amount,
        try_cast(csat_text as double) as csat,
        -- a record id that is an email or phone (a CRM keyed by email) is kept as its keyed hash
        case
            when pii_kind(record_id, 'none') = 'none' then record_id
            else keyed_hash(normalize_identifier(record_id, pii_kind(record_id, 'none'), $phone_cc), $ipad, $opad)
        end as stored_record_id,
        -- one normalisation for every identifier (sql/macros/pii.sql)
        list_transform(
            identifier_raw,
            lambda x: {'t': x.t, 'k': x.k, 'n': normalize_identifier(x.raw, x.k, $phone_cc)}
        ) as identifier_entries
    from first_values
),

keyed as (
    select
        *,
        list_filter(identifier_entries, lambda x: x.n is not null) as present_identifiers,
        -- an email or phone found in another field is filed under its kind, so it links with
        -- the same email or phone from any source; unless the record has another email (or
        -- phone) as well, then it keeps its field's type. Emails and phones: keyed hash only.
        list_transform(
            list_filter(identifier_entries, lambda x: x.n is not null),
            lambda x: {
                'k': case
                    when x.k <> 'none' and x.t <> x.k
                        and len(list_filter(identifier_entries,
                                            lambda y: y.n is not null and (y.t = x.k or y.k = x.k) and y.n <> x.n)) = 0
                        then x.k
                    else x.t
                end,
                'v': case when x.k = 'none' then x.n else keyed_hash(x.n, $ipad, $opad) end
            }
        ) as identifier_pairs
    from typed
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
    from keyed
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
        stored_record_id as record_id,
        $source || ':' || stored_record_id as event_id,
        -- what happened, when (names, URLs and free text: emails and phones masked)
        mask_pii(name_text) as event_name,
        occurred_at,
        -- identifiers: emails and phones only as keyed hashes; a value the record carries
        -- twice (userId and traits.email both the same email) is kept once
        -- (the usual record, one or two different pairs, skips the quadratic filter)
        case
            when len(identifier_pairs) < 2
                or (len(identifier_pairs) = 2 and identifier_pairs[1] <> identifier_pairs[2])
                then map_from_entries(identifier_pairs)
            else map_from_entries(list_filter(identifier_pairs, lambda e, i: list_position(identifier_pairs, e) = i))
        end as identifiers,
        -- context
        mask_pii(url) as url,
        mask_pii(referrer) as referrer,
        mask_pii(utm_source) as utm_source,
        mask_pii(utm_medium) as utm_medium,
        mask_pii(utm_campaign) as utm_campaign,
        mask_pii(device) as device,
        mask_pii(channel) as channel,
        -- measures
        round_12(amount) as amount,
        round_12(csat) as csat,
        mask_pii(satisfaction) as satisfaction,
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
                then map_from_entries(list_zip(
                    $attribute_names, list_transform(list_select(v, $idx_attributes), lambda a: mask_pii(a))
                ))
        end as attributes,
        -- the verdict: null = accepted. A rejected record keeps a masked prefix of its text,
        -- its length and a keyed hash of the whole (the original stays in its landing file)
        mask_pii(reason) as reason,
        case
            when reason is not null then left(mask_pii(left(payload, $payload_prefix_chars + 300)), $payload_prefix_chars)
        end as payload,
        case when reason is not null then _bytes end as payload_bytes,
        case when reason is not null then keyed_hash(payload, $payload_ipad, $payload_opad) end as payload_hash
    from judged
)

select * from final;
