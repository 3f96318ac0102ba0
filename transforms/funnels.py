"""Funnels: step matching, attempts and outcomes, set-based in DuckDB.

Input: ``marts.journey_events`` (one row per event). Output, per configured funnel:

* ``intermediate.funnel_definitions`` (one row per funnel) and ``intermediate.funnel_steps``
  (one row per funnel and step): the configuration as tables, plus ``as_of``, the newest event;
* ``intermediate.funnel_attempts``: one row per funnel and unit (customer or journey) that
  entered the funnel: the counted attempt, its step times and events, exclusion and status;
* ``intermediate.funnel_breakdown_values``: one row per funnel, unit and breakdown;
* ``marts.funnel_customers`` (sql/marts/funnel_customers.sql) from the two above;
  ``marts.funnel_dropoff`` and ``marts.funnel_trends`` are SQL models over them.

Semantics (DESIGN.md, Funnel), made exact here:

* An attempt starts at any event matching step 1. Its events are distinct, their times never
  decrease along the steps, and each lies within the window W of the attempt's step-1 event
  (``t - t_start <= W``). Step k's ``min_gap``/``max_gap`` bound the time since the previous
  *matched* step (skipped optional steps do not count). Events with equal timestamps may be
  taken in any order that suits the steps ("taken in step order"); when several events match
  exactly the same steps and exclusions at the same instant, an attempt uses them in
  (source_rank, event_id) order (they are interchangeable, so only which one is named changes).
* ``strict``: no event of the unit (of any kind) may lie strictly between two consecutive
  matched steps. With equal timestamps the generous order applies: other events at the
  attempt's first or last instant are placed before or after it; any other event at an instant
  strictly inside the attempt breaks it.
* ``any_order``: an attempt is the window [t, t + W] that starts at a step event; its step
  count is the largest number of steps that distinct events in the window can match (a
  bipartite matching, solved exactly); the i-th step is completed by the earliest event, in
  (occurred_at, source_rank, event_id) order, after which i steps are matched.
* Each unit counts once, at the furthest step any attempt reaches. Among the attempts that
  reach it, the most recent start wins (PostHog's rule, and Amplitude's: with a 1-hour window,
  A@1:00, A@1:30, B@1:45, C@2:15 converts, from the 1:30 start). Within that attempt the step
  times are the earliest ones: the furthest step's earliest event, then, going back, the
  event that leads on to it at the highest step (an optional step is taken rather than skipped
  when the attempt can take it), the earliest such.
* Exclusions apply to the counted attempt: an event matching the exclusion, other than the
  attempt's own events, at or after the event of ``from_step`` and at or before the event of
  ``to_step`` (when the attempt never reached ``to_step``: until its window closes) removes the
  unit from the funnel (it stays in intermediate.funnel_attempts with ``is_excluded``).
* Status: ``converted`` (reached the last step), ``in_window`` (not converted, and the
  attempt's window is still open at ``as_of``, the newest event in marts.journey_events; in
  strict mode also no later event of the unit has broken it), else ``dropped``.

The matching is a dynamic programme over steps (a Python loop over a funnel's steps, never over
events or units): state = (step, event, events used at that instant); each state keeps only the
most recent start that reaches it, which dominates every earlier start (its window closes last),
so one pass per step is linear in the matched events (window functions over the unit's events;
equal-time and strict transitions are equi-joins). In ordered mode a state reached from the same
predecessor as an earlier state of its step is not kept (the earlier one dominates it), unless
other matched events share its instant: most events of a busy step never become states.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from transforms.config import (
    MAX_FUNNEL_STEPS,
    EventMatch,
    FunnelConfig,
    StepConfig,
    glob_to_like,
    parse_duration,
)
from transforms.staging import json_path
from transforms.warehouse import bind, replace_table, sql_with

SOURCE = "marts.journey_events"
NONE_VALUE = "(none)"
# Breakdowns computed per unit rather than read from the attempt's events.
UNIT_BREAKDOWNS = {
    "first_touchpoint": "touchpoint of the unit's first classified event (touchpoint other than 'unclassified')",
    "cohort_month": "month (YYYY-MM) of the customer's first event",
}
MAX_EXCLUSIONS = 40
# An event's `mask`: bits 0..15 the steps it matches, bits 16.. the exclusions. A transition's
# `pkey` is start_rank * 2**32 + (2**32 - 1 - pred_rank): its max is the most recent start, then
# the first predecessor in (step desc, t, mask, used) order.

# EventMatch field -> SQL over marts.journey_events columns (an allow-list: nothing else reaches
# SQL). Hosts are read as the classification rules read them: lower case, without 'www.'.
_HOST = "regexp_extract(lower({col}), '^(?:[a-z][a-z0-9+.-]*://)?(?:www\\.)?([^/?#:]*)', 1)"
_GLOB_COLUMNS = {
    "source": "source",
    "event_name": "event_name",
    "url": "url",
    "path": "url_path",
    "referrer": "referrer",
    "referrer_host": "nullif(" + _HOST.format(col="referrer") + ", '')",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "device": "device",
    "channel": "channel",
}
_REGEX_COLUMNS = {"path_regex": "url_path", "referrer_regex": "referrer"}
_EXTERNAL = (
    "coalesce(" + _HOST.format(col="referrer") + " <> '' and " + _HOST.format(col="referrer")
    + " is distinct from nullif(" + _HOST.format(col="url") + ", ''), false)"
)


class FunnelError(ValueError):
    """A funnel cannot be computed as configured (e.g. a breakdown names no column)."""


# --------------------------------------------------------------------------- predicates


class _Params:
    """Bound parameters of one generated statement: values never become SQL text."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return "$" + name


