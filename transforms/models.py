"""The models and the DAG they form, read from the SQL files themselves.

A model is `sql/<schema>/<table>.sql`: one `select` whose result becomes the relation
`<schema>.<table>`. What a model reads is taken from its own `from` and `join` clauses
(sqlglot parses the DuckDB SQL; names bound by a `with` are the model's own), so the files
are the one definition of the DAG: no list of dependencies is written anywhere else.
Only the folders named after a warehouse schema hold models; `sql/examples/` (analysts' recipes),
`sql/checks/`, `sql/macros/`, `sql/report/` and the other folders of statements run by `run_sql`
are not models.

A few relations are written by a Python step instead (`PYTHON_STEPS`: a loop to a fixed point,
an exact linear solve, the packaged sentiment lexicon, the funnel programme); each declares
what it reads and writes. `build_models` runs any part of the graph in order: the Dagster
assets and the tests go through the same `build`.
"""

from __future__ import annotations

import contextlib
import graphlib
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from transforms.attribution import attribution_params, build_model_credits
from transforms.classify import classify_params
from transforms.config import Config
from transforms.designs import design_params, retention_params
from transforms.funnels import build_funnel_tables
from transforms.identity import (
    IDENTITY_TABLES,
    LAST,
    SETS,
    build_components,
    build_identity_sets,
    build_identity_table,
    identity_params,
    recording_moves,
)
from transforms.incremental import (
    DIRTY,
    also_updates,
    build_incremental,
    current_run,
    finish_run,
    incremental_key,
    save_fingerprint,
    start_run,
    stored_fingerprints,
)
from transforms.journeys import journey_params
from transforms.painpoints import pain_point_params, touchpoint_health_params
from transforms.personas import persona_params
from transforms.sentiment import load_lexicon, sentiment_params
from transforms.warehouse import (
    SCHEMAS,
    SQL_DIR,
    bind,
    build_model,
    count_rows,
    ensure_match_macros,
    in_next_commit,
    model_path,
    read_model,
    run_sql,
    sql_file,
)

_HEADER_DEPENDS = re.compile(r"^-- depends on:(.*(?:\n--\s{6,}.*)*)", re.MULTILINE)


class ModelError(ValueError):
    """A model file cannot be read as a model (unparsable SQL, a cycle, an unknown name)."""


@dataclass(frozen=True)
class Model:
    relation: str
    path: Path
    reads: tuple[str, ...]  # the relations the model reads, sorted


def reads(sql: str, where: str = "the SQL") -> tuple[str, ...]:
    """The schema-qualified relations `sql` reads (its `from`/`join` tables), sorted. Names
    bound by a `with` are not relations; an unqualified table name is an error, so that no
    dependency can hide behind the search path."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.ParseError as e:
        raise ModelError(f"{where} cannot be parsed: {str(e).splitlines()[0]}") from None
    found: set[str] = set()
    for tree in trees:
        bound = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if table.db:
                found.add(f"{table.db}.{table.name}")
            elif table.name and table.name not in bound:
                raise ModelError(f"{where} reads '{table.name}' without its schema: write <schema>.{table.name}")
    return tuple(sorted(found))


@cache
def model(relation: str) -> Model:
    """The model that builds `relation`, with what it reads."""
    path = model_path(relation)
    if not path.is_file():
        raise ModelError(f"no model file for {relation}: expected {path}")
    return Model(relation, path, reads(path.read_text(encoding="utf-8"), where=str(path.relative_to(SQL_DIR.parent))))


def all_models() -> dict[str, Model]:
    """Every model under sql/, by relation name."""
    out = {}
    for path in sorted(SQL_DIR.glob("*/*.sql")):
        if path.parent.name not in SCHEMAS:  # sql/examples, checks, macros, report, ops: not models
            continue
        relation = f"{path.parent.name}.{path.stem}"
        out[relation] = model(relation)
    return out


def topological_order(deps: Mapping[str, Iterable[str]]) -> list[str]:
    """The relations of `deps` (relation -> what it reads) in an order where each comes after
    what it reads; ties in name order, so the order is stable. A cycle is an error naming it."""
    sorter = graphlib.TopologicalSorter({k: sorted(v) for k, v in deps.items()})
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        raise ModelError("the models read each other in a cycle: " + " -> ".join(e.args[1])) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())
        order += ready
        sorter.done(*ready)
    return [r for r in order if r in deps]


def header_depends(path: Path) -> tuple[str, ...] | None:
    """The relations a model's `-- depends on:` header names (None without a header)."""
    m = _HEADER_DEPENDS.search(path.read_text(encoding="utf-8"))
    if not m:
        return None
    text = re.sub(r"\n--\s+", " ", m.group(1))
    return tuple(sorted(set(re.findall(r"\b[a-z_]+\.[a-z_]+\b", text))))


