"""Identity stitching: staging.events + staging.profiles -> identity.customer_ids.

Identifiers seen together in one event or profile link (Segment anonymousId with userId and
traits.email, CRM contact with email, support requester with email). The customers are the
connected components of that graph, after cutting every identifier that links more than
`max_linked_identifiers` others of one type (a kiosk's anonymousId, an info@ address): those are
reported in identity.shared_identifiers and merge nobody.

Everything is set-based in DuckDB: the graph comes from the *distinct* identifier sets of the
events (sql/intermediate/identity_*.sql), and components are found by label propagation with
pointer jumping: each iteration is one SQL statement over all nodes, repeated until no label
changes (a handful of iterations; the loop runs per iteration, never per event or per node).

A customer's id is 'c_' + the first 16 hex digits of SHA-256 of the smallest
'identifier_type:identifier_value' of its component: the same input always gives the same ids,
whatever the row order, and data about other customers never changes them.

A nightly run builds identity incrementally (issue 16, point 8), exactly as a full build would,
reading only the new events: intermediate._identity_partition_sets counts the identifier sets
of each source and landing day, so a run recounts only the days it loaded again (and those whose
event copies moved between staging.events and intermediate.duplicate_events), and learns from
the differences which sets are new and whether one is gone. The new sets add their pairs and
identifiers (node ids stay as they were: new identifiers are numbered after the largest), the
identifiers of the new pairs are counted again (one that crosses the shared threshold loses its
links), and only the components those identifiers were or now are in get the label propagation
again, with their rows of identity.customer_ids and the rows of intermediate.identifier_sets of
their customers. A set that is gone (a reloaded day or an erasure removed events) would remove
links, so then identity builds in full, as it does when its SQL or settings changed, on the
first build, after a build that stopped half-way (intermediate._identity_state), after an
erasure, and when its tables were written by another build (Spark).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb

from transforms.config import IdentitySettings
from transforms.warehouse import (
    VERSIONS_TABLE,
    build_model,
    count_rows,
    has_table,
    mark_changed,
    mark_scoped,
    replace_table,
    run_sql,
    sql_file,
    transaction,
)

MAX_ITERATIONS = 200
# The statements of the label propagation: sql/intermediate/identity_components/*.sql
_STEPS = "intermediate/identity_components"


CUSTOMER_IDS = "identity.customer_ids"
# the customers whose rows of identity.customer_ids an incremental build replaced, before and
# after (sql/intermediate/identity_components/add_customer_ids.sql): that write's scope
CUSTOMER_IDS_SCOPE = "intermediate._identity_scope"
# The tables of identity in build order; each is rebuilt in full, or in an incremental identity
# build updated by the statement named here (sql/intermediate/identity_components/<name>.sql).
SETS = "intermediate.identity_sets"
COMPONENTS = "intermediate.identity_components"
LAST = "intermediate.identifier_sets"
INCREMENTAL_STATEMENTS = {
    "intermediate.identity_pairs": "add_pairs",
    "intermediate.identity_nodes": "add_nodes",
    "intermediate.identity_edges": "add_edges",
    CUSTOMER_IDS: "add_customer_ids",
    LAST: "add_identifier_sets",
}
IDENTITY_TABLES = (SETS, *(t for t in INCREMENTAL_STATEMENTS if t != LAST), COMPONENTS,
                   "identity.shared_identifiers", LAST)
# what the incremental build compares with: the sets of each landing day and what they were
# counted from (sql/intermediate/identity_components/partition_sets.sql, remember_loads.sql)
_BOOKKEEPING = ("intermediate._identity_partition_sets", "intermediate._identity_loads",
                "intermediate._identity_duplicates")
_LOAD_TABLES = ("raw._partitions", "intermediate.duplicate_events")


@dataclass(frozen=True)
class IdentityRun:
    mode: str  # full | incremental
    pending: bool
    reason: str | None
    n_new_sets: int | None
    n_erasures: int | None
    sets_current: bool  # intermediate.identity_sets is as identity last wrote it


def identity_run(con: duckdb.DuckDBPyConnection) -> IdentityRun | None:
    """The identity build under way or last finished (None before the first)."""
    if not has_table(con, "intermediate._identity_state") or not has_table(con, "intermediate._table_versions"):
        return None
    rows = run_sql(con, f"{_STEPS}/read_state").fetchall()
    return IdentityRun(*rows[0]) if rows else None


def _incremental_now(con: duckdb.DuckDBPyConnection) -> bool:
    run = identity_run(con)
    return run is not None and run.pending and run.mode == "incremental"


def _erasures(con: duckdb.DuckDBPyConnection) -> int:
    return run_sql(con, "ops/incremental/count_erasures").fetchall()[0][0] if has_table(con, "marts.erasures") else 0


def _why_full(con: duckdb.DuckDBPyConnection, last: IdentityRun | None, n_erasures: int) -> str | None:
    wanted = (*IDENTITY_TABLES, *_BOOKKEEPING, *_LOAD_TABLES)
    found = {r for (r,) in run_sql(con, f"{_STEPS}/existing_tables", {"r": list(wanted)}).fetchall()}
    if last is None or not {*IDENTITY_TABLES, *_BOOKKEEPING} <= found:
        return "no earlier identity build"
    if last.pending:
        return "the last identity build did not finish"
    if not set(_LOAD_TABLES) <= found:
        return "no load ledger to compare with"
    if not last.sets_current:
        return "identity's tables were written by another build"
    if last.n_erasures != n_erasures:
        return "an erasure was recorded since the last identity build"
    return None


def build_identity_sets(con: duckdb.DuckDBPyConnection, params: dict[str, Any], *,
                        full_reason: str | None) -> dict[str, Any]:
    """Build intermediate.identity_sets and decide how the rest of identity builds this run:
    incrementally when the last identity build finished, `full_reason` is None (the caller's
    verdict: asked for in full, SQL or settings changed) and no set of the last build is gone.
    Returns metadata for a person (mode, reason, new sets)."""
    run_sql(con, f"{_STEPS}/state_table")
    run_sql(con, "ops/warehouse/versions_table")
    n_erasures = _erasures(con)
    reason = full_reason or _why_full(con, identity_run(con), n_erasures)
    n_new = None
    if reason is None:
        try:
            n_new, n_gone, n_staged, n_counted = run_sql(con, f"{_STEPS}/changed_sets").fetchall()[0]
            if n_staged != n_counted:
                reason = (f"the staged events ({n_staged:,}) are not those identity counted ({n_counted:,}): "
                          "staging changed without a load")
            elif n_gone:
                reason = f"{n_gone:,} identifier set(s) of the last build are gone (a reloaded day or an erasure)"
            else:
                with transaction(con):
                    # pending from here: a build that stops before intermediate.identifier_sets
                    # makes the next one a full build
                    run_sql(con, f"{_STEPS}/begin", {"mode": "incremental", "reason": None, "n_new_sets": n_new,
                                                     "n_erasures": n_erasures})
                    mark_changed(con, SETS)
                    run_sql(con, f"{_STEPS}/apply_sets")
                    run_sql(con, f"{_STEPS}/remember_loads")
                    run_sql(con, f"{_STEPS}/sets_version")
        finally:
            run_sql(con, f"{_STEPS}/sets_cleanup")
    if reason is not None:
        run_sql(con, f"{_STEPS}/begin", {"mode": "full", "reason": reason, "n_new_sets": None,
                                         "n_erasures": n_erasures})
        build_model(con, SETS, params)
        run_sql(con, f"{_STEPS}/partition_sets")
        has_loads = all(has_table(con, t) for t in _LOAD_TABLES)
        run_sql(con, f"{_STEPS}/remember_loads" if has_loads else f"{_STEPS}/forget_loads")
        run_sql(con, f"{_STEPS}/sets_version")
    md: dict[str, Any] = {"rows": count_rows(con, SETS), "identity_mode": "incremental" if reason is None else "full"}
    if reason:
        md["identity_reason"] = reason
    else:
        md["new_sets"] = n_new
    return md


def build_identity_table(con: duckdb.DuckDBPyConnection, relation: str, params: dict[str, Any], *,
                         track_moves: bool = True) -> dict[str, Any]:
    """Build one table of identity after intermediate.identity_sets: in full, or, in an
    incremental identity build, by its statement of INCREMENTAL_STATEMENTS (in one transaction).
    intermediate.identifier_sets, the last, finishes the identity build, and adds the sets whose
    customer changed to identity's change log (`recording_moves`; `track_moves=False` in a run
    that builds everything in full, which needs no log)."""
    if relation in INCREMENTAL_STATEMENTS and _incremental_now(con):
        with transaction(con):
            tracked = relation == LAST and moves_current(con)
            if relation != CUSTOMER_IDS:
                mark_changed(con, relation)
            run_sql(con, f"{_STEPS}/{INCREMENTAL_STATEMENTS[relation]}", params)  # LAST: adds to the log
            if relation == CUSTOMER_IDS:  # published: the analyst file replaces just these customers' rows
                mark_scoped(con, relation, "customer_id", scope=CUSTOMER_IDS_SCOPE)
            if tracked:
                run_sql(con, "ops/incremental/moves_version")
        md: dict[str, Any] = {"identity_mode": "incremental", "rows": count_rows(con, relation)}
    else:
        with recording_moves(con, relation == LAST and track_moves):
            md = {"rows": build_model(con, relation, params)}
    if relation == LAST and identity_run(con) is not None:
        run_sql(con, f"{_STEPS}/finish")
    return md


MOVES_TABLES = ("intermediate._identity_moves", "intermediate._identity_moves_state", VERSIONS_TABLE)


def moves_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether identity's change log (intermediate._identity_moves: the identifier sets whose
    customer changed since the run's last dirty set, old and new customer) covers
    intermediate.identifier_sets as it is. Started by a run's dirty-set step
    (sql/ops/incremental/reset_tracking.sql); a write of the table outside identity's build
    leaves it behind, and the next run then builds in full."""
    found = {r for (r,) in run_sql(con, f"{_STEPS}/existing_tables", {"r": list(MOVES_TABLES)}).fetchall()}
    return found == set(MOVES_TABLES) and bool(run_sql(con, "ops/incremental/moves_current").fetchall()[0][0])


