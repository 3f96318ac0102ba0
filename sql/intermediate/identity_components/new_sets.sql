-- identity, incremental: the identifier sets new since the last build
-- (intermediate._identity_new_sets), and how many of that build's sets are gone (a reloaded day
-- or an erasure that removed events: then identity builds in full). Returns (new, gone).
create or replace table intermediate._identity_new_sets as
select s.identifier_set, s.identifiers
from intermediate.identity_sets as s
anti join intermediate._identity_sets_before as b using (identifier_set)
where s.identifier_set is not null;

create or replace temp table identity_gone_sets as
select count(*) as n_gone
from intermediate._identity_sets_before as b
anti join intermediate.identity_sets as s using (identifier_set)
where b.identifier_set is not null;

drop table intermediate._identity_sets_before;

select
    (select count(*) from intermediate._identity_new_sets) as n_new,
    (select n_gone from identity_gone_sets) as n_gone;
