-- grain: one row per flagged touchpoint, phase and kind, ranked
-- depends on: marts.touchpoint_health, intermediate.support_steps
-- The cells of the journey map where customers suffer: where journeys end without converting,
-- where what customers say is negative, and after which steps they contact support - each far
-- above the average step, with enough customers to matter, ranked, with a label for a slide.
with touchpoint_health as (
    select
        touchpoint,
        phase,
        stage,
        n_customers,
        n_closed_journeys,
        n_exits,
        exit_rate,
        n_scored_events,
        n_scored_customers,
        n_negative_events,
        negative_share
    from marts.touchpoint_health
    where touchpoint <> 'unclassified' and stage = 'front'
),

-- ---- exits and negative sentiment, against the pooled rate of all front-stage cells

exit_cells as (
    select
        'exits' as kind,
        touchpoint,
        phase,
        n_customers,
        n_closed_journeys as n_base,
        n_exits as n_affected,
        exit_rate as rate,
        sum(n_exits) over () / nullif(sum(n_closed_journeys) over (), 0) as baseline_rate
    from touchpoint_health
),

sentiment_cells as (
    select
        'negative sentiment' as kind,
        touchpoint,
        phase,
        n_scored_customers as n_customers,
        n_scored_events as n_base,
        n_negative_events as n_affected,
        negative_share as rate,
        sum(n_negative_events) over () / nullif(sum(n_scored_events) over (), 0) as baseline_rate
    from touchpoint_health
    where n_scored_events > 0
),

-- ---- support contact after a step (per customer: intermediate.support_steps)

step_cells as (
    select
        touchpoint,
        phase,
        count(distinct customer_id) as n_customers
    from intermediate.support_steps
    group by touchpoint, phase
),

contact_cells as (
    select
        touchpoint,
        phase,
        count(distinct customer_id) as n_affected
    from intermediate.support_steps
    where has_contact_after
    group by touchpoint, phase
),

support_cells as (
    select
        'support contact after' as kind,
        step_cells.touchpoint,
        step_cells.phase,
        step_cells.n_customers,
        step_cells.n_customers as n_base,
        coalesce(contact_cells.n_affected, 0) as n_affected,
        coalesce(contact_cells.n_affected, 0) / step_cells.n_customers as rate,
        sum(coalesce(contact_cells.n_affected, 0)) over () / sum(step_cells.n_customers) over ()
            as baseline_rate
    from step_cells
    left join contact_cells
        on step_cells.touchpoint = contact_cells.touchpoint
        and step_cells.phase = contact_cells.phase
),

-- ---- flag, score, rank, label

candidates as (
    select * from exit_cells
    union all
    select * from sentiment_cells
    union all
    select * from support_cells
),

flagged as (
    select
        *,
        rate / baseline_rate as lift,
        -- Wilson 95% lower bound of the rate: a small cell must clear its own noise
        (
            rate + 1.96 ^ 2 / (2 * n_base)
            - 1.96 * sqrt(rate * (1 - rate) / n_base + 1.96 ^ 2 / (4 * n_base ^ 2))
        ) / (1 + 1.96 ^ 2 / n_base) as rate_lower_bound
    from candidates
    where
        n_customers >= $min_customers
        and n_affected > 0
        and baseline_rate > 0
        and rate >= $min_lift * baseline_rate
),

scored as (
    select
        *,
        rate_lower_bound / baseline_rate as score
    from flagged
),

labelled as (
    select
        *,
        coalesce(map($touchpoint_names::varchar[], $touchpoint_labels::varchar[])[touchpoint], touchpoint)
        || ' · '
        || coalesce(map($phase_names::varchar[], $phase_labels::varchar[])[phase], phase)
        || ': '
        || case when rate < 0.095 then printf('%.1f', 100 * rate) else printf('%.0f', 100 * rate) end
        || '% '
        || case kind
            when 'exits' then 'of journeys that reach this step end here without converting'
            when 'negative sentiment' then 'of what customers say or rate here is negative'
            else 'of customers contact support within ' || $support_within_text || ' after this step'
        end
        || ', '
        || printf('%.1f', lift)
        || '× the average'
        || case kind when 'negative sentiment' then '' else ' step' end
        || ' ('
        || format('{:,}', n_customers)
        || ' customers).' as label
    from scored
),

final as (
    select
        row_number() over (
            order by score desc, n_affected desc, touchpoint, phase, kind
        )::integer as rank,
        touchpoint,
        phase,
        kind,
        n_customers,
        n_affected,
        rate,
        baseline_rate,
        lift,
        score,
        label
    from labelled
)

select * from final
order by rank
