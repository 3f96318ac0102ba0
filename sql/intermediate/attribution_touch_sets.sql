-- grain: one row per distinct set of touchpoints among converting journeys
-- depends on: intermediate.attribution_touches
-- The coalitions Shapley attribution is computed over: each converting journey's set of
-- touchpoints (order and repeats ignored), with the conversions and revenue of those journeys.
with touches as (
    select
        journey_id,
        touchpoint,
        revenue
    from intermediate.attribution_touches
    where is_converted
),

journey_sets as (
    select
        journey_id,
        list_sort(list_distinct(list(touchpoint))) as touchpoints,
        any_value(revenue) as revenue
    from touches
    group by journey_id
),

final as (
    select
        touchpoints,
        len(touchpoints) as n_touchpoints,
        count(*) as n_conversions,
        fsum(revenue) as revenue
    from journey_sets
    group by touchpoints
)

select * from final
