-- any_order: per start instant, the events of each kind ($masks) in [t, t + W], capped at $n
create or replace temp table funnel_windows as
select
    unit_id,
    t_us,
    event_id,
    list_transform($masks::bigint[], lambda m: least(coalesce(kinds[m], 0)::bigint, $n)) as cnts
from (
    select
        unit_id,
        t_us,
        event_id,
        histogram(smask) over (
            partition by unit_id order by t_us range between current row and $window_us following
        ) as kinds
    from funnel_matches
    where smask <> 0
    qualify row_number() over (partition by unit_id, t_us order by source_rank desc, event_id desc) = 1
);
