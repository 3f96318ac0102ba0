"""Funnels: step matching, attempts and outcomes, set-based in DuckDB.

Input: ``marts.journey_events`` (one row per event). Output, per configured funnel:

* ``intermediate.funnel_definitions`` (one row per funnel) and ``intermediate.funnel_steps``
  (one row per funnel and step): the configuration as tables, plus ``as_of``, the newest event;
* ``intermediate.funnel_attempts``: one row per funnel and unit (customer or journey) that
  entered the funnel: the counted attempt, its step times and events, exclusion and status;
* ``intermediate.funnel_breakdown_values``: one row per funnel, unit and breakdown;
* ``intermediate.funnel_period_attempts``: one row per funnel, unit and ISO week in which the
  unit starts an attempt: the counted attempt of the attempts starting that week, for
  ``marts.funnel_step_trends``. The week the unit's counted attempt starts in has that attempt
  (it is also the furthest, first-arriving, latest-starting one of its week); for each other
  week the same programme runs once more over a copy of the unit's events from the week's first
  start to its last start plus the window, starting attempts only in that week (events after the
  last start that match step 1 only are left out; without exclusions, outside any_order mode, a
  week's row is read off the state its counted attempt ends in, without walking the chain back);
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
* Each unit counts once, at the furthest step any attempt reaches. The counted attempt is the
  first to arrive there (the earliest furthest-step event) and, for that arrival, the latest start
  that reaches it (PostHog's funnel UDF: A@0 B@1 A@10 B@20 converts in 1 s, from A@0; with a
  1-hour window A@1:00, A@1:30, B@1:45, C@2:15 converts from the 1:30 start, as in Amplitude's
  docs). In any_order mode: the first instant at which a window holds the most steps, and the
  latest window start that holds them by then. Within that attempt the step times are the
  earliest ones: the furthest step's earliest event, then, going back, the
  event that leads on to it at the highest step (an optional step is taken rather than skipped
  when the attempt can take it), the earliest such.
* Exclusions apply to the counted attempt: an event matching the exclusion, other than the
  attempt's own events, at or after the event of ``from_step`` and at or before the event of
  ``to_step`` (when the attempt never reached ``to_step``: until its window closes) removes the
  unit from the funnel (it stays in intermediate.funnel_attempts with ``is_excluded``).
* Status: ``converted`` (reached the last step), ``in_window`` (not converted, and the
  attempt's window is still open at ``as_of``, the newest event in marts.journey_events; in
  strict mode also no later event of the unit has broken it), else ``dropped``.
  The keyed tables store no status (as_of moves every night, also for customers a nightly run
  does not rebuild): they store ``open_until_at``, the window's end, null when the attempt can
  never be in_window (converted, or broken in strict mode); marts.funnel_customers and
  marts.funnel_step_trends decide the status against intermediate.funnel_definitions.as_of.
  marts.funnel_customers is itself keyed by customer: a nightly run rebuilds its customers' rows
  and updates the status of the other rows as_of moved (sql/marts/funnel_customers/as_of_moved.sql).

The matching is a dynamic programme over steps (a Python loop over a funnel's steps, never over
events or units): state = (step, event, events used at that instant); each state keeps only the
most recent start that reaches it, which dominates every earlier start (its window closes last),
so one pass per step is linear in the matched events (window functions over the unit's events;
equal-time and strict transitions are equi-joins). In ordered mode a state reached from the same
predecessor as an earlier state of its step is not kept (the earlier one dominates it), unless
other matched events share its instant: most events of a busy step never become states.

The statements live in sql/intermediate/funnel_programme/ and run through run_sql, bound to
values: steps and exclusions reach SQL as condition rows (classify.match_conditions, the one
compiler of EventMatch), the funnels and their steps as lists; Python only decides which of the
fixed statements a funnel's mode and gaps call for.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from transforms.classify import match_conditions
from transforms.config import DEFAULT_BREAKDOWN_LIMIT, FunnelConfig, StepConfig, parse_duration
from transforms.incremental import build_incremental
from transforms.warehouse import build_parts, count_rows, replace_table, run_sql, sql_file

NONE_VALUE = "(none)"
# Breakdowns computed per unit rather than read from the attempt's events.
UNIT_BREAKDOWNS = {
    "first_touchpoint": "touchpoint of the unit's first classified event (touchpoint other than 'unclassified')",
    "cohort_month": "month (YYYY-MM) of the customer's first event",
}
MAX_EXCLUSIONS = 40
# An event's `mask`: bits 0..15 the steps it matches, bits 16.. the exclusions.
EXCLUSION_BIT = 16
# The frame of a step without max_gap reaches every earlier state: 2^62 microseconds back.
UNBOUNDED_US = 1 << 62
PROGRAMME = "intermediate/funnel_programme"


class FunnelError(ValueError):
    """A funnel cannot be computed as configured (e.g. a breakdown names no column)."""


# --------------------------------------------------------------------------- steps as conditions


def step_conditions(step: StepConfig, props: list[str]) -> list[tuple[str, str, str, str, int]]:
    """The condition rows of one step (see classify.match_conditions): a phase or touchpoint
    step is one exact comparison, an event step the conditions of its EventMatch."""
    if step.phase is not None:
        return [("phase", "phase", "equals", step.phase, 0)]
    if step.touchpoint is not None:
        return [("touchpoint", "touchpoint", "equals", step.touchpoint, 0)]
    assert step.event is not None
    return match_conditions(step.event, props)


def condition_params(funnels: Sequence[FunnelConfig]) -> dict[str, Any]:
    """Bound parameters of sql/intermediate/funnel_programme/match_events.sql: every step and
    exclusion of every funnel (a target: funnel and bit) as condition rows (funnel, bit, group,
    field, kind, pattern, property), the property paths they read, and each funnel's unit.
    Named apart from the classification's $cond_* lists: a parameter name means one thing."""
    props: list[str] = []
    cond: dict[str, list[Any]] = {k: [] for k in ("funnel", "bit", "group", "field", "kind", "pattern", "prop")}
    for f in funnels:
        targets = [(i, step_conditions(s, props)) for i, s in enumerate(f.steps)]
        targets += [(EXCLUSION_BIT + i, match_conditions(e.event, props)) for i, e in enumerate(f.exclusions)]
        for bit, rows in targets:
            groups: list[str] = []
            for group, field, kind, pattern, prop in rows:
                if group not in groups:
                    groups.append(group)
                cond["funnel"].append(f.name)
                cond["bit"].append(bit)
                cond["group"].append(groups.index(group) + 1)
                cond["field"].append(field)
                cond["kind"].append(kind)
                cond["pattern"].append(pattern)
                cond["prop"].append(prop)
    return {
        **{f"target_{k}": v for k, v in cond.items()},
        "target_prop_paths": props,
        "target_use_external": "external_referrer" in cond["field"],
        "funnel_names": [f.name for f in funnels],
        "funnel_units": [f.unit for f in funnels],
    }


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

    def exclusion_params(self) -> dict[str, list[int]]:
        """The exclusions as bound lists: number, from_step, to_step."""
        ex = self.config.exclusions
        return {
            "exclusion_index": list(range(1, len(ex) + 1)),
            "exclusion_from_step": [e.from_step for e in ex],
            "exclusion_to_step": [e.to_step or self.n for e in ex],
        }


