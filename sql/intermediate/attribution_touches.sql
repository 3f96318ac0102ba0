-- grain: one row per touch of a journey (a run of consecutive attributable events at one touchpoint)
-- depends on: marts.journey_events, marts.journeys
-- The touches attribution works on, for every journey, converting or not: front-stage, classified
-- events before the conversion (or up to the journey's last event) within the lookback; the
-- excluded touchpoints are dropped unless nothing else is left; consecutive repeats collapse into
-- one touch; a journey left with no touch gets a single '(none)' touch.
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
        is_conversion
    from marts.journey_events
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

journey_candidates as (
    -- one ordered list per journey: a single sort instead of several window passes
    select
        journey_id,
        list(
            {'touchpoint': touchpoint, 'occurred_at': occurred_at, 'is_excluded': is_excluded}
            order by step_index
        ) as events
    from candidates
    group by journey_id
),

kept as (
    -- excluded touchpoints stay only in journeys where nothing else is left
    select
        journey_id,
        case
            when list_bool_or(list_transform(events, lambda e: not e.is_excluded))
                then list_filter(events, lambda e: not e.is_excluded)
            else events
        end as events
    from journey_candidates
),

runs as (
    -- where each run of one touchpoint starts (1-based positions in events)
    select
        journey_id,
        events,
        list_filter(
            range(1, len(events) + 1),
            lambda i: i = 1 or events[i].touchpoint <> events[i - 1].touchpoint
        ) as starts
    from kept
),

run_rows as (
    select
        journey_id,
        events,
        starts,
        unnest(starts) as run_start,
        generate_subscripts(starts, 1) as touch_index
    from runs
),

touches as (
    select
        journey_id,
        touch_index,
        len(starts) as n_touches,
        events[run_start].touchpoint as touchpoint,
        events[run_start].occurred_at as first_touched_at,
        events[coalesce(starts[touch_index + 1] - 1, len(events))].occurred_at as touched_at,
        coalesce(starts[touch_index + 1], len(events) + 1) - run_start as n_events
    from run_rows
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
    anti join kept on anchors.journey_id = kept.journey_id
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
