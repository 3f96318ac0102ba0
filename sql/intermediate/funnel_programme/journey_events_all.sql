-- The journey events the funnel programme reads (funnel_journey_events), a full build: all of
-- marts.journey_events (a view, nothing copied).
create or replace temp view funnel_journey_events as
select * from marts.journey_events;