# --------------------------------------------------------------------------- running it


def journey_event_columns(con: duckdb.DuckDBPyConnection) -> list[str] | None:
    """Columns of marts.journey_events, or None when the table does not exist."""
    rows = run_sql(con, f"{PROGRAMME}/journey_event_columns").fetchall()
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


def _ordered_chains(con: duckdb.DuckDBPyConnection, plan: FunnelPlan, *, with_chain: bool = True) -> None:
    """The dynamic programme over the funnel's steps (a loop over steps, never over events),
    the state each unit's counted attempt ends in, then (`with_chain`) its chain back."""
    strict = plan.config.mode == "strict"
    run_sql(con, f"{PROGRAMME}/first_states")
    for k in range(2, plan.n + 1):
        min_gap, max_gap = plan.gaps_us(k)
        params: dict[str, Any] = {"k": k, "window_us": plan.window_us, "lo": plan.required_before(k), "hi": k - 1}
        parts: list[str] = []
        if strict:
            parts.append("later_strict")
            params |= {"min_gap_us": min_gap, "max_gap_us": max_gap}
        else:
            eff_min = max(min_gap, 1)
            if max_gap is None:
                parts.append("later_ordered")
                params |= {"eff_min_us": eff_min, "span_us": UNBOUNDED_US, "prune": plan.unbounded_after(k)}
            elif max_gap >= eff_min:
                parts.append("later_ordered")
                params |= {"eff_min_us": eff_min, "span_us": max_gap - eff_min, "prune": False}
        if min_gap == 0:
            parts.append("same_instant")
        if not parts:
            break
        run_sql(con, f"{PROGRAMME}/predecessors", params)
        for part in parts:
            run_sql(con, f"{PROGRAMME}/{part}", params)
        run_sql(con, f"{PROGRAMME}/next_states", params)
    run_sql(con, f"{PROGRAMME}/chosen_states")
    if with_chain:
        run_sql(con, f"{PROGRAMME}/chain")


