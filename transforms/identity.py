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
"""

from __future__ import annotations

from typing import Any

import duckdb

from transforms.config import IdentitySettings
from transforms.warehouse import replace_table, run_sql, sql_file

MAX_ITERATIONS = 200
# The statements of the label propagation: sql/intermediate/identity_components/*.sql
_STEPS = "intermediate/identity_components"


def identity_params(settings: IdentitySettings) -> dict[str, Any]:
    """Bound parameters of the identity SQL models."""
    return {
        "max_linked": int(settings.max_linked_identifiers),
        "device_types": list(settings.device_identifiers),
    }


def connected_components(con: duckdb.DuckDBPyConnection) -> int:
    """intermediate.identity_edges (one row per directed link) -> intermediate.identity_components
    (one row per linked node with the smallest node of its component). Returns the number of
    iterations. Each node starts with its own id as label; an iteration gives every node the
    smallest label among itself and its neighbours, then the label of its label (pointer
    jumping); labels only decrease and stay inside the component, so at the fixed point every
    node carries its component's smallest node id."""
    run_sql(con, f"{_STEPS}/start")
    iterations = 0
    try:
        while True:
            iterations += 1
            if iterations > MAX_ITERATIONS:
                raise RuntimeError(f"identity components did not converge in {MAX_ITERATIONS} iterations")
            changed = run_sql(con, f"{_STEPS}/step").fetchall()[0][0]
            if changed == 0:
                break
        replace_table(con, "intermediate.identity_components", sql_file(f"{_STEPS}/result"))
    finally:
        run_sql(con, f"{_STEPS}/cleanup")
    return iterations
