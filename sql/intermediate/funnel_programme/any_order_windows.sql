-- any_order: per instant a, the events of each kind ($masks) in [a - W, a], capped at $n: the
-- most steps a window that ends by a can have matched (the window from the first step event at or
-- after a - W holds the same events; instants no window that may start (can_start) reaches are left out)
create or replace temp table funnel_windows as
select
    unit_id,
    t_us,
    list_transform($masks::bigint[], lambda m: least(coalesce(kinds[m], 0)::bigint, $n)) as cnts
from (
    select
        unit_id,
        t_us,
        event_id,
        histogram(smask) over w as kinds,
        bool_or(can_start) over w as has_start
    from funnel_matches
    where smask <> 0
    window w as (partition by unit_id order by t_us range between $window_us preceding and current row)
    qualify row_number() over (partition by unit_id, t_us order by source_rank desc, event_id desc) = 1
)
where has_start;
