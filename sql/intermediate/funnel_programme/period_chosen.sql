-- step trends, a funnel without exclusions in ordered or strict mode: the counted attempt of each
-- (unit, week) copy of period_matches.sql read off the state it ends in, chosen as chain.sql
-- chooses it, without walking its chain back: the attempt's start is the state's, and step times
-- never decrease along an attempt, so its last matched time is the state's own
insert into funnel_period_rows
with reached as (
    select unit_id, max(step) as furthest_step
    from funnel_states
    group by unit_id
),

chosen as (
    select s.*
    from funnel_states as s
    inner join reached as r on s.unit_id = r.unit_id and s.step = r.furthest_step
    qualify row_number() over (
        partition by s.unit_id order by s.t_us, s.start_rank desc, s.mask, s.used
    ) = 1
)

select
    $funnel as funnel,
    m.base_unit_id as unit_id,
    m.customer_id,
    m.period_start,
    make_timestamp(c.start_t_us) as started_at,
    c.step::integer as furthest_step,
    case
        when c.step = $n then 'converted'
        when c.start_t_us + $window_us > $as_of_us
            and (not $strict or m.unit_last_t_us <= c.t_us) then 'in_window'
        else 'dropped'
    end as status,
    false as is_excluded
from chosen as c
inner join funnel_matches as m on c.unit_id = m.unit_id and c.event_id = m.event_id;
