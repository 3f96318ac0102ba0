-- The journey events the funnel programme reads (funnel_journey_events), one part of a full build
-- in parts (transforms/funnels.py): the events of the customers whose id hashes into part $part of
-- $parts (a view, nothing copied; a view takes no parameters, so they wait in two variables). A
-- unit's attempts read only its customer's events, so the parts' rows add up to the whole build's.
-- hash() gives other values on other engines, which splits the customers otherwise and adds up to
-- the same rows; a build on Spark runs in one part (warehouse.build_parts).
set variable funnel_parts = $parts;

set variable funnel_part = $part;

create or replace temp view funnel_journey_events as
select * from marts.journey_events
where hash(customer_id) % getvariable('funnel_parts') = getvariable('funnel_part');
