-- grain: one row per step of a journey's attribution chain
-- depends on: intermediate.attribution_touches
-- Each journey's first-order transitions over its touches, converting or not:
-- (start) -> touch 1 -> ... -> touch n -> (conversion) when the journey converted, else (null).
-- A journey's rows depend on its touches only, so a nightly run rebuilds the dirty customers'
-- rows; intermediate.attribution_transitions counts them.
with touches as (
    select
        journey_id,
        customer_id,
        touch_index,
        touchpoint,
        is_converted
    from intermediate.attribution_touches
),

steps as (
    select
        journey_id,
        customer_id,
        '(start)' as from_state,
        touchpoint as to_state
    from touches
    where touch_index = 1

    union all

    select
        touches.journey_id,
        touches.customer_id,
        touches.touchpoint as from_state,
        coalesce(
            next_touches.touchpoint,
            case when touches.is_converted then '(conversion)' else '(null)' end
        ) as to_state
    from touches
    left join touches as next_touches
        on touches.journey_id = next_touches.journey_id
        and touches.touch_index + 1 = next_touches.touch_index
)

select * from steps
