"""Attribution: which touchpoints earn the conversions and the revenue.

The touches (``intermediate.attribution_touches``) and the five rule-based models
(first_touch, last_touch, linear, time_decay, position_based) are set-based SQL. The two
algorithmic models work on small aggregates that SQL prepares:

* **markov** - a first-order chain over ``(start) -> touchpoints -> (conversion) | (null)``
  from the transition counts of every journey (``intermediate.attribution_transitions``).
  The probability of reaching ``(conversion)`` from ``(start)`` is solved exactly as an
  absorbing chain, ``(I - Q) x = r``; the removal effect of a touchpoint is
  ``1 - P(conversion | touchpoint removed) / P(conversion)``, where removing a touchpoint sends
  every transition into it to ``(null)``. Credits are the removal effects normalised to the
  total conversions (and, separately, the total revenue).
* **shapley** - exact Shapley values over the coalitions of touchpoints, with the "subset"
  characteristic function ``v(S)`` = conversions (revenue) of the converting journeys whose
  touchpoint set is contained in ``S`` (``intermediate.attribution_touch_sets``). A game of
  ``n`` players has ``2^n`` coalitions, so above ``shapley_max_touchpoints`` distinct
  touchpoints the rarest (fewest converting journeys) merge into one player, ``(other)``.

Loops here run over touchpoints and coalitions, never over events or journeys.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from transforms.config import AttributionSettings, parse_duration
from transforms.warehouse import replace_table, run_sql, sql_file

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley")
START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
NONE = "(none)"
"""The touch of a journey that has no attributable touch left: it keeps every model's sums exact."""
OTHER = "(other)"
"""The Shapley player that stands for the rarest touchpoints above the cap."""
TOLERANCE = 1e-9
"""Credits must sum to the totals within TOLERANCE x max(1, |total|)."""

_MODEL_CREDITS_SCHEMA = pa.schema([
    ("model", pa.string()),
    ("touchpoint", pa.string()),
    ("conversions", pa.float64()),
    ("revenue", pa.float64()),
    ("removal_effect", pa.float64()),
    ("n_converting_journeys", pa.int64()),
])


@dataclass(frozen=True)
class Credit:
    """The credit one model gives one touchpoint."""

    touchpoint: str
    conversions: float
    revenue: float
    removal_effect: float | None = None
    n_converting_journeys: int | None = None


# --------------------------------------------------------------------------- parameters


def attribution_params(settings: AttributionSettings) -> dict[str, Any]:
    """SQL parameters of the attribution models."""
    return {
        "lookback_seconds": parse_duration(settings.lookback),
        "half_life_seconds": parse_duration(settings.half_life),
        "exclude_touchpoints": list(settings.exclude_touchpoints),
    }


# --------------------------------------------------------------------------- markov


def conversion_probability(transitions: Iterable[tuple[str, str, float]],
                           removed: str | None = None) -> float:
    """P(reaching (conversion) from (start)) of the first-order chain whose transition counts
    are `transitions` (from_state, to_state, n), optionally with one state removed (every
    transition into it goes to (null) instead). Solved exactly: (I - Q) x = r."""
    p, _ = _absorption(list(transitions), [removed] if removed is not None else [])
    return p[0]


def _absorption(transitions: list[tuple[str, str, float]], removals: Sequence[str | None]) -> tuple[list[float], list[str]]:
    """Absorption probability in (conversion) from (start), for the full chain and for each
    removal in `removals` (None = nothing removed). Returns (probabilities, touch states)."""
    states = sorted({s for f, t, _ in transitions for s in (f, t)} - {START, CONVERSION, NULL})
    index = {s: i + 1 for i, s in enumerate(states)}
    index[START] = 0
    m = len(states) + 1
    counts = np.zeros((m, m))
    to_conversion = np.zeros(m)
    out = np.zeros(m)
    for f, t, n in transitions:
        if f in (CONVERSION, NULL):
            raise ValueError(f"an absorbing state cannot have outgoing transitions: {f} -> {t}")
        if t == START:
            raise ValueError(f"nothing can lead back to {START}: {f} -> {t}")
        i = index[f]
        out[i] += n
        if t == CONVERSION:
            to_conversion[i] += n
        elif t != NULL:
            counts[i, index[t]] += n
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(out > 0, 1.0 / np.where(out > 0, out, 1.0), 0.0)
    q = counts * scale[:, None]
    r = to_conversion * scale
    eye = np.eye(m)
    result = []
    for removed in removals:
        qr, rr = q, r
        if removed is not None:
            if removed not in index or removed == START:
                raise ValueError(f"cannot remove {removed!r}: not a touch state of the chain")
            j = index[removed]
            qr, rr = q.copy(), r.copy()
            qr[:, j] = 0.0  # transitions into the removed state are lost (they go to (null))
            qr[j, :] = 0.0
            rr[j] = 0.0
        x = np.linalg.solve(eye - qr, rr)
        result.append(float(x[0]))
    return result, states


