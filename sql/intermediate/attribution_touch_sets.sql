-- grain: one row per distinct set of touchpoints among converting journeys
-- depends on: intermediate.attribution_journey_sets
-- The coalitions Shapley attribution is computed over: each converting journey's set of
-- touchpoints (order and repeats ignored), with the conversions and revenue of those journeys:
-- a group-by over the converting journeys' sets (intermediate.attribution_journey_sets).
with journey_sets as (
    select
        journey_id,
        touchpoints,
        revenue
    from intermediate.attribution_journey_sets
),

final as (
    select
        touchpoints,
        len(touchpoints) as n_touchpoints,
        count(*) as n_conversions,
        -- a decimal sum, exact in any order (marts/attribution.sql, rule_credits)
        coalesce(sum(try_cast(revenue as decimal(38, 18))), 0)::double as revenue
    from journey_sets
    group by touchpoints
)

select * from final
