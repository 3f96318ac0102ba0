-- Journeys that touched support: how they end, compared with those that did not.
with flagged as (
    select j.journey_id, j.converted,
           bool_or(e.touchpoint in ('support_email', 'live_chat', 'call_center', 'messaging')) as touched_support
    from marts.journeys as j
    join marts.journey_events as e using (journey_id)
    group by j.journey_id, j.converted
)
select touched_support, count(*) as n_journeys, round(avg(converted::int) * 100, 1) as conversion_pct
from flagged
group by touched_support
order by touched_support;