# --------------------------------------------------------------------------- the graph

# Built by the ingest and staging stage (pipelines/defs/ingest, pipelines/defs/staging; the
# loader's own statements are in sql/ingest/): the sources of the model graph.
STAGE_BUILT = frozenset({
    "intermediate.partition_counts", "staging.events", "staging.profiles", "quarantine.rejected",
    "intermediate.duplicate_events", "intermediate.profile_versions",
})


@dataclass(frozen=True)
class PythonStep:
    """Relations written by Python rather than one select: `run(con, config)` writes every
    relation of `writes` from those of `reads`, and returns metadata for a person. `settings`:
    the part of the configuration the step reads (in its fingerprint). A step that reads the
    dirty set (DIRTY in `reads`) is called `run(con, config, scoped=...)`: scoped when the run
    under way is incremental and the step's fingerprint is the one it was last built with."""

    name: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    run: Callable[..., dict[str, Any]]
    description: str
    settings: Callable[[Config], Any] | None = None


def _lexicon(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, Any]:
    return {"rows": load_lexicon(con)}


def _components(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, Any]:
    return build_components(con)


def _model_credits(con: duckdb.DuckDBPyConnection, config: Config) -> dict[str, Any]:
    return build_model_credits(con, config.settings.attribution)


def _funnel_tables(con: duckdb.DuckDBPyConnection, config: Config, *, scoped: bool = False) -> dict[str, Any]:
    return build_funnel_tables(con, config.funnels, scoped=scoped)


def _dirty_customers(con: duckdb.DuckDBPyConnection, config: Config, *, full: bool = False) -> dict[str, Any]:
    md = start_run(con, force_full="asked for a full build" if full else None, config=config)
    changed = changed_models(con, config)
    md["changed_models"] = changed
    if md["mode"] == "full":
        md["summary"] = f"full build ({md['reason']})"
    else:
        md["summary"] = f"incremental build for {md['customers']:,} customer(s) with new or changed data"
        if "compared_with" in md:
            md["summary"] += f" (compared with {md['compared_with']})"
    if changed:
        md["summary"] += "; " + changed_line(changed)
    return md


PYTHON_STEPS: tuple[PythonStep, ...] = (
    PythonStep("sentiment_lexicon", ("intermediate.sentiment_lexicon",), (), _lexicon,
               "The single-word entries of the VADER lexicon that ships with vaderSentiment."),
    PythonStep("identity_components", ("intermediate.identity_components",), ("intermediate.identity_edges",),
               _components, "Connected components of the identity links, by iterating to a fixed point."),
    PythonStep("attribution_model_credits", ("intermediate.attribution_model_credits",),
               ("intermediate.attribution_touch_sets", "intermediate.attribution_transitions"), _model_credits,
               "Markov (absorbing-chain algebra) and Shapley credits, solved exactly on the driver."),
    PythonStep("funnel_programme", ("intermediate.funnel_definitions", "intermediate.funnel_steps",
                                    "intermediate.funnel_attempts", "intermediate.funnel_breakdown_values",
                                    "intermediate.funnel_period_attempts"),
               ("marts.journey_events", DIRTY), _funnel_tables,
               "Every funnel's attempts, matched step by step, and the units' breakdown values.",
               lambda config: [f.model_dump(mode="json") for f in config.funnels]),
    PythonStep("dirty_customers", (DIRTY,),
               ("intermediate.identifier_sets", "staging.events", "staging.profiles"), _dirty_customers,
               "The customers this run rebuilds: those of the events loaded since the last build, "
               "those identity merged or split, and those whose profile changed."),
)