def _any_order_chains(con: duckdb.DuckDBPyConnection, plan: FunnelPlan) -> None:
    masks = [r[0] for r in run_sql(con, f"{PROGRAMME}/step_kinds").fetchall()]
    if not masks:
        run_sql(con, f"{PROGRAMME}/empty_chain")
        return
    params = {"n": plan.n, "masks": masks, "n_subsets": 1 << plan.n, "window_us": plan.window_us}
    run_sql(con, f"{PROGRAMME}/any_order_windows", params)
    run_sql(con, f"{PROGRAMME}/matching_sizes", params | {"vectors": "funnel_windows"})
    run_sql(con, f"{PROGRAMME}/any_order_arrivals", params)
    run_sql(con, f"{PROGRAMME}/matching_sizes", params | {"vectors": "funnel_starts"})
    run_sql(con, f"{PROGRAMME}/any_order_chosen", params)
    run_sql(con, f"{PROGRAMME}/matching_sizes", params | {"vectors": "funnel_prefixes"})
    run_sql(con, f"{PROGRAMME}/any_order_chain")


def _attempts(con: duckdb.DuckDBPyConnection, plan: FunnelPlan, rows: str) -> None:
    """The counted attempt of every unit of funnel_matches, into `rows` (attempt_rows or period_rows)."""
    params = {
        "funnel": plan.name, "unit": plan.config.unit, "n": plan.n, "window_us": plan.window_us,
        "strict": plan.config.mode == "strict", **plan.exclusion_params(),
    }
    if plan.config.mode == "any_order":
        _any_order_chains(con, plan)
    else:
        _ordered_chains(con, plan)
    run_sql(con, f"{PROGRAMME}/attempts", params)
    run_sql(con, f"{PROGRAMME}/{rows}", params)


def _breakdown_values(con: duckdb.DuckDBPyConnection, plan: FunnelPlan, columns: Sequence[str]) -> None:
    f = plan.config
    attribution = f.breakdown_attribution
    for b in f.breakdowns:
        params: dict[str, Any] = {"funnel": plan.name, "unit": f.unit, "breakdown": b, "none": NONE_VALUE}
        if b in UNIT_BREAKDOWNS:
            run_sql(con, f"{PROGRAMME}/value_{b}", params)
            continue
        if b not in columns:
            raise FunnelError(f"funnel {plan.name}: breakdown {b!r} is not a column of marts.journey_events")
        step = int(attribution[5:]) if attribution.startswith("step_") else 0
        run_sql(con, f"{PROGRAMME}/value_event_column", params | {"attribution": attribution, "step": step})


def definition_params(funnels: Sequence[FunnelConfig], as_of: Any) -> dict[str, Any]:
    """Bound lists of intermediate.funnel_definitions (def_*) and funnel_steps (step_*)."""
    p: dict[str, list[Any]] = {k: [] for k in (
        "def_funnel", "def_unit", "def_mode", "def_n_steps", "def_window_seconds", "def_breakdowns",
        "def_breakdown_attribution", "def_breakdown_limit", "def_n_exclusions", "step_funnel", "step_index", "step_name",
        "step_n_steps", "step_is_optional", "step_min_gap_seconds", "step_max_gap_seconds")}
    for f in funnels:
        plan = FunnelPlan(f)
        for key, value in (("funnel", f.name), ("unit", f.unit), ("mode", f.mode), ("n_steps", plan.n),
                           ("window_seconds", parse_duration(f.window)), ("breakdowns", list(f.breakdowns)),
                           ("breakdown_attribution", f.breakdown_attribution),
                           ("breakdown_limit", f.breakdown_limit or DEFAULT_BREAKDOWN_LIMIT),
                           ("n_exclusions", len(f.exclusions))):
            p["def_" + key].append(value)
        for i, (s, name) in enumerate(zip(f.steps, plan.step_names(), strict=True), 1):
            p["step_funnel"].append(f.name)
            p["step_index"].append(i)
            p["step_name"].append(name)
            p["step_n_steps"].append(plan.n)
            p["step_is_optional"].append(s.optional)
            p["step_min_gap_seconds"].append(parse_duration(s.min_gap) if s.min_gap else None)
            p["step_max_gap_seconds"].append(parse_duration(s.max_gap) if s.max_gap else None)
    return {**p, "as_of": as_of}


def _select(name: str) -> str:
    """The one select of a programme file, for replace_table."""
    return sql_file(f"{PROGRAMME}/{name}").strip().rstrip(";")


