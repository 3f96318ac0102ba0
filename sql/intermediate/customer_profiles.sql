-- grain: one row per customer with at least one event
-- depends on: intermediate.classified_events, intermediate.identifier_sets, staging.profiles
-- The persona and profile attributes of each customer, from the customer's most recently
-- updated profile; persona rules (personas.yaml) arrive as bound lists, first match wins.
with classified_events as (
    select customer_id from intermediate.classified_events
),

identifier_sets as (
    select identifier_set, customer_id from intermediate.identifier_sets
),

profiles as (
    select profile_id, updated_at, identifiers, attributes from staging.profiles
),

persona_rules as (
    select
        unnest($persona_rank::integer[]) as rule_rank,
        unnest($persona_name::varchar[]) as persona
),

persona_conditions as (
    select
        unnest($condition_rank::integer[]) as rule_rank,
        unnest($condition_attribute::varchar[]) as attribute,
        unnest($condition_pattern::varchar[]) as pattern
),

customers as (
    select distinct customer_id
    from classified_events
    where customer_id is not null
),

-- a profile (one row per profile_id) belongs to its identifier set's customer: the rule that
-- picks it is intermediate.identifier_sets'
latest_profiles as (
    select
        s.customer_id,
        p.profile_id,
        p.updated_at,
        p.attributes
    from profiles as p
    inner join identifier_sets as s on p.identifiers::varchar = s.identifier_set
    qualify row_number() over (
        partition by s.customer_id order by p.updated_at desc, p.profile_id desc
    ) = 1
),

customer_attributes as (
    select
        c.customer_id,
        lp.profile_id,
        lp.updated_at as profile_updated_at,
        lp.attributes,
        lp.attributes::varchar as attribute_set
    from customers as c
    left join latest_profiles as lp on c.customer_id = lp.customer_id
),

-- persona rules are evaluated once per distinct attribute set, keyed by its text form (no MAP
-- value is grouped or joined on)
attribute_sets as (
    select
        attribute_set,
        any_value(attributes) as attributes
    from customer_attributes
    group by attribute_set
),

condition_checks as (
    select
        a.attribute_set,
        k.rule_rank,
        k.attribute,
        bool_or(
            k.attribute is null
            or coalesce(like_escape(lower(a.attributes[k.attribute]), k.pattern, '\'), false)
        ) as holds
    from attribute_sets as a
    cross join persona_conditions as k
    group by a.attribute_set, k.rule_rank, k.attribute
),

first_persona as (
    select
        attribute_set,
        min(rule_rank) as rule_rank
    from (
        select attribute_set, rule_rank
        from condition_checks
        group by attribute_set, rule_rank
        having bool_and(holds)
    )
    group by attribute_set
),

final as (
    select
        ca.customer_id,
        coalesce(pr.persona, 'unknown') as persona,
        ca.attributes['company'] as company,
        ca.attributes['industry'] as industry,
        ca.attributes['company_size'] as company_size,
        ca.attributes['segment'] as segment,
        ca.attributes['lifecycle_stage'] as lifecycle_stage,
        ca.profile_id,
        ca.profile_updated_at
    from customer_attributes as ca
    left join first_persona as fp on ca.attribute_set is not distinct from fp.attribute_set
    left join persona_rules as pr on fp.rule_rank = pr.rule_rank
)

select * from final