def step_for(relation: str) -> PythonStep | None:
    return next((s for s in PYTHON_STEPS if relation in s.writes), None)


@cache
def graph() -> Mapping[str, tuple[str, ...]]:
    """Every relation the models build -> the relations it reads (the staging stage's tables
    are the sources). Read once per process, as each model's file is (`model`)."""
    deps: dict[str, tuple[str, ...]] = {}
    for relation, m in all_models().items():
        if relation not in STAGE_BUILT:
            deps[relation] = m.reads
    for step in PYTHON_STEPS:
        for relation in step.writes:
            if relation in deps:
                raise ModelError(f"{relation} has a SQL file and is also written by the Python step {step.name}")
            deps[relation] = step.reads
    for relation in list(deps):
        if step_for(relation) is None and incremental_key(relation) is not None:
            deps[relation] = tuple(sorted({*deps[relation], DIRTY}))
    return MappingProxyType(deps)


def _step_files(step: PythonStep) -> list[Path]:
    schema = step.writes[0].split(".")[0]
    return sorted((SQL_DIR / schema / step.name).glob("*.sql"))


def fingerprints(config: Config, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Each relation's fingerprint: its SQL (a Python step's SQL files), the values of the
    parameters it binds and whether it is incremental, with the fingerprints of what it reads,
    so a change reaches everything after it. Computed once per process and set of parameters
    (the SQL files do not change under a running process)."""
    params = params if params is not None else model_params(config)
    settings = {s.name: s.settings(config) for s in PYTHON_STEPS if s.settings is not None}
    key = hashlib.sha256(json.dumps([params, settings], sort_keys=True, default=str).encode()).hexdigest()
    if key not in _FINGERPRINTS:
        _FINGERPRINTS[key] = _fingerprints(params, settings)
    return _FINGERPRINTS[key]


_FINGERPRINTS: dict[str, dict[str, str]] = {}


def _fingerprints(params: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, str]:
    deps = graph()
    out: dict[str, str] = {}
    for relation in topological_order(deps):
        h = hashlib.sha256(relation.encode())
        step = step_for(relation)
        if step is not None:
            h.update(step.name.encode())
            for f in _step_files(step):
                h.update(f.read_bytes())
            h.update(json.dumps(settings.get(step.name), sort_keys=True, default=str).encode())
        else:
            text = read_model(relation)
            h.update(text.encode())
            h.update(json.dumps(bind(text, params), sort_keys=True, default=str).encode())
            h.update(str(incremental_key(relation)).encode())
            also = also_updates(relation)
            if also is not None:
                h.update(sql_file(also).encode())
        for d in deps[relation]:
            h.update(out.get(d, d).encode())
        out[relation] = h.hexdigest()[:16]
    return out


def changed_models(con: duckdb.DuckDBPyConnection, config: Config) -> list[str]:
    """The relations whose fingerprint differs from the one they were last built with (none on
    a first build), in graph order."""
    stored = stored_fingerprints(con)
    if not stored:
        return []
    return [r for r, fp in fingerprints(config).items() if stored.get(r, fp) != fp and r != DIRTY]


def changed_line(changed: Sequence[str]) -> str:
    """One line for a person: which models changed and how many after them build in full."""
    deps = graph()
    roots = [r for r in changed if not (_ancestors(deps, [r]) - {r}) & set(changed)]
    after = len(changed) - len(roots)
    return ("the SQL or configuration of " + ", ".join(roots) + " changed: "
            + ("it" if len(roots) == 1 else "they") + (f" and the {after} model(s) after" if after else "")
            + " rebuild in full")


def model_params(config: Config) -> dict[str, Any]:
    """Every parameter a model binds, from the configuration. Each model binds the ones its
    SQL names (`$name`); a name means one thing everywhere."""
    merged: dict[str, Any] = {}
    for part in (
        identity_params(config.settings.identity), sentiment_params(), classify_params(config),
        persona_params(config), journey_params(config.settings.journeys), touchpoint_health_params(config),
        pain_point_params(config), attribution_params(config.settings.attribution),
        design_params(config), retention_params(config),
    ):
        for name, value in part.items():
            if name in merged and merged[name] != value:
                raise ModelError(f"the model parameter ${name} is given two different values")
            merged[name] = value
    return merged


def build(con: duckdb.DuckDBPyConnection, relation: str, config: Config,
          params: Mapping[str, Any] | None = None, *, full: bool = False) -> dict[str, Any]:
    """Build one relation of the graph (for a Python step, every relation it writes) and
    return metadata: rows and seconds, plus what a Python step reports. A model incremental by
    customer is rebuilt for the customers of the run's dirty set only, when the run under way
    is incremental and the model's fingerprint is the one it was last built with; `full`
    (and the dirty-set step given it) builds everything in full."""
    t0 = time.monotonic()
    ensure_match_macros(con)  # classification and the funnel programme test conditions with it
    step = step_for(relation)
    params = params if params is not None else model_params(config)
    if config.settings.engine == "spark":  # transforms/engines/spark_run.py
        from transforms.engines.spark_run import build_on_spark

        with recording_moves(con, relation == LAST and not full):  # identity's change log (identity.py)
            md = build_on_spark(con, relation, config, params, step, graph(),
                                lambda: _build_duckdb(con, relation, config, params, step, full),
                                scoped=_scoped_on_spark(con, relation, config, params, step, full))
        fps = fingerprints(config, params)
        for r in step.writes if step is not None else (relation,):
            save_fingerprint(con, r, fps[r])
        md["seconds"] = round(time.monotonic() - t0, 3)
        return md
    md = _build_duckdb(con, relation, config, params, step, full)
    md["seconds"] = round(time.monotonic() - t0, 3)
    return md


def _scoped_on_spark(con: duckdb.DuckDBPyConnection, relation: str, config: Config, params: Mapping[str, Any],
                     step: PythonStep | None, full: bool) -> bool:
    """Whether `relation` (a model incremental by customer, or a step reading the dirty set)
    builds for the run's customers only on Spark: as `_build_duckdb` decides on DuckDB, except a
    model whose scoped build also updates other customers' rows (`also_updates`: not on Spark
    yet), which builds whole there."""
    if full:
        return False
    fps = fingerprints(config, params)
    if step is not None:
        return DIRTY in step.reads and _unchanged_in_incremental_run(con, step.writes, fps)
    return (incremental_key(relation) is not None and also_updates(relation) is None
            and _unchanged_in_incremental_run(con, (relation,), fps))


def _build_duckdb(con: duckdb.DuckDBPyConnection, relation: str, config: Config, params: Mapping[str, Any],
                  step: PythonStep | None, full: bool) -> dict[str, Any]:
    if step is not None and step.name == "dirty_customers":
        md = _dirty_customers(con, config, full=full)
    elif step is not None and DIRTY in step.reads:
        md = dict(step.run(con, config, scoped=not full and _unchanged_in_incremental_run(
            con, step.writes, fingerprints(config, params))))
    elif step is not None:
        md = dict(step.run(con, config))
    else:
        if relation in STAGE_BUILT or not model_path(relation).is_file():
            raise ModelError(f"{relation} is not a model of the graph")
        fingerprint = fingerprints(config, params)[relation]
        if relation == SETS or relation in IDENTITY_TABLES:
            # identity's builds may take several transactions: the fingerprint after the last
            if relation == SETS:
                md = build_identity_sets(con, dict(params),
                                         full_reason=_identity_full_reason(con, config, params, full))
            else:
                md = build_identity_table(con, relation, dict(params), track_moves=not full)
            save_fingerprint(con, relation, fingerprint)
            return md
        # one transaction writes the model: its fingerprint is saved in it
        with in_next_commit(con, lambda: save_fingerprint(con, relation, fingerprint)):
            if (not full and incremental_key(relation) is not None
                    and _unchanged_in_incremental_run(con, (relation,), {relation: fingerprint})):
                if not run_sql(con, "ops/incremental/count_dirty").fetchall()[0][0]:
                    # nothing to rebuild: the table is not rewritten, so it keeps its version and
                    # publish leaves it as it is
                    md = {"mode": "incremental", "inserted": 0, "rows": count_rows(con, relation),
                          "skipped": "no customer to rebuild (the run's dirty set is empty)"}
                else:
                    md = {"mode": "incremental", **build_incremental(con, relation, read_model(relation), params),
                          "rows": count_rows(con, relation)}
            else:
                md = {"rows": build_model(con, relation, params)}
    if step is not None:
        fps = fingerprints(config, params)
        with contextlib.suppress(duckdb.Error):
            for r in step.writes:
                save_fingerprint(con, r, fps[r])
    return md


def _identity_full_reason(con: duckdb.DuckDBPyConnection, config: Config, params: Mapping[str, Any],
                          full: bool) -> str | None:
    """Why identity must build in full this run (None: it may build incrementally, see
    transforms/identity.py): asked for, or the SQL or settings of one of its tables changed."""
    if full:
        return "asked for a full build"
    fps = fingerprints(config, params)
    stored = stored_fingerprints(con)
    if any(r not in stored for r in IDENTITY_TABLES):
        return "no earlier identity build"
    changed = [r for r in IDENTITY_TABLES if stored[r] != fps[r]]
    return f"the SQL or settings of {', '.join(changed)} changed" if changed else None


def _unchanged_in_incremental_run(con: duckdb.DuckDBPyConnection, relations: Sequence[str],
                                  fps: Mapping[str, str]) -> bool:
    """The run under way is incremental and each of `relations` was last built with its
    fingerprint in `fps`: then they are rebuilt for the run's customers only."""
    run = current_run(con)
    if run is None or run.mode != "incremental":
        return False
    stored = stored_fingerprints(con)
    return all(stored.get(r) == fps[r] for r in relations)


