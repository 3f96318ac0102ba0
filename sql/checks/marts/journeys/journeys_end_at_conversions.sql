-- A converted journey ends with its only conversion event; converted, n_events and step_index agree with the events.
-- nightly: by_customer (in an incremental run, each table it reads is kept to the run's customers)
-- offending rows: (journey_id, problem), the first problem found for each journey
with per_journey as (
    select
        journey_id,
        count(*) as n_events,
        min(step_index) as first_step,
        max(step_index) as last_step,
        count(distinct step_index) as n_steps,
        count(*) filter (where is_conversion) as n_conversions,
        max(step_index) filter (where is_conversion) as conversion_step
    from marts.journey_events
    where journey_id is not null
    group by journey_id
),

checked as (
    select
        p.journey_id,
        case
            when j.journey_id is null then 'not in marts.journeys'
            when p.n_conversions > 1 then 'more than one conversion'
            when p.n_conversions = 1 and p.conversion_step <> p.last_step
                then 'the conversion is not the last event'
            when j.converted <> (p.n_conversions = 1)
                then 'converted does not match its events'
            when p.first_step <> 1 or p.last_step <> p.n_events or p.n_steps <> p.n_events
                then 'step_index does not run 1..n_events'
            when j.n_events <> p.n_events then 'n_events does not match its events'
        end as problem
    from per_journey as p
    left join marts.journeys as j on p.journey_id = j.journey_id
)

select journey_id, problem
from checked
where problem is not null
order by journey_id
