-- Phase funnel drop-off by the touchpoint customers arrived through.
select breakdown_value as first_touchpoint, step_index, step_name, entered, dropped, in_window,
       round(dropoff_rate * 100, 1) as dropoff_pct
from marts.funnel_dropoff
where funnel = 'phase_funnel' and breakdown = 'first_touchpoint'
order by first_touchpoint, step_index;
