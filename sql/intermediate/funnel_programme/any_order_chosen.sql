-- any_order: per unit, the window reaching the most steps, the latest such
create or replace temp table funnel_chosen_windows as
select w.unit_id, w.t_us
from funnel_windows as w
inner join funnel_matching_sizes as z on w.cnts = z.cnts
qualify row_number() over (partition by w.unit_id order by z.size desc, w.t_us desc) = 1;

-- the events of the chosen window in order, with the events of each kind up to each
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
        on m.unit_id = c.unit_id and m.t_us between c.t_us and c.t_us + $window_us
    where m.smask <> 0
);
