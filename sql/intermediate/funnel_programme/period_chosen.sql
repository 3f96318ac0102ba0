-- step trends, a funnel without exclusions in ordered or strict mode: the counted attempt of each
-- (unit, week) copy of period_matches.sql read off the state it ends in (chosen_states.sql),
-- without walking its chain back: the attempt's start is the state's, and step times never
-- decrease along an attempt, so its last matched time is the state's own
insert into funnel_period_rows
select
    $funnel as funnel,
    m.base_unit_id as unit_id,
    m.customer_id,
    m.period_start,
    make_timestamp(c.start_t_us) as started_at,
    c.step::integer as furthest_step,
    make_timestamp(case
        when c.step = $n then null
        when $strict and m.unit_last_t_us > c.t_us then null
        else c.start_t_us + $window_us
    end) as open_until_at,
    false as is_excluded
from funnel_chosen_states as c
inner join funnel_matches as m on c.unit_id = m.unit_id and c.event_id = m.event_id;
