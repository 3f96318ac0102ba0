-- How many customers the run under way rebuilds (none: a model incremental by customer is not rewritten).
select count(*) from intermediate.dirty_customers;