def markov_removal_effects(transitions: Iterable[tuple[str, str, float]]) -> tuple[float, dict[str, float]]:
    """(P(conversion), touch state -> removal effect) of the chain of `transitions`.

    Removal effect = 1 - P(conversion | state removed) / P(conversion); 0 for every state when
    nothing converts."""
    transitions = list(transitions)
    states = sorted({s for f, t, _ in transitions for s in (f, t)} - {START, CONVERSION, NULL})
    if not states:
        return 0.0, {}
    probs, _ = _absorption(transitions, [None, *states])
    p = probs[0]
    if p <= 0:
        return 0.0, {s: 0.0 for s in states}
    return p, {s: max(0.0, 1.0 - pr / p) for s, pr in zip(states, probs[1:], strict=True)}


def markov_credits(transitions: Iterable[tuple[str, str, float]], total_conversions: float,
                   total_revenue: float) -> list[Credit]:
    """Removal effects normalised so that credits sum to the totals; one Credit per touch state."""
    _, effects = markov_removal_effects(transitions)
    total_effect = math.fsum(effects.values())
    out = []
    for state, effect in effects.items():
        share = effect / total_effect if total_effect > 0 else 0.0
        out.append(Credit(state, share * total_conversions, share * total_revenue, removal_effect=effect))
    return out


# --------------------------------------------------------------------------- shapley

TouchSet = tuple[Sequence[str], float, float]
"""(touchpoints of a converting journey, conversions, revenue) - one row per distinct set."""


def merge_rare_touchpoints(sets: Sequence[TouchSet], max_players: int) -> tuple[list[TouchSet], list[str], list[str]]:
    """Cap the number of Shapley players at `max_players`: keep the `max_players - 1` touchpoints
    in the most converting journeys (ties by name) and merge the rest into OTHER. Returns the
    re-aggregated sets, the players and the merged touchpoints."""
    reach: dict[str, float] = {}
    for tps, conv, _ in sets:
        for tp in set(tps):
            reach[tp] = reach.get(tp, 0.0) + conv
    ranked = sorted(reach, key=lambda tp: (-reach[tp], tp))
    if len(ranked) <= max_players:
        return [(tuple(sorted(set(t))), c, r) for t, c, r in sets], sorted(ranked), []
    kept = set(ranked[: max_players - 1])
    merged = sorted(set(ranked) - kept)
    agg: dict[tuple[str, ...], list[float]] = {}
    for tps, conv, rev in sets:
        key = tuple(sorted({tp if tp in kept else OTHER for tp in tps}))
        acc = agg.setdefault(key, [0.0, 0.0])
        acc[0] += conv
        acc[1] += rev
    return [(k, v[0], v[1]) for k, v in agg.items()], sorted([*kept, OTHER]), merged


