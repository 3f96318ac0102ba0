-- the counted attempt of each unit: its steps' times and events as lists of $n (null: a skipped
-- optional step), its start, its last matched step and until when it is in its window
-- (open_until_us: null when converted or, strict, broken by a later event of the unit; the status
-- is decided against as_of in the marts, see accumulators.sql)
create or replace temp table funnel_counted_attempts as
with reached as (
    select unit_id, max(step)::integer as furthest_step
    from funnel_chain
    group by unit_id
),

step_slots as (
    select
        r.unit_id,
        r.furthest_step,
        slots.step_index
    from reached as r
    cross join range(1, $n + 1) as slots(step_index)
),

chains as (
    select
        s.unit_id,
        s.furthest_step,
        list(c.t_us order by s.step_index) as step_t_us,
        list(c.event_id order by s.step_index) as step_event_ids
    from step_slots as s
    left join funnel_chain as c on s.unit_id = c.unit_id and s.step_index = c.step
    group by s.unit_id, s.furthest_step
)

select
    chains.*,
    m.customer_id,
    m.journey_id,
    m.unit_last_t_us,
    m.event_id as start_event_id,
    chains.step_t_us[1] as start_t_us,
    list_max(chains.step_t_us) as last_t_us,
    case
        when chains.furthest_step = $n then null
        when $strict and m.unit_last_t_us > list_max(chains.step_t_us) then null
        else chains.step_t_us[1] + $window_us
    end as open_until_us,
    false as is_excluded
from chains
inner join funnel_matches as m on chains.unit_id = m.unit_id and chains.step_event_ids[1] = m.event_id;

-- exclusions ($exclusion_* lists, one entry per exclusion) apply to the counted attempt: an
-- exclusion event other than the attempt's own, from the event of from_step to the event of
-- to_step (or, when the attempt never reached to_step, until its window closes). Step times never
-- decrease along the steps, so the latest matched step up to from_step is the largest time there,
-- the first matched from to_step on the smallest, and the furthest step's time the largest of all.
update funnel_counted_attempts set is_excluded = true
where unit_id in (
    select a.unit_id
    from funnel_counted_attempts as a
    inner join funnel_matches as m on a.unit_id = m.unit_id
    inner join (
        select
            unnest($exclusion_index::integer[]) as exclusion,
            unnest($exclusion_from_step::integer[]) as from_step,
            unnest($exclusion_to_step::integer[]) as to_step
    ) as x on ((m.xmask >> (x.exclusion - 1)) & 1) = 1
    where a.furthest_step >= x.from_step
        and not list_contains(a.step_event_ids, m.event_id)
        and m.t_us >= list_max(list_slice(a.step_t_us, 1, x.from_step))
        and m.t_us <= coalesce(list_min(list_slice(a.step_t_us, x.to_step, $n)), a.start_t_us + $window_us)
);