def _glob_sql(expr: str, globs: str | Sequence[str], params: _Params) -> str:
    """`expr` matches any of the case-insensitive globs (ILIKE: fast, and exact for literals)."""
    items = [globs] if isinstance(globs, str) else list(globs)
    tests = [f"{expr} ilike {params.add(glob_to_like(g))} escape '\\'" for g in items]
    return "(" + " or ".join(tests) + ")" if len(tests) > 1 else tests[0]


def event_predicate(match: EventMatch, params: _Params) -> str:
    """SQL boolean over marts.journey_events columns for one EventMatch (all conditions hold)."""
    parts: list[str] = []
    data = match.model_dump(exclude_defaults=True)
    for key, value in data.items():
        if key in _GLOB_COLUMNS:
            parts.append(_glob_sql(_GLOB_COLUMNS[key], value, params))
        elif key in _REGEX_COLUMNS:
            parts.append(f"regexp_matches({_REGEX_COLUMNS[key]}, {params.add(value)})")
        elif key == "properties":
            for prop, globs in value.items():
                path = json_path(str(prop), "jsonl")  # dots name nested keys, as in the rules
                expr = "json_extract_string(properties, " + params.add(path) + ")"  # the path is a bound parameter
                parts.append(_glob_sql(expr, globs, params))
        elif key == "empty":
            for field in value:
                parts.append(f"coalesce({_GLOB_COLUMNS[field]}, '') = ''")
        elif key == "external_referrer":
            parts.append(_EXTERNAL if value else f"not {_EXTERNAL}")
        else:
            raise FunnelError(f"funnel steps and exclusions do not support the match key {key!r}")
    return "(" + " and ".join(parts) + ")" if parts else "true"


def step_predicate(step: StepConfig, params: _Params) -> str:
    if step.phase is not None:
        return f"(phase = {params.add(step.phase)})"
    if step.touchpoint is not None:
        return f"(touchpoint = {params.add(step.touchpoint)})"
    assert step.event is not None
    return event_predicate(step.event, params)


def step_name(step: StepConfig) -> str:
    """The step's display name: its `name`, else what it matches."""
    if step.name:
        return step.name
    if step.phase is not None:
        return step.phase
    if step.touchpoint is not None:
        return step.touchpoint
    assert step.event is not None
    data = step.event.model_dump(exclude_defaults=True)
    if "event_name" in data:
        v = data["event_name"]
        return v if isinstance(v, str) else " | ".join(v)
    return ", ".join(f"{k}={v}" for k, v in data.items()) or "any event"


# --------------------------------------------------------------------------- the plan of one funnel


def _us(duration: str | None) -> int | None:
    return None if duration is None else int(round(parse_duration(duration) * 1_000_000))


