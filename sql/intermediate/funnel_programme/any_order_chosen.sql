-- any_order: for the first arrival at the furthest step, the latest start that reaches it
create or replace temp table funnel_chosen_windows as
select
    s.unit_id,
    s.start_t_us as t_us,
    a.arrival_t_us
from funnel_starts as s
inner join funnel_arrivals as a on s.unit_id = a.unit_id
inner join funnel_matching_sizes as z on s.cnts = z.cnts
where z.size = a.size
qualify row_number() over (partition by s.unit_id order by s.start_t_us desc) = 1;

-- the events of the chosen window up to the arrival, in order, with the events of each kind up
-- to each
create or replace temp table funnel_prefixes as
select
    unit_id,
    event_id,
    t_us,
    source_rank,
    list_transform($masks::bigint[], lambda m: least(coalesce(kinds[m], 0)::bigint, $n)) as cnts
from (
    select
        m.unit_id,
        m.event_id,
        m.t_us,
        m.source_rank,
        histogram(m.smask) over (
            partition by m.unit_id order by m.t_us, m.source_rank, m.event_id
            rows between unbounded preceding and current row
        ) as kinds
    from funnel_matches as m
    inner join funnel_chosen_windows as c
        on m.unit_id = c.unit_id and m.t_us between c.t_us and c.arrival_t_us
    where m.smask <> 0
);
