-- grain: one row per customer profile (profile_id = '<source>:<id>'), its latest version
-- depends on: intermediate.profile_versions
-- Profile records (e.g. CRM contacts): identifiers and attributes used for personas.
with records as (
    select * from intermediate.profile_versions
),

latest as (
    select * from records
    qualify row_number() over (
        partition by event_id order by occurred_at desc, _partition desc, _source_file desc, _line desc
    ) = 1
),

final as (
    select
        event_id as profile_id,
        source,
        record_id as source_profile_id,
        occurred_at as updated_at,
        identifiers,
        attributes,
        _partition,
        _source_file,
        _line
    from latest
)

select * from final