@dataclass(frozen=True)
class FunnelPlan:
    """The numbers the SQL needs, derived from a FunnelConfig."""

    config: FunnelConfig

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def n(self) -> int:
        return len(self.config.steps)

    @property
    def window_us(self) -> int:
        return _us(self.config.window) or 0

    @property
    def unit_column(self) -> str:
        return "customer_id" if self.config.unit == "customer" else "journey_id"

    def step_names(self) -> list[str]:
        if self.config.mode == "any_order":
            return [f"{i} of {self.n} steps" for i in range(1, self.n + 1)]
        return [step_name(s) for s in self.config.steps]

    def required_before(self, k: int) -> int:
        """The last required step before step k (1-based): step k may follow any step from it to k-1."""
        j = k - 1
        while j > 1 and self.config.steps[j - 1].optional:
            j -= 1
        return j

    def unbounded_after(self, k: int) -> bool:
        """No step that may directly follow step k (the next ones up to the first required one)
        has a max_gap: an earlier state of step k can then lead wherever a later one can."""
        for j in range(k + 1, self.n + 1):
            if self.config.steps[j - 1].max_gap is not None:
                return False
            if not self.config.steps[j - 1].optional:
                break
        return True

    def gaps_us(self, k: int) -> tuple[int, int | None]:
        s = self.config.steps[k - 1]
        return _us(s.min_gap) or 0, _us(s.max_gap)

    def exclusion_bounds(self) -> list[tuple[int, int, int]]:
        """(exclusion number, from_step, to_step) for each exclusion."""
        return [(i, e.from_step, e.to_step or self.n) for i, e in enumerate(self.config.exclusions, 1)]


# --------------------------------------------------------------------------- SQL of the programme

_MATCHES = """
create or replace temp table _fm as
with events as (
    select
        {unit} as unit_id,
        customer_id,
        journey_id,
        event_id,
        epoch_us(occurred_at) as t_us,
        source_rank,
        ({step_bits})::bigint as smask,
        ({exclusion_bits})::bigint as xmask
    from marts.journey_events
    where {unit} is not null
),

matched as (
    select *, smask | (xmask << 16) as mask
    from events
    where smask <> 0 or xmask <> 0
),

-- instants of a unit with more than one matched event (rare), found by a hash of (unit, instant):
-- grouping one integer is cheaper than grouping the unit's text id, and a collision only adds an
-- instant whose events are then ranked (and kept as shared) needlessly
shared as (
    select hash(unit_id, t_us) as instant_hash
    from matched
    group by instant_hash
    having count(*) > 1
),

-- their events, each kind ranked in (source_rank, event_id) order
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
    matched.*,
    coalesce(tie_ranks.mask_rank, 1) as mask_rank,
    tie_ranks.event_id is not null as is_shared_instant,
    null::bigint as n_at,
    null::bigint as prev_t_us,
    null::bigint as unit_last_t_us
from matched
left join tie_ranks on matched.event_id = tie_ranks.event_id
"""

# strict mode: how many events of the unit share each instant, the unit's previous instant, its last
_STRICT_TIMES = """
create or replace temp table _fm as
with unit_times as (
    select {unit} as unit_id, epoch_us(occurred_at) as t_us, count(*) as n_at
    from marts.journey_events
    where {unit} in (select unit_id from _fm)
    group by all
),

instants as (
    select
        unit_id,
        t_us,
        n_at,
        lag(t_us) over (partition by unit_id order by t_us) as prev_t_us,
        max(t_us) over (partition by unit_id) as unit_last_t_us
    from unit_times
)

select
    _fm.* exclude (n_at, prev_t_us, unit_last_t_us),
    instants.n_at,
    instants.prev_t_us,
    instants.unit_last_t_us
from _fm
join instants on _fm.unit_id = instants.unit_id and _fm.t_us = instants.t_us
"""

_FIRST_STATES = """
create or replace temp table _fs as
select
    (1::bigint << 40) + row_number() over () as state_id,
    unit_id,
    1 as step,
    event_id,
    t_us,
    mask,
    [mask] as used,
    n_at,
    dense_rank() over (partition by unit_id order by t_us, mask) as start_rank,
    t_us as start_t_us,
    null::bigint as pred_state_id
from _fm
where (smask & 1) <> 0 and mask_rank = 1
"""

# Each transition is (cand: rowid of the candidate event in _fm, used: the events of the attempt
# at that instant, null meaning just the candidate's own kind, pkey: the predecessor's key).

