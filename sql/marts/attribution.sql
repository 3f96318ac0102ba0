-- grain: one row per attribution model and touchpoint
-- depends on: intermediate.attribution_touches, intermediate.attribution_model_credits
-- Conversion and revenue credit per touchpoint under seven models: the five rule-based ones
-- computed here from the touches of converting journeys, markov and shapley from the
-- chain and coalition solve (intermediate.attribution_model_credits).
with touches as (
    select
        journey_id,
        touch_index,
        n_touches,
        touchpoint,
        seconds_before_anchor,
        revenue
    from intermediate.attribution_touches
    where is_converted
),

all_touchpoints as (
    select distinct touchpoint
    from intermediate.attribution_touches
),

model_credits as (
    select
        model,
        touchpoint,
        conversions,
        revenue,
        removal_effect,
        n_converting_journeys
    from intermediate.attribution_model_credits
),

models as (
    select
        model,
        model_order
    from (
        values
        ('first_touch', 1),
        ('last_touch', 2),
        ('linear', 3),
        ('time_decay', 4),
        ('position_based', 5),
        ('markov', 6),
        ('shapley', 7)
    ) as m (model, model_order)
),

decayed as (
    -- 2^(-dt / half-life), scaled by the newest touch of the journey so that no weight underflows;
    -- the scale cancels when the weights are normalised per journey
    select
        *,
        pow(
            2.0,
            -(seconds_before_anchor - min(seconds_before_anchor) over (partition by journey_id))
            / $half_life_seconds
        ) as decay
    from touches
),

weights as (
    select
        journey_id,
        touchpoint,
        revenue,
        (touch_index = 1)::double as first_touch,
        (touch_index = n_touches)::double as last_touch,
        1.0 / n_touches as linear,
        decay / sum(decay::decimal(38, 18)) over (partition by journey_id) as time_decay,
        case
            when n_touches = 1 then 1.0
            when n_touches = 2 then 0.5
            when touch_index = 1 or touch_index = n_touches then 0.4
            else 0.2 / (n_touches - 2)
        end as position_based
    from decayed
),

-- one row per touch and rule-based model (a union, not DuckDB's UNPIVOT statement: portable)
unpivoted as (
    select journey_id, touchpoint, revenue, 'first_touch' as model, first_touch as weight from weights
    union all
    select journey_id, touchpoint, revenue, 'last_touch' as model, last_touch as weight from weights
    union all
    select journey_id, touchpoint, revenue, 'linear' as model, linear as weight from weights
    union all
    select journey_id, touchpoint, revenue, 'time_decay' as model, time_decay as weight from weights
    union all
    select journey_id, touchpoint, revenue, 'position_based' as model, position_based as weight from weights
),

-- Sums of doubles depend on the order of their terms, which differs between engines (and runs
-- of Spark): a value near a rounding edge of the stored 12 significant digits could round
-- either way. Each term is summed as a decimal of 18 places instead, exactly and in any order
-- (a revenue that is not a number, which no decimal holds, is left out).
rule_credits as (
    select
        model,
        touchpoint,
        sum(weight::decimal(38, 18))::double as conversions,
        sum(try_cast(weight * revenue as decimal(38, 18)))::double as revenue
    from unpivoted
    group by model, touchpoint
),

rule_grid as (
    select
        models.model,
        all_touchpoints.touchpoint,
        coalesce(rule_credits.conversions, 0) as conversions,
        coalesce(rule_credits.revenue, 0) as revenue,
        null::double as removal_effect,
        null::bigint as n_converting_journeys
    from models
    cross join all_touchpoints
    left join rule_credits
        on models.model = rule_credits.model
        and all_touchpoints.touchpoint = rule_credits.touchpoint
    where models.model not in ('markov', 'shapley')
),

journeys_touching as (
    select
        touchpoint,
        count(distinct journey_id) as n_converting_journeys
    from touches
    group by touchpoint
),

credits as (
    select * from rule_grid
    union all
    select * from model_credits
),

final as (
    select
        credits.model,
        credits.touchpoint,
        credits.conversions,
        credits.revenue,
        credits.conversions
        / nullif(sum(credits.conversions::decimal(38, 18)) over (partition by credits.model), 0) as share,
        credits.removal_effect,
        coalesce(journeys_touching.n_converting_journeys, credits.n_converting_journeys, 0)
            as n_converting_journeys,
        models.model_order
    from credits
    inner join models on credits.model = models.model
    left join journeys_touching on credits.touchpoint = journeys_touching.touchpoint
)

select
    model,
    touchpoint,
    conversions,
    revenue,
    share,
    removal_effect,
    n_converting_journeys
from final
order by model_order, conversions desc, touchpoint
