-- grain: one row per (from_touchpoint, to_touchpoint) pair
-- depends on: intermediate.journey_transitions
-- First-order transitions between consecutive steps of each journey's touchpoint path (the path
-- of marts.journeys: visit by visit, 'unclassified' events and back-stage touchpoints left out,
-- consecutive repeats collapsed), with '(start)' before the first step and '(conversion)' or
-- '(exit)' after the last.
-- Each journey's transitions are listed in intermediate.journey_transitions (a step meets the
-- next by a join on (journey, step_number + 1)); here they are only counted.
with edges as (
    select from_touchpoint, to_touchpoint, seconds::double as seconds
    from intermediate.journey_transitions
),

aggregated as (
    select
        from_touchpoint,
        to_touchpoint,
        count(*) as n,
        median(seconds) as median_seconds
    from edges
    group by from_touchpoint, to_touchpoint
),

final as (
    select
        from_touchpoint,
        to_touchpoint,
        n,
        n / sum(n) over (partition by from_touchpoint) as probability,
        median_seconds
    from aggregated
)

select * from final
order by from_touchpoint = '(start)' desc, from_touchpoint, n desc, to_touchpoint
