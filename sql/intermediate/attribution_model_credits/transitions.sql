-- the first-order chain of every journey's touchpoints, for the Markov solve
select
    from_state,
    to_state,
    n
from intermediate.attribution_transitions
order by all;