# a later instant, ordered mode: the best predecessor (most recent start, then earliest state)
# among those at least min_gap (and at least 1 microsecond) and at most max_gap earlier; the
# window runs over narrow rows only.
# With $prune (no max_gap on any step that may follow step k), a candidate whose best predecessor
# already led to an earlier candidate is left out: that earlier state has the same start and
# comes first in every order the programme uses (as a predecessor, and as the counted attempt),
# and every later candidate it could lead to the earlier one leads to as well. Candidates at an
# instant with other matched events are kept, for the same-instant transitions.
_LATER_ORDERED = """
select unit_id, cand, null::bigint[] as used, best_key as pkey
from (
    select
        unit_id,
        cand,
        is_shared_instant,
        max(pkey) over w as best_key,
        arg_max(key_t, pkey) over w as best_key_t,
        max(case when cand is not null then key_t end) over (
            partition by unit_id order by key_t range between unbounded preceding and 1 preceding
        ) as previous_cand_t
    from (
        select
            unit_id,
            t_us + $eff_min_us as key_t,
            start_rank * 4294967296 + (4294967295 - pred_rank) as pkey,
            null::bigint as cand,
            null::boolean as is_shared_instant
        from _fp
        union all
        select unit_id, t_us, null, rowid, is_shared_instant
        from _fm
        where ((smask >> ($k - 1)) & 1) = 1 and mask_rank = 1
    )
    window w as (partition by unit_id order by key_t range between {frame_start} and current row)
)
where cand is not null
    and best_key is not null
    and not ($prune and not is_shared_instant and coalesce(best_key_t <= previous_cand_t, false))
"""

# a later instant, strict mode: only from the unit's previous instant, whose events the attempt
# used up unless it is the attempt's first instant
_LATER_STRICT = """
select
    c.unit_id,
    c.rowid as cand,
    null::bigint[] as used,
    max(p.start_rank * 4294967296 + (4294967295 - p.pred_rank)) as pkey
from _fp as p
join _fm as c on p.unit_id = c.unit_id and c.prev_t_us = p.t_us
where ((c.smask >> ($k - 1)) & 1) = 1
    and c.mask_rank = 1
    and (p.t_us = p.start_t_us or len(p.used) = p.n_at)
    and c.t_us - p.t_us >= $min_gap_us
    and ($max_gap_us is null or c.t_us - p.t_us <= $max_gap_us)
group by c.unit_id, c.rowid
"""

# the same instant: the next unused event of its kind (events matching the same steps)
_SAME_INSTANT = """
select unit_id, cand, used, max(pkey) as pkey
from (
    select
        c.unit_id,
        c.rowid as cand,
        list_sort(list_append(p.used, c.mask)) as used,
        p.start_rank * 4294967296 + (4294967295 - p.pred_rank) as pkey
    from _fp as p
    join _fm as c on p.unit_id = c.unit_id and c.t_us = p.t_us
    where ((c.smask >> ($k - 1)) & 1) = 1
        and c.mask_rank = len(list_filter(p.used, lambda m: m = c.mask)) + 1
)
group by unit_id, cand, used
"""

_NEXT_STATES = """
insert into _fs
select * from (
with _fp as (
    select
        state_id, unit_id, t_us, used, n_at, start_rank, start_t_us,
        row_number() over (partition by unit_id order by step desc, t_us, mask, used) as pred_rank
    from _fs
    where step between $lo and $hi
),

transitions as (
    select *, 4294967295 - (pkey % 4294967296) as pred_rank
    from (
        {transitions}
    )
)

select
    ($k::bigint << 40) + row_number() over () as state_id,
    c.unit_id,
    $k::integer as step,
    c.event_id,
    c.t_us,
    c.mask,
    coalesce(s.used, [c.mask]) as used,
    c.n_at,
    p.start_rank,
    p.start_t_us,
    p.state_id as pred_state_id
from transitions as s
join _fp as p on p.unit_id = s.unit_id and p.pred_rank = s.pred_rank
join _fm as c on c.rowid = s.cand
where c.t_us - p.start_t_us <= $window_us
)
"""

# the counted attempt: furthest step, most recent start, earliest state; then its chain back
_CHAIN = """
create or replace temp table _fchain as
with recursive
reached as (
    select unit_id, max(step) as furthest_step from _fs group by unit_id
),

chosen as (
    select _fs.*
    from _fs
    join reached on _fs.unit_id = reached.unit_id and _fs.step = reached.furthest_step
    qualify row_number() over (
        partition by _fs.unit_id order by _fs.start_rank desc, _fs.t_us, _fs.mask, _fs.used
    ) = 1
),

chain as (
    select unit_id, state_id, pred_state_id, step, event_id, t_us from chosen
    union all
    select _fs.unit_id, _fs.state_id, _fs.pred_state_id, _fs.step, _fs.event_id, _fs.t_us
    from _fs
    join chain on _fs.state_id = chain.pred_state_id
)

select unit_id, step, event_id, t_us from chain
"""

# any_order: per start instant, the events of each kind in [t, t + W] (capped at n)
_ANY_WINDOWS = """
create or replace temp table _fw as
select unit_id, t_us, event_id, [{counts}] as cnts
from _fm
where smask <> 0
window w as (partition by unit_id order by t_us range between current row and $window_us following)
qualify row_number() over (partition by unit_id, t_us order by source_rank desc, event_id desc) = 1
"""

