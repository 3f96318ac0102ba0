-- The first and last loaded partition (nulls when nothing is loaded).
select
    min(_partition) as first_partition,
    max(_partition) as last_partition
from raw._partitions
