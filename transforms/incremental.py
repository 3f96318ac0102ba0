"""Incremental builds by customer: the runner's side (issue 16).

A model whose documentation says `incremental_by: customer_id` (or `journey_id`, whose key
starts with the customer's: '<customer_id>-<n>') keeps one customer's rows apart from every
other customer's: its rows for a customer depend only on that customer's input rows. A nightly
run rebuilds such a model for the customers of `intermediate.dirty_customers` only: the runner
restricts what the model reads (each input table that carries a customer, a journey or an
identifier set becomes a subquery of the customers in scope), then deletes the scope's rows of
the target and inserts the result, in one transaction. The model's SQL file is not edited: the
same select runs unrestricted (create or replace) in a full build.

The dirty set (sql/ops/incremental/dirty_customers.sql) compares with what the last finished run
built: the events the loads decided again, identity changes, profile changes. A run builds in
full when there is no finished run to compare with, when an erasure was recorded since, or when
an event without a customer is touched; a model whose fingerprint (its SQL and bound parameters,
with those of everything it reads) changed is built in full, and so is everything after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from transforms.warehouse import (
    apply_comments,
    bind,
    deterministic,
    mark_changed,
    run_sql,
    sql_with,
    table_doc,
    transaction,
)

KEYS = ("customer_id", "journey_id")
DIRTY = "intermediate.dirty_customers"

# the scope of each kind of input, as a predicate on one row of it (runner SQL: the one place
# that restricts what a model reads)
_IN_SCOPE = "(select customer_id from intermediate.dirty_customers)"
_JOURNEY_CUSTOMER = "left(journey_id, length(journey_id) - strpos(reverse(journey_id), '-'))"
PREDICATES = {
    "customer_id": "customer_id in " + _IN_SCOPE,
    "journey_id": _JOURNEY_CUSTOMER + " in " + _IN_SCOPE,
    "identifiers": ("identifiers::varchar in (select identifier_set from intermediate.identifier_sets "
                    "where customer_id in " + _IN_SCOPE + ")"),
}


def incremental_key(relation: str) -> str | None:
    """The key a model is incremental by (its .yaml's `incremental_by`), or None."""
    doc = table_doc(relation)
    key = doc.get("incremental_by") if doc else None
    if key is not None and key not in KEYS:
        raise ValueError(f"{relation}: incremental_by must be one of {', '.join(KEYS)}, not {key!r}")
    return key


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    schema, table = relation.split(".")
    return {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where schema_name = $s and table_name = $t",
        {"s": schema, "t": table}).fetchall()}


def _table_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    return bool(con.execute(
        "select count(*) from duckdb_tables() where schema_name = $s and table_name = $t",
        {"s": schema, "t": table}).fetchall()[0][0])


def input_predicate(con: duckdb.DuckDBPyConnection, relation: str) -> str | None:
    """How an input table is restricted to the customers in scope: by its customer, its
    journey or its identifier set (None: read whole, e.g. a lookup of texts or designs)."""
    cols = _columns(con, relation)
    for column in ("customer_id", "journey_id", "identifiers"):
        if column in cols:
            return PREDICATES[column]
    return None


def scoped_select(con: duckdb.DuckDBPyConnection, select: str, key: str) -> str:
    """`select` with every schema-qualified table it reads in `from`/`join` replaced by the
    subquery of its rows in scope (tables without a customer are left whole), and its result
    kept to the scope. The text is edited at the tokens' positions, so the rest of the model's
    SQL runs as written."""
    tokens = DuckDB().tokenize(select)
    edits: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens[:-3]):
        if tok.token_type not in (TokenType.FROM, TokenType.JOIN):
            continue
        a, dot, b = tokens[i + 1], tokens[i + 2], tokens[i + 3]
        if dot.token_type != TokenType.DOT or a.token_type == TokenType.L_PAREN:
            continue
        relation = f"{a.text}.{b.text}".lower()
        predicate = input_predicate(con, relation)
        if predicate is None:
            continue
        nxt = tokens[i + 4] if i + 4 < len(tokens) else None
        aliased = nxt is not None and nxt.token_type in (TokenType.ALIAS, TokenType.VAR)
        text = "(select * from " + relation + " where " + predicate + ")" + ("" if aliased else " as " + b.text)
        edits.append((a.start, b.end + 1, text))
    for start, end, text in reversed(edits):
        select = select[:start] + text + select[end:]
    return "select * from (\n" + select + "\n) where " + PREDICATES[key]


def build_incremental(con: duckdb.DuckDBPyConnection, relation: str, select: str,
                      params: Mapping[str, Any]) -> int:
    """Rebuild the rows of the customers in scope of `relation` (delete, then insert what the
    scoped select gives), with its documentation and a new version, in one transaction.
    Returns the number of rows inserted."""
    key = incremental_key(relation)
    assert key is not None
    bound = bind(select, params)
    scoped = deterministic(con, scoped_select(con, select, key), bound)
    with transaction(con):
        con.execute(sql_with("delete from {relation} where ", relation=relation) + PREDICATES[key])
        n = con.execute(sql_with("insert into {relation} by name\n", relation=relation) + scoped, bound).fetchall()[0][0]
        apply_comments(con, relation)
        mark_changed(con, relation)
    return n


# --------------------------------------------------------------------------- the run's state


@dataclass(frozen=True)
class RunState:
    mode: str  # full | incremental
    pending: bool  # started, not finished
    reason: str = ""


def ensure_state(con: duckdb.DuckDBPyConnection) -> None:
    run_sql(con, "ops/incremental/state_tables")


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
    run_sql(con, "ops/incremental/save_fingerprint", {"relation": relation, "fingerprint": fingerprint})


def start_run(con: duckdb.DuckDBPyConnection, *, force_full: str | None = None) -> dict[str, Any]:
    """Decide this run's mode and write its dirty set. Returns metadata for a person."""
    ensure_state(con)
    previous = run_sql(con, "ops/incremental/read_state").fetchall()
    newest, has_erasures = run_sql(con, "ops/incremental/newest_load").fetchall()[0]
    n_erasures = run_sql(con, "ops/incremental/count_erasures").fetchall()[0][0] if has_erasures else 0
    reason = force_full
    if reason is None:
        if not previous:
            reason = "no earlier build to compare with"
        elif previous[0][0] == "full" and previous[0][1]:
            reason = "the previous full build did not finish"
        elif previous[0][3] != n_erasures:
            reason = "an erasure was recorded since the last build"
        elif not _table_exists(con, "intermediate._built_identifier_sets"):
            reason = "no earlier build to compare with"
    if reason is None:
        n, n_null = run_sql(con, "ops/incremental/dirty_customers", {
            "since": previous[0][2], "keep_previous": bool(previous[0][1])}).fetchall()[0]
        if n_null:
            reason = "an event without a customer changed"
    if reason is not None:
        n, _ = run_sql(con, "ops/incremental/all_customers").fetchall()[0]
    mode = "full" if reason else "incremental"
    run_sql(con, "ops/incremental/start_run",
            {"mode": mode, "built_through": newest, "n_erasures": n_erasures, "reason": reason})
    return {"mode": mode, "reason": reason or "", "customers": n}


def finish_run(con: duckdb.DuckDBPyConnection) -> bool:
    """Record that the run under way built every model (no-op when none is under way)."""
    if current_run(con) is None:
        return False
    with contextlib.suppress(duckdb.CatalogException):
        run_sql(con, "ops/incremental/finish")
        return True
    return False