def build_models(con: duckdb.DuckDBPyConnection, config: Config, targets: Sequence[str] | None = None,
                 *, with_upstream: bool = True, incremental: bool = False) -> dict[str, int]:
    """Build `targets` (all models when None) in graph order, with every model they read from
    (from the staging tables already in `con`), or, `with_upstream=False`, only them (from
    whatever `con` already holds). In full unless `incremental` (then as a nightly run does:
    the models incremental by customer for the dirty set only). Returns relation -> rows."""
    deps = graph()
    if targets is None:
        wanted = set(deps)
    elif with_upstream:
        wanted = _ancestors(deps, targets)
    else:
        unknown = [t for t in targets if t not in deps]
        if unknown:
            raise ModelError(f"{', '.join(unknown)} is not a model of the graph")
        wanted = set(targets)
    order = [r for r in topological_order(deps) if r in wanted]
    params = model_params(config)
    done: set[str] = set()
    for relation in order:
        if relation in done:
            continue
        build(con, relation, config, params, full=not incremental)
        step = step_for(relation)
        done |= set(step.writes) if step else {relation}
    if DIRTY in done:
        finish_run(con)
    return {r: count_rows(con, r) for r in order}


def _ancestors(deps: Mapping[str, Sequence[str]], targets: Iterable[str]) -> set[str]:
    todo, seen = list(targets), set()
    while todo:
        r = todo.pop()
        if r in seen:
            continue
        if r not in deps:
            raise ModelError(f"{r} is not a model of the graph")
        seen.add(r)
        todo += [d for d in deps[r] if d in deps]
        step = step_for(r)
        todo += list(step.writes) if step else []
    return seen
