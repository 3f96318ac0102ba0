-- grain: one row per touch of a journey (a run of consecutive attributable events at one touchpoint)
-- depends on: intermediate.journey_timeline, marts.journeys
-- The touches attribution works on, for every journey, converting or not: front-stage, classified
-- events before the conversion (or up to the journey's last event) within the lookback; the
-- excluded touchpoints are dropped unless nothing else is left; consecutive repeats collapse into
-- one touch; a journey left with no touch gets a single '(none)' touch. The kept events are
-- aggregated by the touchpoint runs the journey pass numbered (intermediate.journey_timeline);
-- only those runs, not the events, are put in order, to merge runs that meet once the runs
-- between them are left out.
with journeys as (
    select
        journey_id,
        customer_id,
        converted,
        converted_at,
        ended_at,
        coalesce(revenue, 0) as revenue
    from marts.journeys
),

journey_events as (
    select
        journey_id,
        step_index,
        occurred_at,
        touchpoint,
        stage,
        is_conversion,
        touchpoint_run
    from intermediate.journey_timeline
),

conversion_steps as (
    select
        journey_id,
        min(step_index) as conversion_step
    from journey_events
    where is_conversion
    group by journey_id
),

anchors as (
    select
        journeys.journey_id,
        journeys.customer_id,
        coalesce(journeys.converted, false) as is_converted,
        journeys.revenue,
        case
            when journeys.converted then coalesce(journeys.converted_at, journeys.ended_at)
            else journeys.ended_at
        end as anchor_at,
        case
            when journeys.converted then coalesce(conversion_steps.conversion_step, 2147483647)
            else 2147483647
        end as before_step
    from journeys
    left join conversion_steps on journeys.journey_id = conversion_steps.journey_id
),

candidates as (
    select
        journey_events.journey_id,
        journey_events.step_index,
        journey_events.occurred_at,
        journey_events.touchpoint,
        journey_events.touchpoint_run,
        list_contains($exclude_touchpoints::varchar[], journey_events.touchpoint) as is_excluded
    from journey_events
    inner join anchors on journey_events.journey_id = anchors.journey_id
    where
        journey_events.step_index < anchors.before_step
        and journey_events.touchpoint <> 'unclassified'
        and journey_events.stage = 'front'
        and journey_events.occurred_at >= anchors.anchor_at - to_seconds($lookback_seconds)
        and journey_events.occurred_at <= anchors.anchor_at
),

journey_flags as (
    select
        journey_id,
        bool_or(not is_excluded) as has_kept
    from candidates
    group by journey_id
),

kept as (
    -- excluded touchpoints stay only in journeys where nothing else is left
    select
        candidates.journey_id,
        candidates.step_index,
        candidates.occurred_at,
        candidates.touchpoint,
        candidates.touchpoint_run
    from candidates
    inner join journey_flags on candidates.journey_id = journey_flags.journey_id
    where not candidates.is_excluded or not journey_flags.has_kept
),

kept_runs as (
    -- the kept events of one run of the journey pass: one touchpoint, consecutive
    select
        journey_id,
        touchpoint_run,
        any_value(touchpoint) as touchpoint,
        arg_min(occurred_at, step_index) as first_touched_at,
        arg_max(occurred_at, step_index) as touched_at,
        count(*) as n_events
    from kept
    group by journey_id, touchpoint_run
),

numbered as (
    -- runs of one touchpoint that meet once the runs between them are left out are one touch
    select
        journey_id,
        touchpoint_run,
        touchpoint,
        first_touched_at,
        touched_at,
        n_events,
        sum(is_touch_start::integer) over (
            partition by journey_id order by touchpoint_run rows between unbounded preceding and current row
        ) as touch_index
    from (
        select
            *,
            coalesce(
                lag(touchpoint) over (partition by journey_id order by touchpoint_run) <> touchpoint, true
            ) as is_touch_start
        from kept_runs
    )
),

touch_runs as (
    -- one row per touch: its first and last event
    select
        journey_id,
        touch_index,
        any_value(touchpoint) as touchpoint,
        arg_min(first_touched_at, touchpoint_run) as first_touched_at,
        arg_max(touched_at, touchpoint_run) as touched_at,
        sum(n_events) as n_events
    from numbered
    group by journey_id, touch_index
),

touches as (
    select
        journey_id,
        touch_index,
        max(touch_index) over (partition by journey_id) as n_touches,
        touchpoint,
        first_touched_at,
        touched_at,
        n_events
    from touch_runs
),

no_touch as (
    select
        anchors.journey_id,
        1 as touch_index,
        1 as n_touches,
        '(none)' as touchpoint,
        anchors.anchor_at as first_touched_at,
        anchors.anchor_at as touched_at,
        0 as n_events
    from anchors
    anti join journey_flags on anchors.journey_id = journey_flags.journey_id
),

all_touches as (
    select * from touches
    union all
    select * from no_touch
),

final as (
    select
        all_touches.journey_id,
        anchors.customer_id,
        all_touches.touch_index::integer as touch_index,
        all_touches.n_touches::integer as n_touches,
        all_touches.touchpoint,
        all_touches.first_touched_at,
        all_touches.touched_at,
        anchors.anchor_at,
        epoch(anchors.anchor_at - all_touches.touched_at)::double as seconds_before_anchor,
        all_touches.n_events::integer as n_events,
        anchors.is_converted,
        case when anchors.is_converted then anchors.revenue else 0 end as revenue
    from all_touches
    inner join anchors on all_touches.journey_id = anchors.journey_id
)

select * from final
