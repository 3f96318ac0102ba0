-- step trends: the ISO weeks in which each unit may start an attempt (a step-1 event; any step
-- event in any_order mode), with the first and last such event of the week
create or replace temp table funnel_periods as
select
    unit_id,
    date_trunc('week', make_timestamp(t_us))::date as period_start,
    min(t_us) as first_start_us,
    max(t_us) as last_start_us,
    count(*) over (partition by unit_id) as n_periods,
    row_number() over (partition by unit_id order by period_start) as period_no
from funnel_matches
where (case when $any_order then smask else smask & 1 end) <> 0
group by unit_id, period_start;

-- a unit that starts attempts in one week only: every attempt starts that week, so the attempts of
-- that week are all of its attempts and their counted one is the one the programme just counted
-- (the copy below would hold the same events, less ones no attempt can use)
insert into funnel_period_rows
select
    $funnel as funnel,
    a.unit_id,
    a.customer_id,
    p.period_start,
    make_timestamp(a.start_t_us) as started_at,
    a.furthest_step::integer as furthest_step,
    a.status,
    a.is_excluded
from funnel_counted_attempts as a
inner join funnel_periods as p on a.unit_id = p.unit_id
where p.n_periods = 1;

-- the other units: the matched events again, once per unit and week of start, each copy holding
-- the events an attempt started that week can use (from the week's first start to its last start
-- plus the window $window_us) and may start only at the week's events (can_start). The copy's
-- unit_id is the unit and the week, so the programme run over it counts each unit at the furthest
-- step of the attempts that start in that week. Instants stay whole in a copy, so the tie ranks
-- of the events carry over.
drop table if exists funnel_base_matches;

alter table funnel_matches rename to funnel_base_matches;

create or replace temp table funnel_matches as
select
    m.match_id * 1048576 + p.period_no as match_id,
    m.* exclude (match_id, unit_id, can_start),
    m.unit_id || '|' || p.period_start::varchar as unit_id,
    m.t_us <= p.last_start_us as can_start,
    m.unit_id as base_unit_id,
    p.period_start
from funnel_base_matches as m
inner join funnel_periods as p
    on m.unit_id = p.unit_id
    and m.t_us >= p.first_start_us
    and m.t_us <= p.last_start_us + $window_us
where p.n_periods > 1;
