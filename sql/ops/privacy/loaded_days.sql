-- The loaded partitions of source $s.
select _partition
from raw._partitions
where source = $s
order by _partition
