-- Blank the landed lines of one batch (temp table landing_rows) that carry an erased person
-- (journeys forget), before they are parsed: no payload, and the load error $reason, so each
-- stays counted (read = accepted + rejected + duplicates) and reaches quarantine.rejected as a
-- rejected record without payload. The last statement returns how many lines were blanked,
-- and how many of them by the erasure $erasure_id alone.
-- A line is erased when one of its configured identifier fields, or any email or phone number
-- written anywhere in it, gives a suppression key in intermediate.erased_identifiers. Values
-- take the path of sql/ingest/parse.sql (normalize_identifier, keyed_hash), then a second
-- keyed hash: the list holds neither the person's values nor their identifier hashes.
create or replace temp table erased_lines as
with landed as (
    select
        _source_file,
        _line,
        payload
    from landing_rows
    where payload is not null
),

erased as (
    select erased_key, erasure_id from intermediate.erased_identifiers
),

field_values as (
    select
        _source_file,
        _line,
        list_transform(
            list_zip(
                case when json_valid(payload) then json_extract_string(payload, $identifier_paths) end,
                $pii_kinds
            ),
            lambda x: {'k': pii_kind(x[1], x[2]), 'raw': x[1]}
        ) as fields,
        regexp_extract_all(payload, pii_email_re()) as emails,
        regexp_extract_all(payload, pii_phone_in_text_re()) as phones
    from landed
),

stored_values as (
    -- as sql/ingest/parse.sql stores them: emails and phones keyed-hashed, other ids as they are
    select
        _source_file,
        _line,
        list_concat(
            list_transform(
                fields,
                lambda x: case
                    when x.k = 'none' then normalize_identifier(x.raw, x.k, $phone_cc)
                    else keyed_hash(normalize_identifier(x.raw, x.k, $phone_cc), $ipad, $opad)
                end
            ),
            list_transform(emails, lambda e: keyed_hash(normalize_email(e), $ipad, $opad)),
            list_transform(phones, lambda p: keyed_hash(normalize_phone(p, $phone_cc), $ipad, $opad))
        ) as stored
    from field_values
),

candidate_keys as (
    select
        _source_file,
        _line,
        keyed_hash(unnest(list_filter(stored, lambda x: x is not null)), $erase_ipad, $erase_opad) as erased_key
    from stored_values
),

final as (
    -- is_new: every key the line carries was erased by the erasure $erasure_id (a forget
    -- counting what it erases; null when the loader asks)
    select
        c._source_file,
        c._line,
        bool_and(e.erasure_id = $erasure_id) as is_new
    from candidate_keys as c
    join erased as e on c.erased_key = e.erased_key
    group by all
)

select * from final;

update landing_rows set payload = null, _load_error = $reason
where (_source_file, _line) in (select (_source_file, _line) from erased_lines);

select count(*) as n_erased, count(*) filter (where is_new) as n_new from erased_lines;
