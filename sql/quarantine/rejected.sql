-- grain: one row per rejected landed record
-- depends on: intermediate.records
-- Every record that could not be accepted, where it came from, why, and the start of its text
-- (emails and phone numbers masked) with its length and a keyed hash of the whole; the
-- untouched original stays in raw.<source>.
with rejected as (
    select * from intermediate.records
    where reason is not null
),

final as (
    select
        source,
        _partition,
        _source_file,
        _line,
        reason,
        payload,
        payload_bytes,
        payload_hash,
        _loaded_at
    from rejected
)

select * from final
