-- The first and last landing day of temp table publish_days: bound into the statements that
-- replace those days' rows, so their scans skip the row groups of other days by min/max.
select min(_partition), max(_partition) from publish_days;
