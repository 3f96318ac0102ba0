-- How many customers the run under way rebuilds (what a nightly check looks at).
select count(*) from intermediate.dirty_customers;
