-- Every attribution model's credits sum to the number of converting journeys and to their revenue in marts.journeys (within $tolerance x max(1, |total|)).
-- offending rows: one per model of $attribution_models that does not add up (a model
-- without rows while something converted included)
with totals as (
    select
        count(*) filter (where converted) as conversions,
        coalesce(fsum(coalesce(revenue, 0)) filter (where converted), 0) as revenue
    from marts.journeys
),

models as (
    select unnest($attribution_models::varchar []) as model
),

sums as (
    select
        model,
        fsum(conversions) as conversions,
        fsum(revenue) as revenue
    from marts.attribution
    group by model
),

compared as (
    select
        models.model,
        coalesce(sums.conversions, 0)::double as credited_conversions,
        totals.conversions::double as conversions,
        coalesce(sums.revenue, 0)::double as credited_revenue,
        totals.revenue::double as revenue
    from models
    cross join totals
    left join sums on models.model = sums.model
)

select *
from compared
where abs(credited_conversions - conversions) > $tolerance * greatest(1, abs(conversions))
    or abs(credited_revenue - revenue) > $tolerance * greatest(1, abs(revenue))
order by model
