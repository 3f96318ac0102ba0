-- strict mode: how many events of the unit (of any kind) share each matched instant, the unit's
-- previous instant and its last one
create or replace temp table funnel_matches as
with unit_events as (
    select
        case when $unit = 'customer' then customer_id else journey_id end as unit_id,
        epoch_us(occurred_at) as t_us
    from funnel_journey_events
),

unit_times as (
    select unit_id, t_us, count(*) as n_at
    from unit_events
    where unit_id in (select unit_id from funnel_matches)
    group by all
),

instants as (
    select
        unit_id,
        t_us,
        n_at,
        lag(t_us) over (partition by unit_id order by t_us) as prev_t_us,
        max(t_us) over (partition by unit_id) as unit_last_t_us
    from unit_times
)

select
    m.* exclude (n_at, prev_t_us, unit_last_t_us),
    i.n_at,
    i.prev_t_us,
    i.unit_last_t_us
from funnel_matches as m
inner join instants as i on m.unit_id = i.unit_id and m.t_us = i.t_us;
