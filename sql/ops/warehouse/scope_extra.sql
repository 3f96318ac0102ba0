-- Temp table scope_extra: the customers outside the run's dirty set whose rows a scoped write
-- also changes (filled by a model's `also_updates` statements, read by mark_scoped_extra.sql).
create or replace temp table scope_extra (customer_id varchar);
