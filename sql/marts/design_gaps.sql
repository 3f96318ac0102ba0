-- grain: one row per design and deviation (kind and location), ranked within the design
-- depends on: intermediate.design_deviations, marts.journey_conformance
-- The gaps between each design and what customers do: every deviation seen, with how many
-- customers it affects and what it costs (conversion and time to convert of the design's journeys
-- that show it against those that do not), ranked by customers affected, then by the conversion
-- lost, and a sentence to paste into a slide.
with conformance as (
    select design, journey_id, customer_id, converted, seconds_to_convert from marts.journey_conformance
),

deviations as (
    select distinct design, journey_id, kind, location from intermediate.design_deviations
),

totals as (
    select
        design,
        count(*) as n_journeys_in_design,
        count(distinct customer_id) as n_customers_in_design,
        count(*) filter (where converted) as n_converted_in_design
    from conformance
    group by design
),

affected as (
    select
        d.design,
        d.kind,
        d.location,
        count(*) as n_journeys,
        count(distinct c.customer_id) as n_customers,
        count(*) filter (where c.converted) as n_converted,
        median(c.seconds_to_convert) as median_seconds_to_convert
    from deviations as d
    inner join conformance as c
        on d.design = c.design
        and d.journey_id = c.journey_id
    group by d.design, d.kind, d.location
),

-- the journeys of the design without this deviation
others as (
    select
        a.design,
        a.kind,
        a.location,
        median(c.seconds_to_convert) as median_seconds_to_convert
    from affected as a
    inner join conformance as c on a.design = c.design
    left join deviations as d
        on c.design = d.design
        and c.journey_id = d.journey_id
        and a.kind = d.kind
        and a.location = d.location
    where d.journey_id is null
    group by a.design, a.kind, a.location
),

measured as (
    select
        a.design,
        a.kind,
        a.location,
        a.n_customers,
        a.n_journeys,
        t.n_customers_in_design,
        a.n_customers / t.n_customers_in_design as share_of_customers,
        a.n_converted / a.n_journeys as conversion_rate_deviating,
        case
            when t.n_journeys_in_design > a.n_journeys
                then (t.n_converted_in_design - a.n_converted) / (t.n_journeys_in_design - a.n_journeys)
        end as conversion_rate_following,
        a.median_seconds_to_convert as median_seconds_to_convert_deviating,
        o.median_seconds_to_convert as median_seconds_to_convert_following
    from affected as a
    inner join totals as t on a.design = t.design
    left join others as o
        on a.design = o.design
        and a.kind = o.kind
        and a.location = o.location
),

ranked as (
    select
        *,
        conversion_rate_following - conversion_rate_deviating as conversion_gap,
        row_number() over (
            partition by design
            order by n_customers desc, conversion_rate_following - conversion_rate_deviating desc nulls last,
                kind, location
        ) as rank
    from measured
),

final as (
    select
        -- keys
        design,
        rank,
        kind,
        location,
        -- reach
        n_customers,
        n_journeys,
        n_customers_in_design,
        share_of_customers,
        -- cost
        conversion_rate_deviating,
        conversion_rate_following,
        conversion_gap,
        median_seconds_to_convert_deviating,
        median_seconds_to_convert_following,
        -- for a slide
        design || ': ' || n_customers::varchar || ' of ' || n_customers_in_design::varchar || ' customers ('
        || round(100 * share_of_customers)::integer::varchar || '%) '
        || case kind
            when 'skipped_step' then 'skip ''' || location || ''''
            when 'out_of_order' then 'reach ''' || location || ''' out of order'
            when 'unplanned_touchpoint' then 'go to ' || location || ', which the design does not plan'
            else 'take longer than the target to reach ''' || location || ''''
        end
        || case
            when conversion_rate_following is null then '; every journey of the design does.'
            else '; their journeys convert ' || round(100 * conversion_rate_deviating)::integer::varchar
                || '% against ' || round(100 * conversion_rate_following)::integer::varchar || '% for the others.'
        end as label
    from ranked
)

select * from final