KEYED = ("intermediate.funnel_attempts", "intermediate.funnel_breakdown_values", "intermediate.funnel_period_attempts")
"""The programme's tables keyed by customer (their .yaml says `incremental_by: customer_id`)."""


def build_funnel_tables(con: duckdb.DuckDBPyConnection, funnels: Sequence[FunnelConfig], *,
                        scoped: bool = False, parts: int | None = None) -> dict[str, Any]:
    """marts.journey_events -> intermediate.funnel_definitions, funnel_steps, funnel_attempts and
    funnel_breakdown_values (one row per funnel and unit, and breakdown), from which the SQL
    model marts.funnel_customers is built. Returns row counts and seconds per funnel. Raises
    FunnelError when marts.journey_events is missing or a breakdown names no column.

    `scoped` (an incremental run, issue 16): the programme reads the events of the customers of
    intermediate.dirty_customers only, and replaces their rows of the keyed tables (KEYED: delete
    and insert by customer, in one transaction each, transforms/incremental.py); the definitions,
    with as_of (the newest event of all customers), are rebuilt whole. No keyed row depends on
    as_of: the marts decide in_window and period_complete against it."""
    columns = journey_event_columns(con)
    if columns is None:
        raise FunnelError("marts.journey_events does not exist: materialize it before the funnels")
    check_breakdowns(funnels, columns)
    for f in funnels:
        if len(f.exclusions) > MAX_EXCLUSIONS:
            raise FunnelError(f"funnel {f.name}: at most {MAX_EXCLUSIONS} exclusions")
    as_of = run_sql(con, f"{PROGRAMME}/as_of").fetchall()[0][0]
    timings: dict[str, float] = {}
    # a full build runs the programme over parts of the customers when marts.journey_events
    # outgrows the memory limit (its temp tables hold every matched event; at 100M they spilled
    # 43.8 GB): a unit's attempts read only its customer's events, so the parts add up to the whole
    # (`parts` sets their number)
    if scoped:
        parts = 1
    elif parts is None:
        parts = build_parts(con, KEYED[0], sql_file(f"{PROGRAMME}/journey_events_all"))[1]
    try:
        run_sql(con, f"{PROGRAMME}/accumulators")
        for part in range(parts):
            if scoped:
                run_sql(con, f"{PROGRAMME}/journey_events_scoped")
            elif parts == 1:
                run_sql(con, f"{PROGRAMME}/journey_events_all")
            else:
                run_sql(con, f"{PROGRAMME}/journey_events_part", {"parts": parts, "part": part})
            if funnels:
                run_sql(con, f"{PROGRAMME}/match_events", condition_params(funnels))
            for f in funnels:
                t0 = time.monotonic()
                plan = FunnelPlan(f)
                run_sql(con, f"{PROGRAMME}/matches", {"funnel": f.name})
                if f.mode == "strict":
                    run_sql(con, f"{PROGRAMME}/strict_times", {"unit": f.unit})
                _attempts(con, plan, "attempt_rows")
                _breakdown_values(con, plan, columns)
                # for marts.funnel_step_trends: a unit starting in one week only keeps the attempt just
                # counted; the programme runs again once per week of start of the other units
                run_sql(con, f"{PROGRAMME}/period_matches", {"funnel": f.name, "window_us": plan.window_us,
                                                              "any_order": f.mode == "any_order"})
                if f.mode == "any_order" or f.exclusions:
                    _attempts(con, plan, "period_rows")
                else:
                    # without exclusions, a week's row needs only where its counted attempt ends
                    _ordered_chains(con, plan, with_chain=False)
                    run_sql(con, f"{PROGRAMME}/period_chosen", {
                        "funnel": f.name, "n": plan.n, "window_us": plan.window_us, "strict": f.mode == "strict"})
                timings[f.name] = round(timings.get(f.name, 0) + time.monotonic() - t0, 3)
        params = definition_params(funnels, as_of)
        replace_table(con, "intermediate.funnel_definitions", _select("definitions"), params)
        replace_table(con, "intermediate.funnel_steps", _select("steps"), params)
        selects = ("attempts_table", "breakdown_values_table", "period_attempts_table")
        for relation, name in zip(KEYED, selects, strict=True):
            if scoped:
                build_incremental(con, relation, _select(name), {})
            else:
                replace_table(con, relation, _select(name))
        n_attempts = count_rows(con, "intermediate.funnel_attempts")
    finally:
        run_sql(con, f"{PROGRAMME}/cleanup")
    return {"attempts": n_attempts, "funnels": ", ".join(f.name for f in funnels) or "none",
            "mode": "incremental" if scoped else "full", "parts": parts,
            "seconds_per_funnel": timings}
