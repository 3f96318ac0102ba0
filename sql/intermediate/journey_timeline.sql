-- grain: one row per event of intermediate.classified_events that has a customer
-- depends on: intermediate.classified_events
-- The one pass that sorts every event: each customer's events ordered by (occurred_at,
-- source_rank, event_id) and cut into journeys; a journey ends at a conversion (inclusive) or
-- before a gap longer than $timeout_seconds. The same pass numbers the runs of one touchpoint
-- (and of one phase) among the classified events, so that paths, transitions and attribution
-- touches aggregate runs by key (intermediate.journey_steps) instead of sorting events again,
-- and cuts the web and app visits into sessions: the events of $session_sources, a new session
-- after a gap longer than $session_timeout_seconds or at an event whose campaign differs from
-- the session's (a session begun without a campaign ends at the first event that has one).
with classified_events as (
    select
        event_id, customer_id, occurred_at, source_rank, touchpoint, phase, stage, is_conversion, revenue,
        source, utm_source, utm_medium, utm_campaign
    from intermediate.classified_events
    -- an event that no identifier ties to a customer belongs to no journey
    where customer_id is not null
),

-- what sessions need of the event: is it a visit event, and its campaign (classified_events
-- carries the event's source and utm fields, so staging.events is not read again)
timeline_events as (
    select
        event_id, customer_id, occurred_at, source_rank, touchpoint, phase, stage, is_conversion, revenue,
        coalesce(list_contains($session_sources::varchar[], source), false) as is_visit_event,
        -- the campaign key: null without any utm value
        case
            when coalesce(nullif(utm_source, ''), nullif(utm_medium, ''), nullif(utm_campaign, '')) is not null
                then coalesce(utm_source, '') || '|' || coalesce(utm_medium, '') || '|' || coalesce(utm_campaign, '')
        end as campaign
    from classified_events
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
            as previous_phase,
        -- the previous visit event, and the previous visit event that carried a campaign
        lag(case when is_visit_event then occurred_at end ignore nulls) over by_time as previous_visit_at,
        lag(case when is_visit_event then campaign end ignore nulls) over by_time as previous_campaign,
        lag(case when is_visit_event and campaign is not null then occurred_at end ignore nulls) over by_time
            as previous_campaign_at
    from timeline_events
    window by_time as (partition by customer_id order by occurred_at, source_rank, event_id)
),

-- a journey starts at a customer's first event, after a conversion, and after a long gap; a run
-- starts at a classified event whose touchpoint (phase) differs from the previous classified one
flagged as (
    select
        * exclude (
            previous_at, previous_is_conversion, previous_touchpoint, previous_phase, previous_visit_at, campaign,
            previous_campaign
        ),
        previous_at is null
        or coalesce(previous_is_conversion, false)
        or occurred_at > previous_at + to_seconds($timeout_seconds) as is_journey_start,
        touchpoint <> 'unclassified' and touchpoint is distinct from previous_touchpoint as is_touchpoint_change,
        touchpoint <> 'unclassified' and phase is distinct from previous_phase as is_phase_change,
        -- a visit segment (a run of visit events without a long gap) starts here
        is_visit_event and (
            previous_visit_at is null
            or occurred_at > previous_visit_at + to_seconds($session_timeout_seconds)
        ) as is_segment_start,
        -- the campaign, as flags (the text is not carried through the later passes): the event
        -- has one, and it differs from the previous visit campaign (or there is none before)
        campaign is not null as has_campaign,
        campaign is not null and (previous_campaign is null or previous_campaign <> campaign) as is_campaign_change
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
        sum(is_phase_change::integer) over running as phase_run,
        max(case when is_segment_start then occurred_at end) over running as segment_started_at
    from flagged
    window running as (
        partition by customer_id order by event_number
        rows between unbounded preceding and current row
    )
),

-- a session starts at a segment start, or at a campaign other than the session's: the previous
-- campaign of the segment (a campaign before the segment's start belongs to an earlier session)
session_flagged as (
    select
        * exclude (has_campaign, is_campaign_change, previous_campaign_at, segment_started_at),
        is_visit_event and (
            is_segment_start
            or has_campaign and (is_campaign_change or previous_campaign_at < segment_started_at)
        ) as is_session_start
    from numbered
),

-- sessions are numbered over the customer's visit events; each carries the touchpoint of its
-- session's first event (how the visit began)
sessions as (
    select
        *,
        sum(is_session_start::integer) over running as session_number,
        last_value(case when is_session_start then touchpoint end ignore nulls) over running as landing_touchpoint
    from session_flagged
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
        case when touchpoint <> 'unclassified' then phase_run end::integer as phase_run,
        -- the web or app visit (null for other events); a visit begun at a direct touchpoint is
        -- named by the owned touchpoint it happens on
        case when is_visit_event then session_number end::integer as session_number,
        case
            when not is_visit_event then null
            when list_contains($direct_touchpoints::varchar[], landing_touchpoint) then $direct_visit_touchpoint::varchar
            else landing_touchpoint
        end as visit_touchpoint
    from sessions
)

select * from final
