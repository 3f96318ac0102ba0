-- grain: one row per event of intermediate.classified_events that has a customer
-- depends on: intermediate.classified_events
-- The one pass that sorts every event: each customer's events ordered by (occurred_at,
-- source_rank, event_id) and cut into journeys; a journey ends at a conversion (inclusive) or
-- before a gap longer than $timeout_seconds. The same pass numbers the runs of one touchpoint
-- (and of one phase) among the classified events, so that paths, transitions and attribution
-- touches aggregate runs by key (intermediate.journey_steps) instead of sorting events again.
with classified_events as (
    select
        event_id, customer_id, occurred_at, source_rank, touchpoint, phase, stage, is_conversion, revenue
    from intermediate.classified_events
    -- an event that no identifier ties to a customer belongs to no journey
    where customer_id is not null
),

-- position in the customer's timeline and what came just before; the touchpoint and phase of
-- the previous classified event (unclassified events are left out of paths)
ordered as (
    select
        *,
        row_number() over by_time as event_number,
        lag(occurred_at) over by_time as previous_at,
        lag(is_conversion) over by_time as previous_is_conversion,
        lag(case when touchpoint <> 'unclassified' then touchpoint end ignore nulls) over by_time
            as previous_touchpoint,
        lag(case when touchpoint <> 'unclassified' then phase end ignore nulls) over by_time
            as previous_phase
    from classified_events
    window by_time as (partition by customer_id order by occurred_at, source_rank, event_id)
),

-- a journey starts at a customer's first event, after a conversion, and after a long gap; a run
-- starts at a classified event whose touchpoint (phase) differs from the previous classified one
flagged as (
    select
        * exclude (previous_at, previous_is_conversion, previous_touchpoint, previous_phase),
        previous_at is null
        or coalesce(previous_is_conversion, false)
        or occurred_at > previous_at + to_seconds($timeout_seconds) as is_journey_start,
        touchpoint <> 'unclassified' and touchpoint is distinct from previous_touchpoint as is_touchpoint_change,
        touchpoint <> 'unclassified' and phase is distinct from previous_phase as is_phase_change
    from ordered
),

-- run numbers count changes over the customer's whole timeline: a run that a journey boundary
-- cuts keeps its number on both sides, so a run is keyed by (journey_id, run number)
numbered as (
    select
        *,
        sum(is_journey_start::integer) over running as journey_number,
        event_number - max(case when is_journey_start then event_number end) over running + 1
            as step_index,
        sum(is_touchpoint_change::integer) over running as touchpoint_run,
        sum(is_phase_change::integer) over running as phase_run
    from flagged
    window running as (
        partition by customer_id order by event_number
        rows between unbounded preceding and current row
    )
),

final as (
    select
        -- keys: '<customer_id>-<journey_number>', the number zero-padded to 3 digits
        event_id,
        customer_id,
        customer_id || '-' || case
            when journey_number < 1000 then lpad(journey_number::varchar, 3, '0')
            else journey_number::varchar
        end as journey_id,
        journey_number::integer as journey_number,
        step_index::integer as step_index,
        -- what the journey models aggregate
        occurred_at,
        touchpoint,
        phase,
        stage,
        is_conversion,
        revenue,
        -- runs of the classified events (null for an unclassified event)
        case when touchpoint <> 'unclassified' then touchpoint_run end::integer as touchpoint_run,
        case when touchpoint <> 'unclassified' then phase_run end::integer as phase_run
    from numbered
)

select * from final
