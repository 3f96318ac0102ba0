-- The partitions of the raw table $relation holding lines blanked with the load error $r.
select distinct _partition
from query_table($relation)
where _load_error = $r
order by _partition
