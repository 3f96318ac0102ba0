-- The staged events carrying any of the identifier values $v.
select count(*) as n
from staging.events
where len(list_intersect(map_values(identifiers), $v)) > 0