def shapley_values(sets: Sequence[TouchSet], players: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
    """Exact Shapley values (conversions, revenue) of the game
    v(S) = sum of the conversions (revenue) of the sets contained in S,
    enumerating all 2^n coalitions of the n players (vectorised over coalitions)."""
    if players is None:
        players = sorted({tp for tps, _, _ in sets for tp in tps})
    players = list(players)
    n = len(players)
    if n == 0:
        return {}
    if n > 24:
        raise ValueError(f"{n} Shapley players need 2^{n} coalitions; merge the rarest first")
    bit = {p: 1 << i for i, p in enumerate(players)}
    size = 1 << n
    v = np.zeros((size, 2))
    masks = np.fromiter((sum(bit[tp] for tp in set(tps)) for tps, _, _ in sets), dtype=np.int64, count=len(sets))
    values = np.array([(c, r) for _, c, r in sets], dtype=float).reshape(-1, 2)
    np.add.at(v, masks, values)
    # zeta transform: v[S] = sum of the values of the sets contained in S
    for i in range(n):
        view = v.reshape(size >> (i + 1), 2, 1 << i, 2)
        view[:, 1] += view[:, 0]
    pop = np.bitwise_count(np.arange(size, dtype=np.int64))
    # weight of a coalition of s players that excludes player i: s! (n - s - 1)! / n!
    weight = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    out = {}
    for i, p in enumerate(players):
        view = v.reshape(size >> (i + 1), 2, 1 << i, 2)
        gain = view[:, 1] - view[:, 0]
        w = weight[pop.reshape(size >> (i + 1), 2, 1 << i)[:, 0]]
        out[p] = (float(np.sum(w * gain[..., 0])), float(np.sum(w * gain[..., 1])))
    return out


def shapley_credits(sets: Sequence[TouchSet], max_players: int) -> tuple[list[Credit], list[str]]:
    """Shapley credits per player (touchpoints, OTHER when the cap merges some) and the merged
    touchpoints."""
    capped, players, merged = merge_rare_touchpoints(sets, max_players)
    values = shapley_values(capped, players)
    reach: dict[str, int] = {}
    for tps, conv, _ in capped:
        for tp in set(tps):
            reach[tp] = reach.get(tp, 0) + round(conv)
    return [Credit(p, c, r, n_converting_journeys=reach.get(p, 0)) for p, (c, r) in values.items()], merged


# --------------------------------------------------------------------------- building


def build_model_credits(con: duckdb.DuckDBPyConnection, settings: AttributionSettings) -> dict[str, Any]:
    """intermediate.attribution_transitions and intermediate.attribution_touch_sets ->
    intermediate.attribution_model_credits (one row per algorithmic model and touchpoint): the
    Markov removal effects and the Shapley values, solved exactly here. Returns a summary."""
    transitions = [(f, t, float(n)) for f, t, n in run_sql(
        con, "intermediate/attribution_model_credits/transitions"
    ).fetchall()]
    sets: list[TouchSet] = [(tuple(tps), float(n), float(rev or 0.0)) for tps, n, rev in run_sql(
        con, "intermediate/attribution_model_credits/touch_sets"
    ).fetchall()]
    total_conversions = math.fsum(s[1] for s in sets)
    total_revenue = math.fsum(s[2] for s in sets)

    markov = markov_credits(transitions, total_conversions, total_revenue)
    shapley, merged = shapley_credits(sets, settings.shapley_max_touchpoints)
    n_rows = write_model_credits(con, {"markov": markov, "shapley": shapley})
    return {
        "rows": n_rows,
        "conversions": total_conversions,
        "revenue": round(total_revenue, 2),
        "shapley_players": len(shapley),
        "shapley_merged_into_other": ", ".join(merged) or "none",
    }


def write_model_credits(con: duckdb.DuckDBPyConnection, credits: Mapping[str, Sequence[Credit]]) -> int:
    """intermediate.attribution_model_credits: one row per algorithmic model and touchpoint."""
    rows = [(model, c.touchpoint, c.conversions, c.revenue, c.removal_effect, c.n_converting_journeys)
            for model, cs in credits.items() for c in cs]
    frame = pa.Table.from_pylist(
        [dict(zip(_MODEL_CREDITS_SCHEMA.names, r, strict=True)) for r in rows], schema=_MODEL_CREDITS_SCHEMA
    )
    name = "attribution_model_credits_frame"
    con.register(name, frame)
    try:
        return replace_table(con, "intermediate.attribution_model_credits",
                             sql_file("intermediate/attribution_model_credits/credits"), {"credits": name})
    finally:
        con.unregister(name)
