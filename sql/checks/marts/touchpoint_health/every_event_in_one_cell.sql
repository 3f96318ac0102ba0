-- The cells' n_events add up to the events of marts.journey_events, and no cell appears twice.
-- offending rows: (touchpoint, phase, problem); a total that does not add up shows as one
-- row with touchpoint and phase '(all)'
with repeated_cells as (
    select
        touchpoint,
        phase,
        'appears ' || count(*) || ' times' as problem
    from marts.touchpoint_health
    group by all
    having count(*) > 1
),

totals as (
    select
        (select coalesce(sum(n_events), 0) from marts.touchpoint_health) as n_in_cells,
        (select count(*) from marts.journey_events) as n_events
),

total_off as (
    select
        '(all)' as touchpoint,
        '(all)' as phase,
        'cells hold ' || n_in_cells || ' events, marts.journey_events has ' || n_events as problem
    from totals
    where n_in_cells <> n_events
)

select * from repeated_cells
union all
select * from total_off
order by touchpoint, phase
