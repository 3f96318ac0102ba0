"""Incremental builds by customer: the runner's side (issue 16).

A model whose documentation says `incremental_by: customer_id` (or `journey_id`, whose key
starts with the customer's: '<customer_id>-<n>') keeps one customer's rows apart from every
other customer's: its rows for a customer depend only on that customer's input rows. A nightly
run rebuilds such a model for the customers of `intermediate.dirty_customers` only: the runner
restricts what the model reads (each input table that carries a customer, a journey or an
identifier set becomes a subquery of the customers in scope; staging.events, which carries no
customer, a subquery of the events in scope the dirty-set step lists, intermediate._scope_events:
sql/ops/incremental/scope_events.sql), then deletes the scope's rows of
the target and inserts the result, in one transaction. The model's SQL file is not edited: the
same select runs unrestricted (create or replace) in a full build.

The dirty set (sql/ops/incremental/dirty_*.sql) reads what changed since the last run started,
at the cost of what the loads touched, not of the history: the events of the landing days loaded
since (and the rare events whose staged copy moved to another day), identity's change log
(intermediate._identity_moves: identity writes the identifier sets whose customer changed in
the same step as intermediate.identifier_sets), and the digests of the profiles those days
hold (intermediate._profile_digests); with the dirty set of a run that did not finish. A working
file from before the log compares once with the whole copies the last finished run kept. A run
builds in full when there is no earlier run to compare with, when an erasure was recorded since,
when intermediate.identifier_sets was written outside identity's build, or when an event without
a customer is touched; a model whose fingerprint (its SQL and bound parameters,
with those of everything it reads) changed is built in full, and so is everything after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from transforms.config import Config
from transforms.identity import moves_current
from transforms.warehouse import (
    SCOPE_EVENTS,
    SQL_DIR,
    has_table,
    replace_scope,
    run_sql,
    table_doc,
    transaction,
)

KEYS = ("customer_id", "journey_id")
DIRTY = "intermediate.dirty_customers"
PROFILE_DIGESTS = "intermediate._profile_digests"
# the whole copies the last finished run kept in working files from before identity's change log
OLD_COPIES = ("intermediate._built_identifier_sets", "intermediate._built_profiles")


def incremental_key(relation: str) -> str | None:
    """The key a model is incremental by (its .yaml's `incremental_by`), or None."""
    doc = table_doc(relation)
    key = doc.get("incremental_by") if doc else None
    if key is not None and key not in KEYS:
        raise ValueError(f"{relation}: incremental_by must be one of {', '.join(KEYS)}, not {key!r}")
    return key


def also_updates(relation: str) -> str | None:
    """The statements a build of `relation` for the run's customers runs after it (its .yaml's
    `also_updates`: a file under sql/, named without .sql), or None. They update the rows of
    other customers that change anyway, e.g. a status decided against the newest event of all
    customers (see warehouse.replace_scope)."""
    doc = table_doc(relation)
    name = doc.get("also_updates") if doc else None
    if name is not None and not (SQL_DIR / f"{name}.sql").is_file():
        raise ValueError(f"{relation}: also_updates names {name!r}, but there is no sql/{name}.sql")
    return name


def build_incremental(con: duckdb.DuckDBPyConnection, relation: str, select: str,
                      params: Mapping[str, Any]) -> dict[str, int]:
    """Rebuild the rows of the run's customers of `relation` (see warehouse.replace_scope), and
    update those of other customers its `also_updates` statements change. Returns the rows
    inserted and, with such statements, how many other customers' rows they updated."""
    key = incremental_key(relation)
    if key is None:
        raise ValueError(f"{relation} is not incremental by customer")
    also = also_updates(relation)
    inserted, extra = replace_scope(con, relation, select, key, params, also_updates=also)
    return {"inserted": inserted} | ({"other_customers_updated": extra} if also is not None else {})


# --------------------------------------------------------------------------- the run's state


@dataclass(frozen=True)
class RunState:
    mode: str  # full | incremental
    pending: bool  # started, not finished
    reason: str = ""


_STATE_READY: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
"""Connections known to hold the state tables in their current shape (`prepare_state`)."""


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    if con not in _STATE_READY:
        run_sql(con, "ops/incremental/state_tables")


def prepare_state(con: duckdb.DuckDBPyConnection) -> None:
    """Create the state tables once, outside any transaction (committed), so that each step on
    `con` need not run their DDL again (a run's shared connection does this when it opens)."""
    run_sql(con, "ops/incremental/state_tables")
    _STATE_READY.add(con)


def current_run(con: duckdb.DuckDBPyConnection) -> RunState | None:
    """The run under way (pending), or None when none is: then every model builds in full."""
    ensure_state(con)
    rows = run_sql(con, "ops/incremental/read_state").fetchall()
    if not rows or not rows[0][1]:
        return None
    return RunState(rows[0][0], True)


def stored_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    ensure_state(con)
    return dict(run_sql(con, "ops/incremental/read_fingerprints").fetchall())


def save_fingerprint(con: duckdb.DuckDBPyConnection, relation: str, fingerprint: str) -> None:
    ensure_state(con)
    run_sql(con, "ops/incremental/save_fingerprint", {"relation": relation, "fingerprint": fingerprint})


def config_digest(config: Config) -> str:
    """A digest of every setting (all YAML files as loaded) and of every file under sql/ (the
    models, their docs, the checks and the runner's statements): a run with another
    configuration or other SQL is never "nothing new", even where no model's fingerprint moved.
    Cheap (no parsing), so `journeys run` decides without building the model graph."""
    h = hashlib.sha256(config.model_dump_json().encode())
    for path in sorted(SQL_DIR.rglob("*")):
        if path.is_file():
            h.update(str(path.relative_to(SQL_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _compared_with(con: duckdb.DuckDBPyConnection) -> str | None:
    """What this run's dirty set can compare with: "log" (identity's change log is current and
    the profiles' digests are kept: the dirty set reads only what the loads touched), "copies"
    (a working file from before the log: the last finished run's whole copies of every identifier
    set's customer and of every profile), or None (nothing: the run builds in full)."""
    if has_table(con, PROFILE_DIGESTS) and moves_current(con):
        return "log"
    if all(has_table(con, t) for t in OLD_COPIES):
        return "copies"
    return None


def start_run(con: duckdb.DuckDBPyConnection, *, force_full: str | None = None,
              config: Config | None = None) -> dict[str, Any]:
    """Decide this run's mode and write its dirty set (sql/ops/incremental/dirty_*.sql), then
    move on what the next run compares with (identity's change log emptied, the digests of the
    profiles compared replaced; all of it again after a full decision), in one transaction with
    the run's state. Returns metadata for a person."""
    ensure_state(con)
    previous = run_sql(con, "ops/incremental/read_state").fetchall()
    newest, has_erasures = (run_sql(con, "ops/incremental/newest_load").fetchall()[0]
                            if has_table(con, "raw._partitions") else (None, 0))  # models built without a ledger (tests)
    n_erasures = run_sql(con, "ops/incremental/count_erasures").fetchall()[0][0] if has_erasures else 0
    compared_with = _compared_with(con)
    reason = force_full
    if reason is None:
        if not previous:
            reason = "no earlier build to compare with"
        elif previous[0][0] == "full" and previous[0][1]:
            reason = "the previous full build did not finish"
        elif previous[0][3] != n_erasures:
            reason = "an erasure was recorded since the last build"
        elif compared_with is None:
            reason = ("no record of what changed since the last build (intermediate.identifier_sets "
                      "was written outside identity's build)")
        elif previous[0][1] and not has_table(con, SCOPE_EVENTS):
            reason = ("the previous build did not finish and kept no list of its events in scope "
                      "(an older version started it)")
    with transaction(con):  # a failure rolls back every statement, the temp tables with them
        if reason is None:
            run_sql(con, "ops/incremental/dirty_events", {
                "since": previous[0][2], "keep_previous": bool(previous[0][1])})
            if compared_with == "log":
                run_sql(con, "ops/incremental/dirty_moves")
                run_sql(con, "ops/incremental/dirty_profiles")
            else:
                run_sql(con, "ops/incremental/dirty_snapshot")
            n, n_null = run_sql(con, "ops/incremental/dirty_customers").fetchall()[0]
            if n_null:
                reason = "an event without a customer changed"
        if reason is None:
            run_sql(con, "ops/incremental/scope_events", {"keep_previous": bool(previous[0][1])})
        else:
            n, _ = run_sql(con, "ops/incremental/all_customers").fetchall()[0]
        if reason is None and compared_with == "log":
            run_sql(con, "ops/incremental/advance_tracking")
            run_sql(con, "ops/incremental/moves_version")
        else:
            run_sql(con, "ops/incremental/reset_tracking")
        run_sql(con, "ops/incremental/dirty_cleanup")
        mode = "full" if reason else "incremental"
        run_sql(con, "ops/incremental/start_run",
                {"mode": mode, "built_through": newest, "n_erasures": n_erasures, "reason": reason,
                 "config_digest": config_digest(config) if config is not None else None})
    md: dict[str, Any] = {"mode": mode, "reason": reason or "", "customers": n}
    if mode == "incremental" and compared_with == "copies":
        md["compared_with"] = ("the copies of every identifier set and profile an older version kept; "
                               "identity's change log from the next run on")
    return md


def finish_run(con: duckdb.DuckDBPyConnection) -> bool:
    """Record that the run under way built every model (no-op when none is under way)."""
    if current_run(con) is None:
        return False
    with contextlib.suppress(duckdb.CatalogException):
        run_sql(con, "ops/incremental/finish")
        return True
    return False


# --------------------------------------------------------------------------- nothing new


def nothing_new_since(con: duckdb.DuckDBPyConnection, config: Config, landing: Path,
                      start: date | None = None, end: date | None = None) -> datetime | None:
    """When the last run finished, if a run now over the landing days `start` … `end` would
    find nothing to do; else None. Nothing is new when the last run finished with this
    configuration and these SQL files (`config_digest`: so every model's fingerprint is the one
    it was built with), no erasure was recorded since, every landed day folder in range is as
    it was loaded (none added, none rewritten) and the landing entries no source reads are
    those the last run listed. Reads only (`con` may be read-only)."""
    from transforms.ingest import pending_days
    from transforms.landing import survey_landing

    if not has_table(con, "intermediate._incremental_state") or not has_table(con, "raw._partitions"):
        return None
    try:
        last = run_sql(con, "ops/incremental/last_finished").fetchall()
    except duckdb.BinderException:  # a state table from before finished_at was kept
        return None
    if not last or last[0][1] != config_digest(config):
        return None
    finished_at, _, n_erasures = last[0]
    erasures = run_sql(con, "ops/incremental/count_erasures").fetchall()[0][0] if has_table(con, "marts.erasures") else 0
    if erasures != n_erasures:
        return None
    for name, source in config.sources.items():
        if pending_days(con, landing, name, source, start, end):
            return None
    if not has_table(con, "marts.pipeline_runs") or run_sql(con, "ops/incremental/partitions_without_run_log").fetchall()[0][0]:
        return None
    unread = {(u.source, u.path, u.kind, u.day, u.n_files, u.reason) for u in survey_landing(landing, config)}
    listed = set(run_sql(con, "ops/incremental/unread_entries").fetchall()) if has_table(con, "quarantine.unread_files") else set()
    if unread != listed:
        return None
    return finished_at
