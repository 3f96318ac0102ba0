-- grain: one row per event of intermediate.classified_events (= one per staging.events event)
-- depends on: intermediate.classified_events, intermediate.customer_profiles
-- Each customer's events cut into journeys: ordered by (occurred_at, source_rank, event_id), a
-- journey ends at a conversion (inclusive) or before a gap longer than $timeout_seconds.
-- The windows sort only the ordering columns; the wide events join back once, by row number.
-- The import is not materialized: both consumers scan the table (a materialized copy of every
-- wide row cost more than the rest of the model at 10M events).
with classified_events as not materialized (
    select
        *,
        rowid as event_row
    from intermediate.classified_events
),

customer_profiles as (
    select customer_id, persona from intermediate.customer_profiles
),

-- an event that no identifier ties to a customer belongs to no journey (null journey columns)
timeline as (
    select event_row, event_id, customer_id, occurred_at, source_rank, is_conversion
    from classified_events
    where customer_id is not null
),

-- position in the customer's timeline and what came just before
ordered as (
    select
        event_row,
        customer_id,
        occurred_at,
        row_number() over by_time as event_number,
        lag(occurred_at) over by_time as previous_at,
        lag(is_conversion) over by_time as previous_is_conversion
    from timeline
    window by_time as (partition by customer_id order by occurred_at, source_rank, event_id)
),

-- a journey starts at a customer's first event, after a conversion, and after a long gap
flagged as (
    select
        event_row,
        customer_id,
        event_number,
        previous_at is null
        or coalesce(previous_is_conversion, false)
        or occurred_at > previous_at + to_seconds($timeout_seconds) as is_journey_start
    from ordered
),

numbered as (
    select
        event_row,
        sum(is_journey_start::integer) over running as journey_number,
        event_number - max(case when is_journey_start then event_number end) over running + 1
            as step_index
    from flagged
    window running as (
        partition by customer_id order by event_number
        rows between unbounded preceding and current row
    )
),

final as (
    select
        classified_events.* exclude (event_row),
        -- who
        coalesce(customer_profiles.persona, 'unknown') as persona,
        -- journey keys: '<customer_id>-<journey_number>', the number zero-padded to 3 digits
        classified_events.customer_id || '-' || case
            when numbered.journey_number < 1000 then lpad(numbered.journey_number::varchar, 3, '0')
            else numbered.journey_number::varchar
        end as journey_id,
        numbered.journey_number::integer as journey_number,
        numbered.step_index::integer as step_index
    from classified_events
    left join numbered on classified_events.event_row = numbered.event_row
    left join customer_profiles on classified_events.customer_id = customer_profiles.customer_id
)

select * from final
