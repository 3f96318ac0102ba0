-- grain: one row per customer and front-stage step cell (touchpoint x phase) the customer had
-- depends on: marts.journey_events
-- What marts.pain_points counts for 'support contact after': the cells of each customer's
-- front-stage, non-support steps, and whether a support contact followed one of them within
-- settings.pain_points.support_within. A customer's rows depend on that customer's events only
-- (the windows run within a customer), so a nightly run rebuilds the dirty customers' rows.
with journey_events as (
    select
        customer_id,
        journey_number,
        step_index,
        occurred_at,
        source,
        touchpoint,
        phase,
        stage
    from marts.journey_events
),

-- ---- support contact after a step

marked as (
    select
        customer_id,
        -- the customer's timeline in journey order, as one sortable key
        journey_number::bigint * 4294967296 + step_index as seq,
        occurred_at,
        touchpoint,
        phase,
        list_contains($support_sources::varchar[], source)
        or list_contains($support_touchpoints::varchar[], touchpoint) as is_support,
        stage = 'front' and touchpoint <> 'unclassified' as is_front
    from journey_events
),

-- a support event of a customer (an event no identifier ties to a customer has no timeline)
support_events as (
    select
        customer_id,
        seq,
        occurred_at
    from marked
    where is_support and customer_id is not null
),

steps as (
    select
        customer_id,
        seq,
        occurred_at,
        touchpoint,
        phase
    from marked
    where is_front and not is_support
),

contact_starts as (
    -- a contact starts with a support event that follows no other support event of the
    -- customer within support_within
    select
        customer_id,
        seq,
        occurred_at
    from (
        select
            *,
            lag(occurred_at) over (partition by customer_id order by seq) as previous_support_at
        from support_events
    )
    where
        previous_support_at is null
        or occurred_at - previous_support_at > to_seconds($support_within_seconds)
),

-- the contact starts among the customer's steps, in timeline order: each contact start sees the
-- last step before it (a window, not an ASOF join: other engines run it too)
contact_timeline as (
    select customer_id, seq, occurred_at, false as is_contact, touchpoint, phase
    from steps
    where customer_id is not null
    union all
    select customer_id, seq, occurred_at, true as is_contact, null as touchpoint, null as phase
    from contact_starts
),

placed as (
    select
        customer_id,
        is_contact,
        occurred_at,
        lag(case when not is_contact then {'occurred_at': occurred_at, 'touchpoint': touchpoint, 'phase': phase} end
            ignore nulls) over (partition by customer_id order by seq) as step
    from contact_timeline
),

contacts as (
    -- the contact counts for the customer's last step before it, if at most support_within earlier
    select
        customer_id,
        step.touchpoint as touchpoint,
        step.phase as phase
    from placed
    where is_contact
        and occurred_at - step.occurred_at <= to_seconds($support_within_seconds)
),

final as (
    select
        steps.customer_id,
        steps.touchpoint,
        steps.phase,
        bool_or(contacts.customer_id is not null) as has_contact_after
    from (select distinct customer_id, touchpoint, phase from steps) as steps
    left join (select distinct customer_id, touchpoint, phase from contacts) as contacts
        on steps.customer_id = contacts.customer_id
        and steps.touchpoint = contacts.touchpoint
        and steps.phase = contacts.phase
    group by steps.customer_id, steps.touchpoint, steps.phase
)

select * from final
