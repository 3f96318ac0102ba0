-- step trends: the counted attempt of each (unit, week) copy of period_matches.sql, under its unit
-- and week, into the rows of intermediate.funnel_period_attempts
insert into funnel_period_rows
select
    $funnel as funnel,
    m.base_unit_id as unit_id,
    a.customer_id,
    m.period_start,
    make_timestamp(a.start_t_us) as started_at,
    a.furthest_step::integer as furthest_step,
    make_timestamp(a.open_until_us) as open_until_at,
    a.is_excluded
from funnel_counted_attempts as a
inner join funnel_matches as m on a.unit_id = m.unit_id and a.start_event_id = m.event_id;