# largest matching of steps to the counted events: min over step sets S of n - |S| + |N(S)| (Hall)
_MATCHING_SIZES = """
create or replace temp table _fsizes as
with vectors as (
    select distinct cnts from {table}
)

select
    cnts,
    min(
        $n - bit_count(s) + list_sum(list_transform(
            range(1, len(cnts) + 1),
            lambda i: case when ($masks[i] & s) <> 0 then cnts[i] else 0 end
        ))
    ) as size
from vectors, range(0, $n_subsets) as subsets(s)
group by cnts
"""

_ANY_CHOSEN = """
create or replace temp table _fchosen as
select w.unit_id, w.t_us
from _fw as w
join _fsizes using (cnts)
qualify row_number() over (partition by w.unit_id order by _fsizes.size desc, w.t_us desc) = 1
"""

_ANY_PREFIXES = """
create or replace temp table _fprefix as
select m.unit_id, m.event_id, m.t_us, m.source_rank, [{counts}] as cnts
from _fm as m
join _fchosen as c on m.unit_id = c.unit_id and m.t_us between c.t_us and c.t_us + $window_us
where m.smask <> 0
window w as (
    partition by m.unit_id order by m.t_us, m.source_rank, m.event_id
    rows between unbounded preceding and current row
)
"""

_ANY_CHAIN = """
create or replace temp table _fchain as
select unit_id, size as step, event_id, t_us
from (
    select
        p.unit_id,
        p.event_id,
        p.t_us,
        s.size,
        coalesce(
            lag(s.size) over (partition by p.unit_id order by p.t_us, p.source_rank, p.event_id), 0
        ) as previous_size
    from _fprefix as p
    join _fsizes as s using (cnts)
)
where size > previous_size
"""

_STEP_LIST = "[" + ", ".join(
    f"max({{col}}) filter (where step = {i})" for i in range(1, MAX_FUNNEL_STEPS + 1)
) + "]"

_ATTEMPTS = """
create or replace temp table _fa as
with chains as (
    select
        unit_id,
        max(step)::integer as furthest_step,
        list_slice({t_list}, 1, $n) as step_t_us,
        list_slice({e_list}, 1, $n) as step_event_ids
    from _fchain
    group by unit_id
),

starts as (
    select
        chains.*,
        _fm.customer_id,
        _fm.journey_id,
        _fm.unit_last_t_us,
        _fm.event_id as start_event_id,
        chains.step_t_us[1] as start_t_us,
        chains.step_t_us[chains.furthest_step] as last_t_us
    from chains
    join _fm on _fm.unit_id = chains.unit_id and _fm.event_id = chains.step_event_ids[1]
)

select *, false as is_excluded from starts
"""

_EXCLUDE = """
update _fa set is_excluded = true
where unit_id in (
    select a.unit_id
    from _fa as a
    join _fm as m on m.unit_id = a.unit_id
    where ((m.xmask >> ($exclusion - 1)) & 1) = 1
        and a.furthest_step >= $from_step
        and not list_contains(a.step_event_ids, m.event_id)
        and m.t_us >= list_filter(list_slice(a.step_t_us, 1, $from_step), lambda x: x is not null)[-1]
        and m.t_us <= coalesce(
            list_filter(list_slice(a.step_t_us, $to_step, $n), lambda x: x is not null)[1],
            a.start_t_us + $window_us
        )
)
"""

_INSERT_ATTEMPTS = """
insert into _funnel_attempts
select
    $funnel as funnel,
    $unit as unit,
    unit_id,
    customer_id,
    journey_id,
    start_event_id,
    make_timestamp(start_t_us) as started_at,
    furthest_step::integer as furthest_step,
    case
        when furthest_step = $n then 'converted'
        when start_t_us + $window_us > $as_of_us
            and (not $strict or unit_last_t_us <= last_t_us) then 'in_window'
        else 'dropped'
    end as status,
    is_excluded,
    list_transform(step_t_us, lambda t: make_timestamp(t)) as step_at,
    step_event_ids,
    make_timestamp(start_t_us + $window_us) as window_end_at
from _fa
"""

