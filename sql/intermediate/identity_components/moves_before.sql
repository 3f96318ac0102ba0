-- identity's change log, around a write of intermediate.identifier_sets in full (a full identity
-- build in a nightly run, or one on Spark): each set's customer before it (temp table
-- identifier_sets_before; moves_full.sql compares).
create or replace temp table identifier_sets_before as
select identifier_set, customer_id from intermediate.identifier_sets;
