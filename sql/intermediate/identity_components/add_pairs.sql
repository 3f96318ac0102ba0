-- identity, incremental: intermediate.identity_pairs gains the pairs of the new identifier sets
-- that it lacks (intermediate._identity_new_pairs; the same pairs as sql/intermediate/identity_pairs.sql
-- makes of them). Sets are never removed in an incremental build, so no pair is.
create or replace table intermediate._identity_new_pairs as
with members as (
    select
        identifier_set,
        unnest(map_keys(identifiers)) as identifier_type,
        unnest(map_values(identifiers)) as identifier_value
    from intermediate._identity_new_sets
    where cardinality(identifiers) > 1
),

candidates as (
    select distinct
        a.identifier_type,
        a.identifier_value,
        b.identifier_type as other_type,
        b.identifier_value as other_value
    from members as a
    inner join members as b
        on a.identifier_set = b.identifier_set
        and (a.identifier_type <> b.identifier_type or a.identifier_value <> b.identifier_value)
)

select c.*
from candidates as c
anti join intermediate.identity_pairs as p using (identifier_type, identifier_value, other_type, other_value);

insert into intermediate.identity_pairs by name
select * from intermediate._identity_new_pairs;
