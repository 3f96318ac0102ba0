-- In the analyst file's connection: a row of a landing day of temp table publish_days. $first and
-- $last bound the days, so the scans skip other days' row groups by min/max (a table is appended
-- day by day).
_partition between $first and $last
and (source, _partition) in (select (source, _partition) from publish_days)
