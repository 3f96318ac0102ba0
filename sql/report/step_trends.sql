-- grain: one row per funnel, period and step after the first (breakdown value 'all')
-- The step-trend chart: of the units at a step in a period, the share that went on to the next,
-- week by week, so a change in one step shows (marts.funnel_step_trends, PostHog's funnel trends).
with steps as (
    select funnel, period_start, step_index, step_name, entered, dropped, in_window, period_complete
    from marts.funnel_step_trends
    where breakdown_value = 'all'
),

pairs as (
    select
        a.funnel,
        a.period_start,
        b.step_index,
        a.step_name as from_step,
        b.step_name as to_step,
        a.entered as entered_from,
        b.entered as entered_to,
        a.in_window,
        a.period_complete
    from steps as a
    inner join steps as b
        on a.funnel = b.funnel and a.period_start = b.period_start and b.step_index = a.step_index + 1
)

select
    funnel,
    period_start,
    step_index,
    from_step,
    to_step,
    entered_from,
    entered_to,
    in_window,
    period_complete,
    entered_to / nullif(entered_from, 0) as rate
from pairs
order by funnel, step_index, period_start
