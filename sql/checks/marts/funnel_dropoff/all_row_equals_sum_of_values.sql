-- Every funnel has its 'all' rows, and for each breakdown the values (one per unit, '(none)' included) add up to the 'all' row at every step.
-- offending rows: (funnel, breakdown, step_index, entered summed over the values, entered of
-- the 'all' row); a funnel without an 'all' row shows as ('all', 1) with no counts
with sums as (
    select
        funnel,
        breakdown,
        step_index,
        sum(entered) as entered,
        sum(reached_next) as reached_next,
        sum(dropped) as dropped,
        sum(in_window) as in_window
    from marts.funnel_dropoff
    where breakdown <> 'all'
    group by all
),

totals as (
    select
        funnel,
        step_index,
        entered,
        reached_next,
        dropped,
        in_window
    from marts.funnel_dropoff
    where breakdown = 'all'
),

missing_all_row as (
    select
        d.funnel,
        'all' as breakdown,
        1 as step_index,
        null::hugeint as entered,
        null::bigint as all_entered
    from intermediate.funnel_definitions as d
    left join marts.funnel_dropoff as f on d.funnel = f.funnel and f.breakdown = 'all' and f.step_index = 1
    where f.funnel is null
),

not_adding_up as (
    select
        s.funnel,
        s.breakdown,
        s.step_index,
        s.entered,
        t.entered as all_entered
    from sums as s
    inner join totals as t using (funnel, step_index)
    where (s.entered, s.reached_next, s.dropped, s.in_window)
        is distinct from (t.entered, t.reached_next, t.dropped, t.in_window)
)

select * from missing_all_row
union all
select * from not_adding_up
order by funnel, breakdown, step_index
