-- One funnel's matched events (temp table funnel_matches): mask = step bits | exclusion bits << 16.
-- can_start: the event may start an attempt (always here; period_matches.sql narrows it).
-- Events sharing an instant with another matched event of the unit (rare) are ranked within their
-- kind (the same mask) in (source_rank, event_id) order; the others have mask_rank 1.
-- the matches numbered in (instant, event) order, an order both engines give: sorted as these
-- two columns alone, then joined back by event (one match per event). Sorting the whole rows cost
-- 10 of the statement's 18 CPU seconds for a funnel of 9.4M matches (one statement: DuckDB folds
-- the join back into the wide sort)
create or replace temp table funnel_match_numbers as
select
    event_id,
    row_number() over (order by t_us, event_id) as match_id
from funnel_event_masks
where funnel = $funnel;

create or replace temp table funnel_matches as
with matched as (
    select
        unit_id,
        customer_id,
        journey_id,
        event_id,
        t_us,
        source_rank,
        mask & 65535 as smask,
        mask >> 16 as xmask,
        mask
    from funnel_event_masks
    where funnel = $funnel
),

-- instants of a unit with more than one matched event, found by a hash of (unit, instant):
-- grouping one integer is cheaper than grouping the unit's text id, and a collision only adds an
-- instant whose events are then ranked (and kept as shared) needlessly
shared as (
    select hash(unit_id, t_us) as instant_hash
    from matched
    group by instant_hash
    having count(*) > 1
),

tie_ranks as (
    select
        matched.event_id,
        row_number() over (
            partition by matched.unit_id, matched.t_us, matched.mask
            order by matched.source_rank, matched.event_id
        ) as mask_rank
    from matched
    semi join shared on hash(matched.unit_id, matched.t_us) = shared.instant_hash
)

select
    numbers.match_id,
    matched.*,
    coalesce(tie_ranks.mask_rank, 1) as mask_rank,
    tie_ranks.event_id is not null as is_shared_instant,
    true as can_start,
    null::bigint as n_at,
    null::bigint as prev_t_us,
    null::bigint as unit_last_t_us
from matched
inner join funnel_match_numbers as numbers on matched.event_id = numbers.event_id
left join tie_ranks on matched.event_id = tie_ranks.event_id;

drop table if exists funnel_match_numbers;
