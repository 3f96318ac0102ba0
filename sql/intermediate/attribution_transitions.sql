-- grain: one row per (from_state, to_state) pair of the attribution Markov chain
-- depends on: intermediate.attribution_touches
-- First-order transition counts over the touches of every journey, converting or not:
-- (start) -> touch 1 -> ... -> touch n -> (conversion) when the journey converted, else (null).
with touches as (
    select
        journey_id,
        touch_index,
        n_touches,
        touchpoint,
        is_converted
    from intermediate.attribution_touches
),

steps as (
    select
        '(start)' as from_state,
        touchpoint as to_state
    from touches
    where touch_index = 1

    union all

    select
        touches.touchpoint as from_state,
        coalesce(
            next_touches.touchpoint,
            case when touches.is_converted then '(conversion)' else '(null)' end
        ) as to_state
    from touches
    left join touches as next_touches
        on touches.journey_id = next_touches.journey_id
        and touches.touch_index + 1 = next_touches.touch_index
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
