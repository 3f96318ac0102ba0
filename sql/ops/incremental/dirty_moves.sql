-- The run's dirty set: both customers of every identifier set whose customer identity changed
-- since the last dirty set (intermediate._identity_moves: identity writes it in the same step as
-- intermediate.identifier_sets: a linking identifier merged customers, a shared one split them).
insert into found
select customer_id from (
    select unnest([old_customer_id, new_customer_id]) as customer_id
    from intermediate._identity_moves
)
where customer_id is not null;
