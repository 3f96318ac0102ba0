-- any_order: per unit, the most steps any window matches and the first instant a window gets
-- there (the first arrival at the furthest step)
create or replace temp table funnel_arrivals as
select
    w.unit_id,
    w.t_us as arrival_t_us,
    z.size
from funnel_windows as w
inner join funnel_matching_sizes as z on w.cnts = z.cnts
qualify row_number() over (partition by w.unit_id order by z.size desc, w.t_us) = 1;

-- the windows that may have made that arrival: every instant of a step event in
-- [arrival - W, arrival], with the events of each kind from it to the arrival
create or replace temp table funnel_starts as
with start_instants as (
    select distinct
        m.unit_id,
        m.t_us as start_t_us
    from funnel_matches as m
    inner join funnel_arrivals as a
        on m.unit_id = a.unit_id
        and m.t_us between a.arrival_t_us - $window_us and a.arrival_t_us
    where m.smask <> 0 and m.can_start
),

kinds as (
    select
        s.unit_id,
        s.start_t_us,
        histogram(m.smask) as kinds
    from start_instants as s
    inner join funnel_arrivals as a on s.unit_id = a.unit_id
    inner join funnel_matches as m
        on s.unit_id = m.unit_id
        and m.t_us between s.start_t_us and a.arrival_t_us
    where m.smask <> 0
    group by s.unit_id, s.start_t_us
)

select
    unit_id,
    start_t_us,
    list_transform($masks::bigint[], lambda m: least(coalesce(kinds[m], 0)::bigint, $n)) as cnts
from kinds;
