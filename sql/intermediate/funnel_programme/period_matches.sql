-- step trends: the matched events again, once per unit and ISO week in which the unit may start
-- an attempt (a step-1 event; any step event in any_order mode), each copy holding the events an
-- attempt started that week can use (from the week's Monday to its end plus the window $window_us)
-- and may start only at the week's events (can_start). The copy's unit_id is the unit and the
-- week, so the programme run over it counts each unit at the furthest step of the attempts that
-- start in that week. Instants stay whole in a copy, so the tie ranks of the events carry over.
create or replace temp table funnel_base_matches as
select * from funnel_matches;

create or replace temp table funnel_matches as
with periods as (
    select distinct
        unit_id,
        date_trunc('week', make_timestamp(t_us))::date as period_start
    from funnel_base_matches
    where (case when $any_order then smask else smask & 1 end) <> 0
),

copies as (
    select
        m.* exclude (match_id, unit_id, can_start),
        m.unit_id || '|' || p.period_start::varchar as unit_id,
        m.t_us < epoch_us(p.period_start + interval 7 day) as can_start,
        m.unit_id as base_unit_id,
        p.period_start
    from funnel_base_matches as m
    inner join periods as p
        on m.unit_id = p.unit_id
        and m.t_us >= epoch_us(p.period_start)
        and m.t_us < epoch_us(p.period_start + interval 7 day) + $window_us
)

select
    row_number() over () as match_id,
    *
from copies;
