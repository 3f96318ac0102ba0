-- any_order: the distinct step masks of the matched events, in order (the kinds of events)
select distinct smask
from funnel_matches
where smask <> 0
order by smask;
