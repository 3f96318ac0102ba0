-- The hand-written reference: de-duplicate, classify by a rule join, stitch a customer key,
-- per-customer ordered phase lists with repeats collapsed, path variants, and a 3-step
-- windowed funnel, in one query over staging.events.
with rules(event_pattern, phase, phase_order) as (
    values ('page', 'interest', 2), ('Product Viewed', 'interest', 2), ('Products Searched', 'interest', 2),
           ('Product List Viewed', 'interest', 2), ('Product Added', 'comparison', 3),
           ('Cart Viewed', 'comparison', 3), ('Checkout Started', 'purchase', 4),
           ('Payment Info Entered', 'purchase', 4), ('Order Completed', 'purchase', 4),
           ('lead_created', 'awareness', 1), ('email_sent', 'awareness', 1), ('email_opened', 'interest', 2),
           ('demo', 'comparison', 3), ('quote_sent', 'comparison', 3), ('deal_won', 'purchase', 4),
           ('ticket_created', 'usage', 5), ('comment', 'usage', 5)
),
events as (
    select *, coalesce(identifiers['user_id'], identifiers['email'], identifiers['crm_contact_id'],
                       identifiers['support_requester_id'], identifiers['anonymous_id']) as customer
    from staging.events
    qualify row_number() over (partition by event_id order by _partition) = 1
),
classified as (
    select e.customer, e.occurred_at, e.event_id, coalesce(r.phase, 'awareness') as phase,
           coalesce(r.phase_order, 1) as phase_order
    from events e left join rules r on e.event_name = r.event_pattern
),
ordered as (
    select *, lag(phase) over (partition by customer order by occurred_at, event_id) as prev
    from classified
),
paths as (
    select customer, string_agg(phase, ' > ' order by occurred_at, event_id) as path
    from ordered where prev is distinct from phase group by customer
),
variants as (select path, count(*) as n from paths group by path),
funnel as (
    select customer,
        min(occurred_at) filter (where phase_order = 1) as s1
    from classified group by customer
),
f2 as (
    select f.customer, f.s1, min(c.occurred_at) filter (where c.phase_order = 2 and c.occurred_at >= f.s1
        and c.occurred_at <= f.s1 + interval 30 day) as s2
    from funnel f join classified c using (customer) where f.s1 is not null group by all
),
f3 as (
    select f.customer, f.s2, min(c.occurred_at) filter (where c.phase_order = 4 and c.occurred_at >= f.s2
        and c.occurred_at <= f.s1 + interval 30 day) as s3
    from f2 f join classified c using (customer) where f.s2 is not null group by all
)
select (select count(*) from variants), (select count(*) from f2), (select count(s2) from f2), (select count(s3) from f3)