@contextlib.contextmanager
def recording_moves(con: duckdb.DuckDBPyConnection, enabled: bool) -> Iterator[None]:
    """Around a write of intermediate.identifier_sets in full (a full identity build, or one on
    Spark) when identity's change log is current: each set's customer before it, then the sets
    whose customer changed added to the log (a comparison of every set, as the write read every
    set). The incremental build adds its own (add_identifier_sets.sql)."""
    tracked = enabled and moves_current(con)
    if tracked:
        run_sql(con, f"{_STEPS}/moves_before")
    try:
        yield
        if tracked:
            with transaction(con):
                run_sql(con, f"{_STEPS}/moves_full")
                run_sql(con, "ops/incremental/moves_version")
    finally:
        if tracked:
            run_sql(con, f"{_STEPS}/moves_cleanup")


def identity_params(settings: IdentitySettings) -> dict[str, Any]:
    """Bound parameters of the identity SQL models."""
    return {
        "max_linked": int(settings.max_linked_identifiers),
        "device_types": list(settings.device_identifiers),
    }


def build_components(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """intermediate.identity_components, in full or, in an incremental identity build, for the
    affected nodes only. Returns metadata (rows, iterations, and the nodes recomputed)."""
    if isinstance(con, duckdb.DuckDBPyConnection) and _incremental_now(con):
        iterations, recomputed = affected_components(con)
        return {"identity_mode": "incremental", "rows": count_rows(con, COMPONENTS), "iterations": iterations,
                "recomputed_nodes": recomputed,
                "summary": f"identity: {recomputed:,} identifier(s) of the components new links touch recomputed"}
    iterations = connected_components(con)
    run = identity_run(con) if isinstance(con, duckdb.DuckDBPyConnection) else None
    md: dict[str, Any] = {"identity_mode": "full", "rows": count_rows(con, COMPONENTS), "iterations": iterations}
    if run is not None and run.pending and run.reason:
        md["summary"] = f"identity built in full: {run.reason}"
    return md


def _propagate(con: duckdb.DuckDBPyConnection) -> int:
    iterations = 0
    while True:
        iterations += 1
        if iterations > MAX_ITERATIONS:
            raise RuntimeError(f"identity components did not converge in {MAX_ITERATIONS} iterations")
        changed = run_sql(con, f"{_STEPS}/step").fetchall()[0][0]
        if changed == 0:
            return iterations


def affected_components(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The incremental form of connected_components: the same label propagation over the
    affected nodes only (sql/intermediate/identity_components/start_affected.sql says which, and
    why that is exact), whose rows of intermediate.identity_components it replaces. Returns the
    iterations and the number of nodes recomputed."""
    run_sql(con, f"{_STEPS}/start_affected")
    try:
        iterations = _propagate(con)
        with transaction(con):
            mark_changed(con, COMPONENTS)
            recomputed = run_sql(con, f"{_STEPS}/replace_affected").fetchall()[0][0]
    finally:
        run_sql(con, f"{_STEPS}/cleanup")
    return iterations, recomputed


def connected_components(con: duckdb.DuckDBPyConnection) -> int:
    """intermediate.identity_edges (one row per directed link) -> intermediate.identity_components
    (one row per linked node with the smallest node of its component). Returns the number of
    iterations. Each node starts with its own id as label; an iteration gives every node the
    smallest label among itself and its neighbours, then the label of its label (pointer
    jumping); labels only decrease and stay inside the component, so at the fixed point every
    node carries its component's smallest node id."""
    run_sql(con, f"{_STEPS}/start")
    try:
        iterations = _propagate(con)
        replace_table(con, "intermediate.identity_components", sql_file(f"{_STEPS}/result"))
    finally:
        run_sql(con, f"{_STEPS}/cleanup")
    return iterations