# (journey_number, step_index) numbers a customer's events in (occurred_at, source_rank, event_id)
# order, so one integer key finds the first event (a struct key cost 4x as much at 10M events)
_UNIT_FIRST_TOUCHPOINT = """
select
    {unit} as unit_id,
    arg_min(touchpoint, journey_number::bigint * 4294967296 + step_index) as value
from marts.journey_events
where {unit} in (select unit_id from _fa) and touchpoint <> 'unclassified'
group by all
"""

_UNIT_COHORT_MONTH = """
select _fa.unit_id, firsts.value
from _fa
join (
    select customer_id, strftime(min(occurred_at), '%Y-%m') as value
    from marts.journey_events
    where customer_id in (select customer_id from _fa)
    group by all
) as firsts on firsts.customer_id = _fa.customer_id
"""

_EVENT_VALUE = """
select unit_id, {aggregate} as value
from (
    select _fchain.unit_id, _fchain.step, e.{column}::varchar as v
    from _fchain
    join marts.journey_events as e on e.event_id = _fchain.event_id
    where e.{column} is not null
)
group by unit_id
"""

_AGGREGATES = {
    "first_touch": "arg_min(v, step)",
    "last_touch": "arg_max(v, step)",
    "step": "max(v) filter (where step = $step)",
}

_INSERT_VALUES = """
insert into _funnel_values
select $funnel as funnel, _fa.unit_id, $breakdown as breakdown, coalesce(v.value, $none) as breakdown_value
from _fa
left join ({values}) as v on v.unit_id = _fa.unit_id
"""

_ACCUMULATORS = """
create or replace temp table _funnel_attempts (
    funnel varchar, unit varchar, unit_id varchar, customer_id varchar, journey_id varchar,
    start_event_id varchar, started_at timestamp, furthest_step integer, status varchar,
    is_excluded boolean, step_at timestamp[], step_event_ids varchar[], window_end_at timestamp
);
create or replace temp table _funnel_values (
    funnel varchar, unit_id varchar, breakdown varchar, breakdown_value varchar
);
"""

_TEMP_TABLES = ("_fm", "_fs", "_fchain", "_fw", "_fsizes", "_fchosen", "_fprefix", "_fa",
                "_funnel_attempts", "_funnel_values")


# --------------------------------------------------------------------------- running it


