-- grain: one row per path definition ('all' included), level ('phase', 'touchpoint') and journey
-- depends on: marts.journeys, marts.journey_events, intermediate.journey_steps
-- Each journey's cleaned path under each path definition, as marts.journey_paths counts them
-- (see there for the rules). A journey's rows depend on that journey's steps and events only, so
-- a nightly run rebuilds the dirty customers' rows and the mart is a group-by over journeys.
with journeys as (
    select
        journey_id, customer_id, persona, converted, revenue, duration_seconds,
        phase_path, touchpoint_path
    from marts.journeys
),

journey_steps as (
    select level, journey_id, step_number, first_step_index from intermediate.journey_steps
),

definitions as (
    select
        unnest($path_definition::varchar[]) as definition,
        unnest($path_level::varchar[]) as level,
        unnest($path_start_name::varchar[]) as start_name,
        unnest($path_start_event::varchar[]) as start_event,
        unnest($path_end_name::varchar[]) as end_name,
        unnest($path_end_event::varchar[]) as end_event,
        unnest($path_max_steps::integer[]) as max_steps
),

exclusions as (
    select
        unnest($path_exclude_definition::varchar[]) as definition,
        unnest($path_exclude_name::varchar[]) as name
),

excluded_lists as (
    select definition, list(name) as excluded from exclusions group by definition
),

by_level as (
    select
        'phase' as level, journey_id, customer_id, persona, converted, revenue, duration_seconds,
        string_split(phase_path, ' > ') as steps
    from journeys
    union all
    select
        'touchpoint' as level, journey_id, customer_id, persona, converted, revenue, duration_seconds,
        string_split(touchpoint_path, ' > ') as steps
    from journeys
),

-- ---- definition 'all': the whole path, cleaned by the journeys settings
dropped as (
    select
        * exclude (steps),
        case
            when level = 'touchpoint'
                then list_filter(steps, lambda t: not list_contains($drop_touchpoints::varchar[], t))
            else steps
        end as steps
    from by_level
),

-- a drop can make two equal steps meet: collapse them again
recollapsed as (
    select
        * exclude (steps),
        list_filter(steps, lambda s, i: i = 1 or s <> steps[i - 1]) as steps
    from dropped
),

first_occurrences as (
    select
        * exclude (steps),
        case
            when $first_occurrence_only
                then list_filter(steps, lambda s, i: list_position(steps, s) = i)
            else steps
        end as steps
    from recollapsed
),

-- a path of more than N = $max_path_steps steps keeps its first ceil(N/2) and last floor(N/2)
-- steps around '…'
shortened as (
    select
        'all' as definition,
        * exclude (steps),
        case
            when len(steps) > $max_path_steps
                then list_concat(
                    steps[1:($max_path_steps + 1) // 2],
                    ['…'],
                    steps[-($max_path_steps // 2):]
                )
            else steps
        end as steps
    from first_occurrences
),

-- ---- configured definitions
-- the events that are start or end points, with the first step_index of the item they belong to:
-- at touchpoint level an event of a visit belongs to the visit's first event in the journey
anchor_events as (
    select d.definition, d.level, true as is_start, e.journey_id, e.step_index, e.session_id
    from marts.journey_events as e
    inner join definitions as d on e.event_name = d.start_event
    where e.journey_id is not null
    union all
    select d.definition, d.level, false as is_start, e.journey_id, e.step_index, e.session_id
    from marts.journey_events as e
    inner join definitions as d on e.event_name = d.end_event
    where e.journey_id is not null
),

anchor_visits as (
    select e.journey_id, e.session_id, min(e.step_index) as first_step_index
    from marts.journey_events as e
    inner join (select distinct journey_id, session_id from anchor_events) as a
        on e.journey_id = a.journey_id
        and e.session_id = a.session_id
    group by e.journey_id, e.session_id
),

-- the step an anchor event happened in: the last step that begins at or before its item
anchor_steps as (
    select
        a.definition,
        a.is_start,
        a.journey_id,
        a.step_index,
        max(s.step_number) as step_number
    from anchor_events as a
    left join anchor_visits as v
        on a.level = 'touchpoint'
        and a.journey_id = v.journey_id
        and a.session_id = v.session_id
    inner join journey_steps as s
        on a.level = s.level
        and a.journey_id = s.journey_id
        and s.first_step_index <= coalesce(v.first_step_index, a.step_index)
    group by a.definition, a.is_start, a.journey_id, a.step_index
),

event_starts as (
    select definition, journey_id, min(step_number) as start_step
    from anchor_steps
    where is_start
    group by definition, journey_id
),

-- where each journey's path starts (null: the journey never reaches the start point)
started as (
    select
        d.definition,
        d.end_name,
        d.end_event,
        d.max_steps,
        d.start_name is not null or d.start_event is not null as has_start,
        p.*,
        case
            when d.start_name is not null then nullif(list_position(p.steps, d.start_name), 0)
            when d.start_event is not null then es.start_step
            else 1
        end as start_step
    from definitions as d
    inner join by_level as p on d.level = p.level
    left join event_starts as es
        on d.definition = es.definition
        and p.journey_id = es.journey_id
),

event_ends as (
    select st.definition, st.journey_id, min(a.step_number) as end_step
    from started as st
    inner join anchor_steps as a
        on st.definition = a.definition
        and st.journey_id = a.journey_id
        and not a.is_start
        and a.step_number >= st.start_step
    group by st.definition, st.journey_id
),

-- the first end point at or after the start (null: none)
ended as (
    select
        st.*,
        case
            when st.end_name is not null
                then st.start_step - 1 + nullif(list_position(st.steps[st.start_step:], st.end_name), 0)
            when st.end_event is not null then ee.end_step
            else len(st.steps)
        end as end_step
    from started as st
    left join event_ends as ee
        on st.definition = ee.definition
        and st.journey_id = ee.journey_id
    where st.start_step is not null
),

cut as (
    select
        e.* exclude (steps, start_step, end_step),
        list_filter(
            e.steps[e.start_step:e.end_step],
            lambda t: not list_contains(coalesce(x.excluded, []), t)
        ) as steps
    from ended as e
    left join excluded_lists as x on e.definition = x.definition
    where e.end_step is not null
),

cut_recollapsed as (
    select
        * exclude (steps),
        list_filter(steps, lambda s, i: i = 1 or s <> steps[i - 1]) as steps
    from cut
),

-- the step limit: the first N steps, or the last N before the end point when only an end is given
limited as (
    select
        definition, level, journey_id, customer_id, persona, converted, revenue, duration_seconds,
        case
            when max_steps is null or len(steps) <= max_steps then steps
            when not has_start and (end_name is not null or end_event is not null) then steps[-max_steps:]
            else steps[1:max_steps]
        end as steps
    from cut_recollapsed
),

all_paths as (
    select definition, level, journey_id, customer_id, persona, converted, revenue, duration_seconds, steps
    from shortened
    union all
    select definition, level, journey_id, customer_id, persona, converted, revenue, duration_seconds, steps
    from limited
),

cleaned as (
    select
        * exclude (steps),
        coalesce(nullif(array_to_string(steps, ' > '), ''), '(none)') as path
    from all_paths
)

select * from cleaned
