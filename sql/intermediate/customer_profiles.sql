-- grain: one row per customer with at least one event
-- depends on: intermediate.classified_events, identity.customer_ids, staging.profiles
-- The persona and profile attributes of each customer, from the customer's most recently
-- updated profile; persona rules (personas.yaml) arrive as bound lists, first match wins.
with classified_events as (
    select customer_id from intermediate.classified_events
),

customer_ids as (
    select * from identity.customer_ids
),

profiles as (
    select * from staging.profiles
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

profile_members as (
    select
        profile_id,
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
    from profiles
),

profile_customers as (
    select
        m.profile_id,
        arg_min(
            c.customer_id,
            (c.is_shared, list_contains($device_types, m.identifier_type), c.customer_id)
        ) as customer_id
    from profile_members as m
    inner join customer_ids as c
        on m.identifier_type = c.identifier_type
        and m.identifier_value = c.identifier_value
    group by m.profile_id
),

latest_profiles as (
    select
        pc.customer_id,
        p.profile_id,
        p.updated_at,
        p.attributes
    from profile_customers as pc
    inner join profiles as p on pc.profile_id = p.profile_id
    qualify row_number() over (
        partition by pc.customer_id order by p.updated_at desc, p.profile_id desc
    ) = 1
),

customer_attributes as (
    select
        c.customer_id,
        lp.profile_id,
        lp.updated_at as profile_updated_at,
        lp.attributes
    from customers as c
    left join latest_profiles as lp on c.customer_id = lp.customer_id
),

-- persona rules are evaluated once per distinct attribute set
attribute_sets as (
    select distinct attributes from customer_attributes
),

condition_checks as (
    select
        a.attributes,
        k.rule_rank,
        k.attribute,
        bool_or(
            k.attribute is null
            or coalesce(like_escape(lower(a.attributes[k.attribute]), k.pattern, '\'), false)
        ) as holds
    from attribute_sets as a
    cross join persona_conditions as k
    group by a.attributes, k.rule_rank, k.attribute
),

first_persona as (
    select
        attributes,
        min(rule_rank) as rule_rank
    from (
        select attributes, rule_rank
        from condition_checks
        group by attributes, rule_rank
        having bool_and(holds)
    )
    group by attributes
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
    left join first_persona as fp on ca.attributes is not distinct from fp.attributes
    left join persona_rules as pr on fp.rule_rank = pr.rule_rank
)

select * from final
