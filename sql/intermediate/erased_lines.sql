-- grain: one row per landed line that carries an erased person (journeys forget)
-- depends on: raw.__source__ (the runner substitutes the loader's landing_rows or raw.<source>),
--             intermediate.erased_identifiers
-- not materialized: the loader blanks these lines before they reach raw.<source>, and
-- `journeys forget` blanks them in raw.<source>; both through this one query.
-- A line is erased when one of its configured identifier fields, or any email or phone number
-- written anywhere in it, gives a suppression key in intermediate.erased_identifiers. Values
-- take the path of intermediate.records (normalize_identifier, keyed_hash), then a second
-- keyed hash: the list holds neither the person's values nor their identifier hashes.
with landed as (
    select
        _source_file,
        _line,
        payload
    from raw.__source__
    where payload is not null
        and _partition in (select unnest($days::date[]))
),

erased as (
    select erased_key from intermediate.erased_identifiers
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
    -- as intermediate.records stores them: emails and phones keyed-hashed, other ids as they are
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
    select distinct
        c._source_file,
        c._line
    from candidate_keys as c
    semi join erased as e on c.erased_key = e.erased_key
)

select * from final
