-- identity's change log after a write of intermediate.identifier_sets in full: every set whose
-- customer changed (or that is new or gone), with the customer it had (temp table
-- identifier_sets_before, moves_before.sql) and the one it has, added to
-- intermediate._identity_moves. Reads every set: only after a write that read every set too.
insert into intermediate._identity_moves by name
select
    coalesce(b.identifier_set, s.identifier_set) as identifier_set,
    b.customer_id as old_customer_id,
    s.customer_id as new_customer_id
from identifier_sets_before as b
full join intermediate.identifier_sets as s on b.identifier_set = s.identifier_set
where b.customer_id is distinct from s.customer_id;
