-- The DuckDB-alone read of the landing files (issue 15's ingestion yardstick): the same files
-- the pipeline loads ($clickstream, $crm, $contacts, $support: lists of paths, gzip or not),
-- read into typed columns with DuckDB's own readers and no checks (no accounting of bad
-- lines, no identity hashing, no masking, no de-duplication). One temp table a source.
create or replace temp table read_clickstream as
select
    messageId as id,
    coalesce(event, type) as event_name,
    try_cast(timestamp as timestamptz) as occurred_at,
    anonymousId as anonymous_id,
    userId as user_id,
    traits.email as email,
    context.page.url as url,
    context.page.referrer as referrer,
    context.campaign.source as utm_source,
    context.campaign.medium as utm_medium,
    context.campaign.name as utm_campaign,
    context.device.type as device,
    try_cast(coalesce(properties->>'revenue', properties->>'total') as double) as amount,
    properties
from read_json(
    $clickstream, format = 'newline_delimited', ignore_errors = true,
    columns = {
        messageId: 'varchar', type: 'varchar', event: 'varchar', anonymousId: 'varchar', userId: 'varchar',
        timestamp: 'varchar', traits: 'struct(email varchar)',
        context: 'struct(page struct(url varchar, referrer varchar), campaign struct(source varchar, medium varchar, name varchar), device struct(type varchar))',
        properties: 'json'
    }
);

create or replace temp table read_crm as
select
    activity_id as id,
    activity_type as event_name,
    try_cast(occurred_at as timestamp) as occurred_at,
    contact_id,
    email,
    channel,
    try_cast(amount as double) as amount
from read_csv($crm, header = true, all_varchar = true, ignore_errors = true, union_by_name = true);

create or replace temp table read_contacts as
select
    contact_id as id,
    try_cast(created_at as timestamp) as occurred_at,
    email,
    company,
    industry,
    company_size,
    segment,
    lifecycle_stage
from read_csv($contacts, header = true, all_varchar = true, ignore_errors = true, union_by_name = true);

create or replace temp table read_support as
select
    id,
    type as event_name,
    try_cast(created_at as timestamptz) as occurred_at,
    requester.id as requester_id,
    requester.email as email,
    via.channel as channel,
    try_cast(csat as double) as csat,
    satisfaction.score as satisfaction,
    comment.body as text,
    ticket_id,
    status,
    tags
from read_json(
    $support, format = 'newline_delimited', ignore_errors = true,
    columns = {
        id: 'varchar', ticket_id: 'varchar', type: 'varchar', created_at: 'varchar', status: 'varchar',
        requester: 'struct(id varchar, email varchar)', via: 'struct(channel varchar)', csat: 'varchar',
        satisfaction: 'struct(score varchar)', comment: 'struct(body varchar, author varchar)', tags: 'json'
    }
);

select
    (select count(*) from read_clickstream)
    + (select count(*) from read_crm)
    + (select count(*) from read_contacts)
    + (select count(*) from read_support);
