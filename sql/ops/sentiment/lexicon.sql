-- grain: one row per single-word token of the VADER lexicon that ships with vaderSentiment
-- intermediate.sentiment_lexicon, from the lexicon read in Python ($tokens and $valences, in the same order).
select
    unnest($tokens::varchar[]) as token,
    unnest($valences::double[]) as valence