def journey_event_columns(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """Columns of marts.journey_events, or None when the table does not exist."""
    rows = con.execute(
        "select column_name from duckdb_columns() where schema_name = 'marts' and table_name = 'journey_events' "
        "order by column_index"
    ).fetchall()
    return [r[0] for r in rows] or None


def check_breakdowns(funnels: Sequence[FunnelConfig], columns: Sequence[str]) -> None:
    """Every breakdown names a unit breakdown or a marts.journey_events column."""
    known = set(columns) | set(UNIT_BREAKDOWNS)
    for i, f in enumerate(funnels):
        for b in f.breakdowns:
            if b not in known:
                raise FunnelError(
                    f"funnels.yaml: funnels[{i}] ({f.name}).breakdowns: unknown breakdown {b!r}. Use "
                    f"{', '.join(sorted(UNIT_BREAKDOWNS))} or a column of marts.journey_events: {', '.join(columns)}."
                )


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> None:
    con.execute(sql, bind(sql, params or {}))


def _count_lists(masks: list[int], params: _Params, n: int) -> str:
    return ", ".join(f"least(count(*) filter (where smask = {params.add(m)}) over w, {params.add(n)})" for m in masks)


def _match_events(con: duckdb.DuckDBPyConnection, plan: FunnelPlan) -> None:
    f = plan.config
    params = _Params()
    step_bits = " + ".join(
        f"(case when {step_predicate(s, params)} then {1 << i} else 0 end)" for i, s in enumerate(f.steps)
    )
    exclusion_bits = " + ".join(
        f"(case when {event_predicate(e.event, params)} then {1 << i} else 0 end)" for i, e in enumerate(f.exclusions)
    ) or "0"
    sql = sql_with(_MATCHES, unit=plan.unit_column)
    sql = sql.replace("{step_bits}", step_bits).replace("{exclusion_bits}", exclusion_bits)
    _run(con, sql, params.values)
    if f.mode == "strict":
        _run(con, sql_with(_STRICT_TIMES, unit=plan.unit_column))


def _ordered_chains(con: duckdb.DuckDBPyConnection, plan: FunnelPlan) -> None:
    strict = plan.config.mode == "strict"
    _run(con, _FIRST_STATES)
    for k in range(2, plan.n + 1):
        min_gap, max_gap = plan.gaps_us(k)
        parts: list[str] = []
        params: dict[str, Any] = {"k": k, "window_us": plan.window_us, "lo": plan.required_before(k), "hi": k - 1}
        if strict:
            parts.append(_LATER_STRICT)
            params |= {"min_gap_us": min_gap, "max_gap_us": max_gap}
        else:
            eff_min = max(min_gap, 1)
            if max_gap is None:
                parts.append(_LATER_ORDERED.replace("{frame_start}", "unbounded preceding"))
                params |= {"eff_min_us": eff_min, "prune": plan.unbounded_after(k)}
            elif max_gap >= eff_min:
                parts.append(_LATER_ORDERED.replace("{frame_start}", "$span_us preceding"))
                params |= {"eff_min_us": eff_min, "span_us": max_gap - eff_min, "prune": False}
        if min_gap == 0:
            parts.append(_SAME_INSTANT)
        if not parts:
            break
        _run(con, _NEXT_STATES.replace("{transitions}", "\n    union all\n".join(parts)), params)
    _run(con, _CHAIN)


def _any_order_chains(con: duckdb.DuckDBPyConnection, plan: FunnelPlan) -> None:
    masks = [r[0] for r in con.execute("select distinct smask from _fm where smask <> 0 order by 1").fetchall()]
    if not masks:
        _run(con, "create or replace temp table _fchain as select unit_id, 1 as step, event_id, t_us from _fm where false")
        return
    sizes = {"n": plan.n, "masks": masks, "n_subsets": 1 << plan.n}
    p = _Params()
    counts = _count_lists(masks, p, plan.n)
    _run(con, _ANY_WINDOWS.replace("{counts}", counts), p.values | {"window_us": plan.window_us})
    _run(con, _MATCHING_SIZES.replace("{table}", "_fw"), sizes)
    _run(con, _ANY_CHOSEN)
    p = _Params()
    counts = _count_lists(masks, p, plan.n)
    _run(con, _ANY_PREFIXES.replace("{counts}", counts), p.values | {"window_us": plan.window_us})
    _run(con, _MATCHING_SIZES.replace("{table}", "_fprefix"), sizes)
    _run(con, _ANY_CHAIN)


def _attempts(con: duckdb.DuckDBPyConnection, plan: FunnelPlan, as_of_us: int | None) -> None:
    sql = _ATTEMPTS.replace("{t_list}", _STEP_LIST.replace("{col}", "t_us")).replace(
        "{e_list}", _STEP_LIST.replace("{col}", "event_id")
    )
    _run(con, sql, {"n": plan.n})
    for exclusion, from_step, to_step in plan.exclusion_bounds():
        _run(con, _EXCLUDE, {"exclusion": exclusion, "from_step": from_step, "to_step": to_step,
                             "n": plan.n, "window_us": plan.window_us})
    _run(con, _INSERT_ATTEMPTS, {
        "funnel": plan.name, "unit": plan.config.unit, "n": plan.n, "window_us": plan.window_us,
        "as_of_us": as_of_us if as_of_us is not None else -(2**62), "strict": plan.config.mode == "strict",
    })


def _breakdown_values(con: duckdb.DuckDBPyConnection, plan: FunnelPlan, columns: Sequence[str]) -> None:
    f = plan.config
    attribution = f.breakdown_attribution
    for b in f.breakdowns:
        params: dict[str, Any] = {"funnel": plan.name, "breakdown": b, "none": NONE_VALUE}
        if b == "first_touchpoint":
            values = sql_with(_UNIT_FIRST_TOUCHPOINT, unit=plan.unit_column)
        elif b == "cohort_month":
            values = _UNIT_COHORT_MONTH
        else:
            if b not in columns:
                raise FunnelError(f"funnel {plan.name}: breakdown {b!r} is not a column of marts.journey_events")
            if attribution.startswith("step_"):
                aggregate = _AGGREGATES["step"]
                params["step"] = int(attribution[5:])
            else:
                aggregate = _AGGREGATES[attribution]
            values = sql_with(_EVENT_VALUE, column=b).replace("{aggregate}", aggregate)
        _run(con, _INSERT_VALUES.replace("{values}", values), params)


def definition_rows(funnels: Sequence[FunnelConfig], as_of: Any) -> tuple[list[dict], list[dict]]:
    """Rows of intermediate.funnel_definitions and intermediate.funnel_steps."""
    defs, steps = [], []
    for f in funnels:
        plan = FunnelPlan(f)
        defs.append({
            "funnel": f.name, "unit": f.unit, "mode": f.mode, "n_steps": plan.n,
            "window_seconds": parse_duration(f.window), "breakdowns": list(f.breakdowns),
            "breakdown_attribution": f.breakdown_attribution, "n_exclusions": len(f.exclusions), "as_of": as_of,
        })
        for i, (s, name) in enumerate(zip(f.steps, plan.step_names(), strict=True), 1):
            steps.append({
                "funnel": f.name, "step_index": i, "step_name": name, "n_steps": plan.n,
                "is_optional": s.optional,
                "min_gap_seconds": parse_duration(s.min_gap) if s.min_gap else None,
                "max_gap_seconds": parse_duration(s.max_gap) if s.max_gap else None,
            })
    return defs, steps


_DEFINITIONS_SELECT = """
select
    r.funnel::varchar as funnel,
    r.unit::varchar as unit,
    r.mode::varchar as mode,
    r.n_steps::integer as n_steps,
    r.window_seconds::double as window_seconds,
    r.breakdowns::varchar[] as breakdowns,
    r.breakdown_attribution::varchar as breakdown_attribution,
    r.n_exclusions::integer as n_exclusions,
    r.as_of::timestamp as as_of
from (select unnest($rows) as r)
"""

_DEFINITIONS_EMPTY = """
select
    null::varchar as funnel, null::varchar as unit, null::varchar as mode, null::integer as n_steps,
    null::double as window_seconds, null::varchar[] as breakdowns, null::varchar as breakdown_attribution,
    null::integer as n_exclusions, null::timestamp as as_of
where false
"""

_STEPS_SELECT = """
select
    r.funnel::varchar as funnel,
    r.step_index::integer as step_index,
    r.step_name::varchar as step_name,
    r.n_steps::integer as n_steps,
    r.is_optional::boolean as is_optional,
    r.min_gap_seconds::double as min_gap_seconds,
    r.max_gap_seconds::double as max_gap_seconds
from (select unnest($rows) as r)
"""

_STEPS_EMPTY = """
select
    null::varchar as funnel, null::integer as step_index, null::varchar as step_name,
    null::integer as n_steps, null::boolean as is_optional, null::double as min_gap_seconds,
    null::double as max_gap_seconds
where false
"""


def build_funnel_tables(con: duckdb.DuckDBPyConnection, funnels: Sequence[FunnelConfig]) -> dict[str, Any]:
    """marts.journey_events -> intermediate.funnel_definitions, funnel_steps, funnel_attempts and
    funnel_breakdown_values (one row per funnel and unit, and breakdown), from which the SQL
    model marts.funnel_customers is built. Returns row counts and seconds per funnel. Raises
    FunnelError when marts.journey_events is missing or a breakdown names no column."""
    columns = journey_event_columns(con)
    if columns is None:
        raise FunnelError("marts.journey_events does not exist: materialize it before the funnels")
    check_breakdowns(funnels, columns)
    as_of = con.execute(sql_with("select max(occurred_at), epoch_us(max(occurred_at)) from {t}", t=SOURCE)).fetchall()[0]
    timings: dict[str, float] = {}
    _run(con, _ACCUMULATORS)
    try:
        for f in funnels:
            t0 = time.monotonic()
            plan = FunnelPlan(f)
            if len(f.exclusions) > MAX_EXCLUSIONS:
                raise FunnelError(f"funnel {f.name}: at most {MAX_EXCLUSIONS} exclusions")
            _match_events(con, plan)
            if f.mode == "any_order":
                _any_order_chains(con, plan)
            else:
                _ordered_chains(con, plan)
            _attempts(con, plan, as_of[1])
            _breakdown_values(con, plan, columns)
            timings[f.name] = round(time.monotonic() - t0, 3)
        defs, steps = definition_rows(funnels, as_of[0])
        replace_table(con, "intermediate.funnel_definitions", _DEFINITIONS_SELECT if defs else _DEFINITIONS_EMPTY,
                      {"rows": defs} if defs else {})
        replace_table(con, "intermediate.funnel_steps", _STEPS_SELECT if steps else _STEPS_EMPTY,
                      {"rows": steps} if steps else {})
        n_attempts = replace_table(con, "intermediate.funnel_attempts",
                                   "select * from _funnel_attempts order by funnel, unit_id")
        replace_table(con, "intermediate.funnel_breakdown_values",
                      "select * from _funnel_values order by funnel, unit_id, breakdown")
    finally:
        con.execute(";\n".join(sql_with("drop table if exists {t}", t=t) for t in _TEMP_TABLES))
    return {"attempts": n_attempts, "funnels": ", ".join(f.name for f in funnels) or "none",
            "seconds_per_funnel": timings}
