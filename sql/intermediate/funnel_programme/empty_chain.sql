-- any_order with no step event: no attempt
create or replace temp table funnel_chain as
select unit_id, 1 as step, event_id, t_us
from funnel_matches
where false;
