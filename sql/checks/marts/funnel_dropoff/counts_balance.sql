-- For every funnel, breakdown value and step: entered = reached_next + dropped + in_window, reached_next is the next step's entered, and the last step has no dropped or in_window units.
-- offending rows: the steps that do not balance
with stepped as (
    select
        *,
        lead(entered) over (partition by funnel, breakdown, breakdown_value order by step_index) as next_entered
    from marts.funnel_dropoff
)

select
    funnel,
    breakdown,
    breakdown_value,
    step_index,
    entered,
    reached_next,
    dropped,
    in_window
from stepped
where entered <> reached_next + dropped + in_window
    or (step_index < n_steps and reached_next is distinct from next_entered)
    or (step_index = n_steps and (dropped <> 0 or in_window <> 0))
order by all
