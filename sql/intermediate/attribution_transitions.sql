-- grain: one row per (from_state, to_state) pair of the attribution Markov chain
-- depends on: intermediate.attribution_journey_transitions
-- First-order transition counts over the touches of every journey, converting or not:
-- (start) -> touch 1 -> ... -> touch n -> (conversion) when the journey converted, else (null).
-- Each journey's steps are listed in intermediate.attribution_journey_transitions; here they
-- are only counted.
with steps as (
    select
        from_state,
        to_state
    from intermediate.attribution_journey_transitions
),

final as (
    select
        from_state,
        to_state,
        count(*) as n
    from steps
    group by all
)

select * from final
