-- grain: one row per converting journey
-- depends on: intermediate.attribution_touches
-- Each converting journey's set of touchpoints (order and repeats ignored) with its revenue: the
-- coalition it counts for in intermediate.attribution_touch_sets. A journey's row depends on its
-- touches only, so a nightly run rebuilds the dirty customers' rows.
with touches as (
    select
        journey_id,
        customer_id,
        touchpoint,
        revenue
    from intermediate.attribution_touches
    where is_converted
),

final as (
    select
        journey_id,
        any_value(customer_id) as customer_id,
        list_sort(list_distinct(list(touchpoint))) as touchpoints,
        any_value(revenue) as revenue
    from touches
    group by journey_id
)

select * from final
