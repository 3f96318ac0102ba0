-- grain: one row per distinct non-empty text of staging.events
-- depends on: staging.events, intermediate.sentiment_lexicon
-- VADER's lexicon score of each text, set-based: tokens joined to the lexicon, negated when
-- one of the three tokens before is a negation, summed and normalized to -1..1.
with events as (
    select text from staging.events
),

lexicon as (
    select * from intermediate.sentiment_lexicon
),

texts as (
    select distinct text
    from events
    where nullif(trim(text), '') is not null
),

tokenized as (
    select
        text,
        regexp_extract_all(lower(text), $token_pattern) as tokens
    from texts
),

tokens as (
    select
        text,
        tokens,
        unnest(tokens) as token,
        unnest(range(1, len(tokens) + 1)) as position
    from tokenized
),

valences as (
    select
        t.text,
        l.valence * case
            when list_has_any(list_slice(t.tokens, greatest(t.position - 3, 1), t.position - 1), $negations)
                then $negation_scalar
            else 1
        end as valence
    from tokens as t
    inner join lexicon as l on t.token = l.token
),

sums as (
    select
        text,
        count(*) as n_sentiment_words,
        -- exact in any order (a lexicon valence times the negation scalar has at most a few
        -- decimals): the sentiment below, a curve of the sum, must not see its last bit move
        sum(valence::decimal(38, 6))::double as valence_sum
    from valences
    group by text
),

final as (
    select
        x.text,
        len(x.tokens) as n_tokens,
        coalesce(s.n_sentiment_words, 0) as n_sentiment_words,
        coalesce(s.valence_sum, 0) as valence_sum,
        coalesce(s.valence_sum / sqrt(s.valence_sum * s.valence_sum + $alpha), 0) as sentiment
    from tokenized as x
    left join sums as s on x.text = s.text
)

select * from final
