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
from transforms.warehouse import replace_table

MAX_ITERATIONS = 200

# Fixed statements of the label propagation (no values, no user text).
_CC_START = """
create or replace temp table _cc_labels as
select node_id, least(node_id, min(other_node_id)) as label
from intermediate.identity_edges
group by node_id
"""

_CC_STEP = """
create or replace temp table _cc_next as
with hop as (
    select e.node_id, min(l.label) as label
    from intermediate.identity_edges as e
    inner join _cc_labels as l on l.node_id = e.other_node_id
    group by e.node_id
),
merged as (
    select l.node_id, least(l.label, h.label) as label
    from _cc_labels as l
    inner join hop as h on h.node_id = l.node_id
),
jumped as (
    select m.node_id, least(m.label, p.label) as label
    from merged as m
    inner join merged as p on p.node_id = m.label
)
select * from jumped
"""

_CC_CHANGED = """
select count(*)
from _cc_next as n
inner join _cc_labels as l on l.node_id = n.node_id
where n.label <> l.label
"""

_CC_SWAP = "create or replace temp table _cc_labels as select * from _cc_next"

_CC_RESULT = """
select node_id, label as component_node_id
from _cc_labels
"""


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
    con.execute(_CC_START)
    iterations = 0
    try:
        while True:
            iterations += 1
            if iterations > MAX_ITERATIONS:
                raise RuntimeError(f"identity components did not converge in {MAX_ITERATIONS} iterations")
            con.execute(_CC_STEP)
            changed = con.execute(_CC_CHANGED).fetchall()[0][0]
            con.execute(_CC_SWAP)
            if changed == 0:
                break
        replace_table(con, "intermediate.identity_components", _CC_RESULT)
    finally:
        con.execute("drop table if exists _cc_next")
        con.execute("drop table if exists _cc_labels")
    return iterations
