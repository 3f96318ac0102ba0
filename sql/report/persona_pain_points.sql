-- grain: one row per persona (not 'all') and one of its top $top_pains pain points
-- Each persona's own pain points: the touchpoint x phase cells where the persona's journeys end
-- without a conversion clearly more often than the persona's average cell ($min_lift times, at
-- least $min_exits journeys). Cells in phases after the conversion phase are left out: a
-- journey that ends after purchase, in use or loyalty, is not lost.
with conversion_phase as (
    select min(phase_order) as phase_order
    from (
        select phase_order, count(*) as n
        from marts.journey_events
        where is_conversion and phase_order is not null
        group by phase_order
        order by n desc, phase_order
        limit 1
    )
),

last_events as (
    select journey_id, coalesce(persona, 'unknown') as persona, phase, phase_order, touchpoint
    from marts.journey_events
    where phase_order is not null
    qualify row_number() over (partition by journey_id order by occurred_at desc, step_index desc) = 1
),

exits as (
    select l.persona, l.phase, l.touchpoint, count(*) as n_exits
    from last_events as l
    inner join marts.journeys as j on l.journey_id = j.journey_id
    where not j.converted
    group by all
),

cells as (
    select
        coalesce(persona, 'unknown') as persona,
        phase,
        touchpoint,
        min(phase_order) as phase_order,
        count(distinct journey_id) as n_journeys,
        count(distinct customer_id) as n_customers,
        avg(sentiment) as avg_sentiment
    from marts.journey_events
    where phase_order is not null and coalesce(stage, 'front') <> 'back'
    group by all
),

rated as (
    select
        c.*,
        coalesce(e.n_exits, 0) as n_exits,
        coalesce(e.n_exits, 0) / c.n_journeys as rate,
        sum(coalesce(e.n_exits, 0)) over (partition by c.persona)
        / sum(c.n_journeys) over (partition by c.persona) as baseline_rate
    from cells as c
    left join exits as e
        on c.persona = e.persona and c.phase = e.phase and c.touchpoint = e.touchpoint
),

final as (
    select
        persona,
        phase,
        touchpoint,
        'exits' as kind,
        n_journeys,
        n_customers,
        n_exits,
        rate,
        baseline_rate,
        rate / nullif(baseline_rate, 0) as lift,
        avg_sentiment,
        row_number() over (
            partition by persona order by n_exits - baseline_rate * n_journeys desc, phase_order, touchpoint
        ) as rank
    from rated
    where
        n_exits >= $min_exits
        and rate >= $min_lift * baseline_rate
        and phase_order <= (select coalesce(max(phase_order), 1000) from conversion_phase)
)

select * from final where rank <= $top_pains order by persona, rank
