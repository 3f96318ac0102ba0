-- any_order: the i-th step is completed by the earliest event after which i steps are matched
create or replace temp table funnel_chain as
select unit_id, size as step, event_id, t_us
from (
    select
        p.unit_id,
        p.event_id,
        p.t_us,
        z.size,
        coalesce(
            lag(z.size) over (partition by p.unit_id order by p.t_us, p.source_rank, p.event_id), 0
        ) as previous_size
    from funnel_prefixes as p
    inner join funnel_matching_sizes as z on p.cnts = z.cnts
)
where size > previous_size;
