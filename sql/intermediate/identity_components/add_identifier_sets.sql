-- identity, incremental: the rows of intermediate.identifier_sets whose customer may have changed,
-- chosen again by the rule of sql/intermediate/identifier_sets.sql: the new sets, and the sets
-- of the customers the recomputed identifiers had (intermediate._identity_old_customers). That
-- is every set that can change: the identifiers of a set that are not shared are linked, so
-- they are one component and the set's customer is that component's; if one of them was
-- recomputed, so was the whole component, and the set's old customer is among the old
-- customers. A set of shared identifiers only keeps its customer (an identifier stays shared
-- once it is: links only grow in an incremental build). The sets whose customer changed are
-- added to identity's change log (intermediate._identity_moves) with the customer they had and
-- the one they have: the next dirty set reads them there (sql/ops/incremental/dirty_moves.sql).
create or replace temp table identity_redo_sets as
select s.identifier_set, s.identifiers
from intermediate.identity_sets as s
where s.identifier_set in (
    select identifier_set from intermediate.identifier_sets
    where customer_id in (select customer_id from intermediate._identity_old_customers)
    union
    select identifier_set from intermediate._identity_new_sets
);

create or replace temp table identity_redo_before as
select identifier_set, customer_id
from intermediate.identifier_sets
where identifier_set in (select identifier_set from identity_redo_sets);

delete from intermediate.identifier_sets
where identifier_set in (select identifier_set from identity_redo_sets);

insert into intermediate.identifier_sets by name
with set_members as (
    select
        identifier_set,
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
    from identity_redo_sets
)

select
    m.identifier_set,
    arg_min(
        c.customer_id,
        (c.is_shared, list_contains($device_types, m.identifier_type), c.customer_id)
    ) as customer_id
from set_members as m
inner join identity.customer_ids as c
    on m.identifier_type = c.identifier_type
    and m.identifier_value = c.identifier_value
group by m.identifier_set;

insert into intermediate._identity_moves by name
select
    r.identifier_set,
    b.customer_id as old_customer_id,
    s.customer_id as new_customer_id
from identity_redo_sets as r
left join identity_redo_before as b on r.identifier_set = b.identifier_set
left join intermediate.identifier_sets as s on r.identifier_set = s.identifier_set
where b.customer_id is distinct from s.customer_id;

drop table identity_redo_sets;

drop table identity_redo_before;
