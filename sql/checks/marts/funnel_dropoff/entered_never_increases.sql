-- Along the steps of every funnel, breakdown and value, entered never increases.
-- offending rows: the steps with more entered units than the step before
with stepped as (
    select
        funnel,
        breakdown,
        breakdown_value,
        step_index,
        entered,
        lag(entered) over (partition by funnel, breakdown, breakdown_value order by step_index) as previous_entered
    from marts.funnel_dropoff
)

select
    funnel,
    breakdown,
    breakdown_value,
    step_index,
    entered,
    previous_entered
from stepped
where entered > previous_entered
order by all
