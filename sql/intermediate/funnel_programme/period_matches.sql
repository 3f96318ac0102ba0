-- step trends: the ISO weeks in which each unit may start an attempt (a step-1 event; any step
-- event in any_order mode), with the first and last such event of the week; unit_key, the
-- unit's first match_id, numbers the unit (the copies are keyed by numbers, not text); period_no
-- numbers the unit's weeks in order (by their first start: a window cannot order by the
-- select's own alias on Spark)
create or replace temp table funnel_periods as
select
    unit_id,
    min(min(match_id)) over (partition by unit_id) as unit_key,
    date_trunc('week', make_timestamp(t_us))::date as period_start,
    min(t_us) as first_start_us,
    max(t_us) as last_start_us,
    count(*) over (partition by unit_id) as n_periods,
    row_number() over (partition by unit_id order by min(t_us)) as period_no
from funnel_matches
where (case when $any_order then smask else smask & 1 end) <> 0
group by unit_id, period_start;

-- the week in which a unit's counted attempt starts: the attempts starting that week include the
-- counted one, which reaches the furthest step any attempt reaches, arrives there first and, for
-- that arrival, starts last; so the counted attempt of that week is the unit's counted attempt
-- (a unit that starts in one week only has no other week)
insert into funnel_period_rows
select
    $funnel as funnel,
    unit_id,
    customer_id,
    date_trunc('week', make_timestamp(start_t_us))::date as period_start,
    make_timestamp(start_t_us) as started_at,
    furthest_step::integer as furthest_step,
    make_timestamp(open_until_us) as open_until_at,
    is_excluded
from funnel_counted_attempts;

drop table if exists funnel_base_matches;

alter table funnel_matches rename to funnel_base_matches;

-- the weeks copied: those of units starting in more than one week, other than the counted
-- attempt's week (left out before the copy, so only the kept weeks meet the events)
create or replace temp table funnel_copied_periods as
select p.*
from funnel_periods as p
anti join funnel_counted_attempts as a
    on p.unit_id = a.unit_id
    and p.period_start = date_trunc('week', make_timestamp(a.start_t_us))::date
where p.n_periods > 1;

create or replace temp table funnel_matches as
select
    m.match_id * 1048576 + p.period_no as match_id,
    m.* exclude (match_id, unit_id, can_start),
    -- the copy's unit: a number (unit_key * 2^20 + the week's number), cheaper to partition,
    -- sort and join by than the unit's text with the week appended
    p.unit_key * 1048576 + p.period_no as unit_id,
    m.t_us <= p.last_start_us as can_start,
    m.unit_id as base_unit_id,
    p.period_start
from funnel_base_matches as m
inner join funnel_copied_periods as p
    on m.unit_id = p.unit_id
    and m.t_us >= p.first_start_us
    and m.t_us <= p.last_start_us + $window_us
-- an event after the week's last start that matches step 1 only (ordered and strict modes) can
-- neither start an attempt of the copy nor be taken by one: it is left out
where m.t_us <= p.last_start_us or $any_order or m.smask <> 1 or m.xmask <> 0;
