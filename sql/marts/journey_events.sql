-- grain: one row per event of intermediate.classified_events (= one per staging.events event)
-- depends on: intermediate.classified_events, intermediate.customer_profiles
-- Each customer's events cut into journeys: ordered by (occurred_at, source_rank, event_id), a
-- journey ends at a conversion (inclusive) or before a gap longer than $timeout_seconds.
with classified_events as (
    select * from intermediate.classified_events
),

customer_profiles as (
    select customer_id, persona from intermediate.customer_profiles
),

-- one sorted pass: position in the customer's timeline and what came just before
ordered as (
    select
        *,
        row_number() over timeline as _event_number,
        lag(occurred_at) over timeline as _previous_at,
        lag(is_conversion) over timeline as _previous_is_conversion
    from classified_events
    window timeline as (partition by customer_id order by occurred_at, source_rank, event_id)
),

flagged as (
    select
        *,
        _previous_at is null
        or coalesce(_previous_is_conversion, false)
        or occurred_at > _previous_at + to_seconds($timeout_seconds) as _is_journey_start
    from ordered
),

numbered as (
    select
        *,
        sum(_is_journey_start::integer) over running as _journey_number,
        max(case when _is_journey_start then _event_number end) over running as _journey_first_event
    from flagged
    window running as (
        partition by customer_id order by _event_number rows between unbounded preceding and current row
    )
),

final as (
    select
        numbered.* exclude (
            _event_number, _previous_at, _previous_is_conversion, _is_journey_start,
            _journey_number, _journey_first_event
        ),
        -- who
        coalesce(customer_profiles.persona, 'unknown') as persona,
        -- journey keys
        format('{}-{:03d}', numbered.customer_id, _journey_number) as journey_id,
        _journey_number::integer as journey_number,
        (_event_number - _journey_first_event + 1)::integer as step_index
    from numbered
    left join customer_profiles on numbered.customer_id = customer_profiles.customer_id
)

select * from final
