"""The DuckDB side: connections to the private working database, the SQL model runner,
table documentation (COMMENT ON) and atomic publishing of the analyst file.

The pipeline writes only to a private working database beside the published file
(``journeys.duckdb`` -> ``.journeys.work.duckdb``). Analysts open the published file; a run
publishes into a temporary file in the same folder and renames it over the published one, so
a reader never sees a half-written table and is never locked out (DuckDB lets no other process
open a file a writer holds).

Publishing writes only what changed. Every writer of a published table gives it a new version
in the same transaction (``mark_changed``: a row of ``intermediate._table_versions`` in the
working file), and the analyst file records the versions it holds in
``_journeys.published_tables`` (relation, version, row count and DDL digest, when published).
A publish copies the previous analyst file and, in the copy, replaces only the tables whose
version, row count or DDL differ and drops those no longer published. A table whose writes since
the analyst file's version replaced only some customers' rows (``mark_scoped``) or some landing
days' rows (``mark_days``: staging.events, quarantine.rejected) has just those rows replaced.
It writes a fresh file instead when there is no usable previous file, when the set of schemas
changed, when an erasure was recorded since, or when the caller asks (``full=True``:
``journeys forget``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import os
import re
import shutil
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SCHEMAS = ("raw", "staging", "quarantine", "identity", "intermediate", "marts")
_PARAM_RE = re.compile(r"\$([a-z_][a-z0-9_]*)")
_RELATION_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_PRIVATE_RELATION_RE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")  # bookkeeping: intermediate._x


# Macros shared by several SQL files, one file each under sql/macros/: emails and phones (pii:
# what they look like, normalisation, keyed hash, masking) and the one evaluator of an
# EventMatch condition row (match: classification and funnels call it).
MACROS_DIR = SQL_DIR / "macros"
PII_MACROS_FILE = MACROS_DIR / "pii.sql"
MATCH_MACROS_FILE = MACROS_DIR / "match.sql"


@functools.cache
def macros(name: str) -> str:
    """The statements of sql/macros/<name>.sql."""
    return (MACROS_DIR / f"{name}.sql").read_text(encoding="utf-8")


_LOADED: dict[str, weakref.WeakSet[duckdb.DuckDBPyConnection]] = {}
"""The connections each file of macros was loaded on (by this process)."""


def load_macros(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(macros(name))
    _LOADED.setdefault(name, weakref.WeakSet()).add(con)


def ensure_macros(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load sql/macros/<name>.sql unless this process loaded it on `con` already: creating a
    macro is a write to the file's catalog, committed, which a step need not pay twice."""
    if con not in _LOADED.get(name, ()):
        load_macros(con, name)


def pii_macros() -> str:
    return macros("pii")


def load_pii_macros(con: duckdb.DuckDBPyConnection) -> None:
    load_macros(con, "pii")


def match_macros() -> str:
    return macros("match")


def load_match_macros(con: duckdb.DuckDBPyConnection) -> None:
    load_macros(con, "match")


def ensure_match_macros(con: duckdb.DuckDBPyConnection) -> None:
    ensure_macros(con, "match")


# The working file, its write-ahead log, the spill folder and publishing temp files hold
# clear-text personal data: only their owner may read them. The analyst file is 0644.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
PUBLISHED_FILE_MODE = 0o644


@contextlib.contextmanager
def private_files() -> Iterator[None]:
    """While open, files this process creates are readable by their owner only (umask 077):
    DuckDB creates its write-ahead log and spill files itself, with the process umask."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def make_private(path: Path) -> None:
    """chmod a working file (and its write-ahead log, if any) to 0600, a folder to 0700."""
    for p in (path, path.with_name(path.name + ".wal")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(p, PRIVATE_DIR_MODE if p.is_dir() else PRIVATE_FILE_MODE)


class WarehouseBusy(Exception):
    """Another process is writing the warehouse."""


@dataclass(frozen=True)
class WarehousePaths:
    published: Path

    @property
    def work(self) -> Path:
        return self.published.with_name(f".{self.published.stem}.work.duckdb")

    @property
    def lock(self) -> Path:
        return self.published.with_name(f".{self.published.stem}.lock")

    @property
    def temp_dir(self) -> Path:
        return self.published.with_name(f".{self.published.stem}.tmp")


_SLOT_RE = re.compile(r"\{([a-z_]+)\}")
IDENTIFIER_SLOTS = frozenset({"relation", "schema", "alias", "key"})
"""Slots of the runner's templates that take a table or schema name, checked before it goes in."""


@functools.cache
def sql_fragment(name: str) -> str:
    """`sql/<name>.sql` without its comments: a piece of SQL the runner composes statements from
    (its templates in sql/ops/runner/, the row filters in sql/ops/predicates/)."""
    return _strip_comments(sql_file(name)).strip()


def runner_sql(name: str, **slots: str) -> str:
    """The statement of `sql/ops/runner/<name>.sql` with its `{slot}`s filled in one pass: a
    relation or schema name, checked against an allow-list pattern (`_PRIVATE_RELATION_RE` or a
    bare name), and otherwise SQL the runner composes from our own files (a model's select, a
    predicate file's condition, a quoted literal of a .yaml description). Values never go
    through here: bind them."""
    for key in IDENTIFIER_SLOTS & slots.keys():
        if not (_PRIVATE_RELATION_RE.match(slots[key]) or re.match(r"^[a-z_][a-z0-9_]*$", slots[key])):
            raise ValueError(f"not an identifier: {slots[key]!r}")
    return _SLOT_RE.sub(lambda m: slots[m[1]], sql_fragment("ops/runner/" + name))


def connect(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None,
            threads: int | None = None, temp_dir: Path | None = None,
            schemas: tuple[str, ...] = SCHEMAS) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with UTC as the session time zone and spilling to `temp_dir`;
    read-write, make sure `schemas` and the personal-data macros (sql/macros/pii.sql) exist.
    A file opened read-write is made private (0600): only the working file is opened so, and
    publishing sets the analyst file back to 0644."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        with private_files():
            con = duckdb.connect(str(path))
        make_private(path)
    else:
        con = duckdb.connect(str(path), read_only=True)
    run_sql(con, "ops/warehouse/session")
    if memory_limit:
        run_sql(con, "ops/warehouse/memory_limit", {"v": memory_limit})
    if threads:
        run_sql(con, "ops/warehouse/threads", {"v": threads})
    if temp_dir is not None:
        temp_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        make_private(temp_dir)
        run_sql(con, "ops/warehouse/temp_directory", {"v": str(temp_dir)})
    if not read_only:
        for schema in schemas:
            ensure_schema(con, schema)
        load_pii_macros(con)
        load_match_macros(con)
    return con


def drop_temp_objects(con: duckdb.DuckDBPyConnection, prefix: str = "") -> int:
    """Drop the connection's temporary tables and views (registered frames too), so that a
    connection kept open from one step to the next holds no step's scratch tables in memory;
    with `prefix`, only those whose name starts with it. Returns how many were dropped."""
    found = run_sql(con, "ops/catalog/temp_objects", {"prefix": prefix}).fetchall()
    for (statement,) in found:
        con.execute(statement)
    return len(found)


@contextlib.contextmanager
def writer_lock(paths: WarehousePaths, wait_seconds: float = 0) -> Iterator[None]:
    """One writing process at a time. Raises WarehouseBusy if the lock is not free in time."""
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    fh = open(paths.lock, "a+")  # noqa: SIM115 - held for the duration of the context
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"Another Journeys run is writing {paths.published}. Wait for it to finish and try again."
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


# --------------------------------------------------------------------------- SQL models


def model_path(relation: str) -> Path:
    schema, table = relation.split(".")
    return SQL_DIR / schema / f"{table}.sql"


def read_model(relation: str) -> str:
    """The select of a model file, without its trailing semicolon."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    return model_path(relation).read_text(encoding="utf-8").strip().rstrip(";")


def sql_file(name: str) -> str:
    """The text of `sql/<name>.sql` (`name` like "report/phase_rows"): every SQL statement the
    product runs lives in a file under sql/, so none is written in a Python string."""
    if not re.match(r"^[a-z_][a-z0-9_]*(/[a-z0-9_]+)+$", name):
        raise ValueError(f"not a SQL file name: {name!r}")
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL file {path}")
    return path.read_text(encoding="utf-8")


def run_sql(con: duckdb.DuckDBPyConnection, name: str,
            params: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """Run the statements of `sql/<name>.sql` in order, each bound to the `$name` parameters it
    uses (every one must be in `params`), and return the connection holding the last result,
    so `run_sql(con, "report/phase_rows", p).fetchall()` reads it. Dynamic relation names go
    through `query_table($relation)`, never through string replacement."""
    cur = con
    for statement in con.extract_statements(sql_file(name)):
        text = statement.query.strip().rstrip(";")
        if text:
            cur = con.execute(text, bind(text, params or {}))
    return cur


def bind_names(sql: str) -> set[str]:
    """The names `sql` references as $name (outside comments)."""
    return set(_PARAM_RE.findall(_strip_comments(sql)))


def bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of `params` that `sql` references as $name; every reference must be given."""
    wanted = bind_names(sql)
    missing = wanted - set(params)
    if missing:
        raise KeyError(f"SQL parameters not given: {', '.join(sorted(missing))}")
    return {k: params[k] for k in wanted}


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def build_model(con: duckdb.DuckDBPyConnection, relation: str, params: Mapping[str, Any] | None = None) -> int:
    """Run `sql/<schema>/<table>.sql` as `create or replace table <relation>` in one
    transaction, apply its documentation, and return its row count."""
    return replace_table(con, relation, read_model(relation), params)


_BEFORE_COMMIT: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, list[Callable[[], object]]] = (
    weakref.WeakKeyDictionary())
"""Writes waiting for the next transaction a connection commits (`in_next_commit`)."""


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises. The
    writes `in_next_commit` holds for `con` run just before the commit, in the transaction."""
    con.execute(runner_sql("begin_transaction"))
    try:
        yield
        writes = _BEFORE_COMMIT.pop(con, [])
        while writes:  # emptied as they run: `in_next_commit` sees that its write was done
            writes.pop(0)()
        con.execute(runner_sql("commit_transaction"))
    except BaseException:
        con.execute(runner_sql("rollback_transaction"))
        raise


@contextlib.contextmanager
def in_next_commit(con: duckdb.DuckDBPyConnection, write: Callable[[], object]) -> Iterator[None]:
    """Run `write` inside the first transaction `con` commits within the block, so that it
    lands with the table that transaction writes (a model's fingerprint with the model); if
    none commits, when the block ends. Not at all if the block raises. Each commit of a
    DuckDB file syncs its log: a small write of its own costs as much as a large one."""
    pending = _BEFORE_COMMIT.setdefault(con, [])
    pending.append(write)
    try:
        yield
    except BaseException:
        if write in pending:
            pending.remove(write)
        raise
    if write in pending:
        pending.remove(write)
        write()


def replace_table(con: duckdb.DuckDBPyConnection, relation: str, select: str,
                  params: Mapping[str, Any] | None = None, *, parts: int | None = None) -> int:
    """`create or replace table <relation> as <select>` plus its documentation, atomically. A
    model whose .yaml says `build_in_parts` is written in parts when its inputs outgrow the
    memory limit (`build_parts`; `parts` sets their number), in the same one transaction."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    if hasattr(con, "replace_table"):  # Spark (transforms/engines/spark_run.SparkCon) writes its own tables
        return con.replace_table(relation, select, params)
    bound = bind(select, params or {})
    query = deterministic(con, select, bound)
    key, estimate = build_parts(con, relation, query)
    parts = estimate if parts is None or not key else parts
    with transaction(con):
        if parts == 1:
            con.execute(runner_sql("create_table", relation=relation, select=query), bound)
        else:
            for part in range(parts):
                write = "create_table" if part == 0 else "insert_by_name"
                con.execute(runner_sql(write, relation=relation, select=part_inputs(con, query, key, parts, part)),
                            bound)
        apply_comments(con, relation)
        mark_changed(con, relation)
    return count_rows(con, relation)


# --------------------------------------------------------------------------- builds in parts
# A join of two event-grain tables holds one side in a hash table. Past the memory limit DuckDB
# spills it, and at 100M events marts.journey_events' join spilled 49 GB and filled the disk. A
# model whose .yaml says `build_in_parts: {key: <column>, rows_per_gb: <n>}` is built instead as
# `parts` statements, each reading the rows of every input that carries the key whose hash falls
# in its part, so each join holds a part. Each input is read once per part, so a part is as large
# as the memory limit allows.

def build_parts(con: duckdb.DuckDBPyConnection, relation: str, select: str) -> tuple[str, int]:
    """(key, parts) of a build of `relation`: parts = 1 unless its .yaml's `build_in_parts` asks
    for parts and its largest input with the key holds more rows than `rows_per_gb` times the
    memory limit in GB (on DuckDB: Spark spreads its own work). The funnel programme asks for
    the parts of intermediate.funnel_attempts (transforms/funnels.py)."""
    spec = (table_doc(relation) or {}).get("build_in_parts")
    if not spec:
        return "", 1
    if hasattr(con, "replace_table"):  # Spark (transforms/engines/spark_run.SparkCon) spreads its own work
        return spec["key"], 1
    key, per_gb, limit = spec["key"], int(spec["rows_per_gb"]), memory_limit_bytes(con)
    if limit <= 0:
        return key, 1
    rows = max((count_rows(con, r) for r in _inputs(select) if key in table_columns(con, r)), default=0)
    per_part = max(1, int(per_gb * limit / 2**30))
    return key, max(1, -(-rows // per_part))


_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def memory_limit_bytes(con: duckdb.DuckDBPyConnection) -> int:
    """DuckDB's memory limit of `con`, in bytes (its setting reads e.g. '5.5 GiB'); 0 if it
    cannot be read."""
    text = str(run_sql(con, "ops/catalog/setting", {"name": "memory_limit"}).fetchall()[0][0])
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", text)
    return int(float(m[1]) * _UNITS.get(m[2].upper() or "B", 0)) if m else 0


def part_inputs(con: duckdb.DuckDBPyConnection, select: str, key: str, parts: int, part: int) -> str:
    """`select` with every input table that has column `key` replaced by the subquery of its
    rows in part `part` of `parts` (by the hash of the key)."""
    if not 0 <= part < parts:
        raise ValueError(f"not a part: {part} of {parts}")
    condition = runner_sql("part_of", key=key, parts=str(parts), part=str(part))
    return _replace_inputs(select, lambda r: condition if key in table_columns(con, r) else None)


# --------------------------------------------------------------------------- scoped builds
# A model incremental by customer (transforms/incremental.py) is rebuilt for the customers of
# intermediate.dirty_customers only: what it reads is restricted to them, and their rows of the
# target are replaced. These are the runner's templates of that restriction.

def predicate(name: str) -> str:
    """The condition in `sql/ops/predicates/<name>.sql`, without its comments: a row filter that
    the runner's statements below add to a model's reads and writes."""
    return sql_fragment("ops/predicates/" + name)


# the scope of each kind of input, as a predicate on one row of it (the one place that restricts
# what a model reads)
DIRTY_CUSTOMERS = "intermediate.dirty_customers"
SCOPE_PREDICATES = {key: predicate("scope_" + key) for key in ("customer_id", "journey_id", "identifiers")}

# inputs whose scope is not a column of theirs: staging.events, by the ids of the run's events in
# scope (sql/ops/predicates/scope_staging_events.sql says why)
SCOPE_EVENTS = "intermediate._scope_events"
RELATION_SCOPES = {"staging.events": predicate("scope_staging_events")}


def table_columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    schema, table = relation.split(".")
    return {r[0] for r in run_sql(con, "ops/catalog/table_columns", {"schema": schema, "table": table}).fetchall()}


def has_table(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    return _has_table(con, None, relation)


def input_predicate(con: duckdb.DuckDBPyConnection, relation: str) -> str | None:
    """How an input table is restricted to the customers in scope: by its customer, its
    journey or its identifier set, staging.events by the run's events in scope
    (RELATION_SCOPES) (None: read whole, e.g. a lookup of texts or designs)."""
    if relation in RELATION_SCOPES:
        return RELATION_SCOPES[relation]
    cols = table_columns(con, relation)
    for column in ("customer_id", "journey_id", "identifiers"):
        if column in cols:
            return SCOPE_PREDICATES[column]
    return None


def scoped_select(con: duckdb.DuckDBPyConnection, select: str, key: str) -> str:
    """`select` reading only the rows in scope (`scope_inputs`), and its result kept to the
    scope by its `key` column."""
    return runner_sql("scoped_select", select=scope_inputs(con, select), predicate=SCOPE_PREDICATES[key])


def scope_inputs(con: duckdb.DuckDBPyConnection, select: str) -> str:
    """`select` with every schema-qualified table it reads in `from`/`join` replaced by the
    subquery of its rows of the customers in scope (intermediate.dirty_customers; tables without
    a customer are left whole)."""
    return _replace_inputs(select, lambda relation: input_predicate(con, relation))


def _input_tokens(select: str) -> Iterator[tuple[str, int, int, bool]]:
    """(relation, start, end, aliased) of each schema-qualified table `select` reads in
    `from`/`join`: its name, where its text starts and ends, and whether an alias follows."""
    # imported here: ~0.5 s, and only a run that builds by customer or in parts needs it
    from sqlglot.dialects.duckdb import DuckDB
    from sqlglot.tokens import TokenType

    tokens = DuckDB().tokenize(select)
    for i, tok in enumerate(tokens[:-3]):
        if tok.token_type not in (TokenType.FROM, TokenType.JOIN):
            continue
        a, dot, b = tokens[i + 1], tokens[i + 2], tokens[i + 3]
        if dot.token_type != TokenType.DOT or a.token_type == TokenType.L_PAREN:
            continue
        nxt = tokens[i + 4] if i + 4 < len(tokens) else None
        aliased = nxt is not None and nxt.token_type in (TokenType.ALIAS, TokenType.VAR)
        yield f"{a.text}.{b.text}".lower(), a.start, b.end + 1, aliased


def _inputs(select: str) -> list[str]:
    """The schema-qualified tables `select` reads, once each, in order."""
    return list(dict.fromkeys(relation for relation, *_ in _input_tokens(select)))


def _replace_inputs(select: str, predicate_for: Callable[[str], str | None]) -> str:
    """`select` with each table it reads for which `predicate_for` gives a condition replaced by
    the subquery of its rows that meet it (sql/ops/runner/scoped_input.sql). The text is edited
    at the tokens' positions, so the rest of the SQL runs as written."""
    edits: list[tuple[int, int, str]] = []
    text = select
    for relation, start, end, aliased in _input_tokens(select):
        predicate = predicate_for(relation)
        if predicate is None:
            continue
        edits.append((start, end, runner_sql("scoped_input", relation=relation, predicate=predicate) if aliased
                      else runner_sql("scoped_input_as", relation=relation, predicate=predicate,
                                      alias=relation.split(".")[1])))
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text


def replace_scope(con: duckdb.DuckDBPyConnection, relation: str, select: str, key: str,
                  params: Mapping[str, Any] | None = None, *, also_updates: str | None = None) -> tuple[int, int]:
    """Replace the rows of `relation` whose `key` (customer_id or journey_id) belongs to a customer
    of intermediate.dirty_customers by what `select`, restricted to them (`scoped_select`),
    gives: delete and insert, with its documentation and a new version, in one transaction.

    `also_updates` (a model's .yaml `also_updates`, e.g. marts/funnel_customers/as_of_moved): the
    statements, run in the same transaction after the insert, that update the rows of other
    customers which change anyway (a status decided against the newest event of all customers);
    they put those customers in temp table scope_extra, which the new version records
    (`mark_scoped`), so that publish replaces their rows too. Returns (rows inserted, customers
    outside the dirty set whose rows were updated)."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    bound = bind(select, params or {})
    scoped = deterministic(con, scoped_select(con, select, key), bound)
    extra = 0
    with transaction(con):
        delete_rows(con, relation, SCOPE_PREDICATES[key])
        n = con.execute(runner_sql("insert_by_name", relation=relation, select=scoped), bound).fetchall()[0][0]
        apply_comments(con, relation)
        if also_updates is not None:
            run_sql(con, "ops/warehouse/scope_extra")
            run_sql(con, also_updates, params)
        mark_scoped(con, relation, key, with_extra=also_updates is not None)
        if also_updates is not None:
            extra = run_sql(con, "ops/warehouse/count_rows", {"relation": "scope_extra"}).fetchall()[0][0]
            run_sql(con, "ops/warehouse/drop_scope_extra")
    return n, extra

VERSIONS_TABLE = "intermediate._table_versions"
"""In the working file: one row per table written, with a version that changes at every write."""


_VERSIONS_READY: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
"""Connections known to have the versions table in its current shape (`prepare_versions_table`)."""


def ensure_versions_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or bring up to date) the versions table, unless `con` was prepared for it."""
    if con not in _VERSIONS_READY:
        run_sql(con, "ops/warehouse/versions_table")


def prepare_versions_table(con: duckdb.DuckDBPyConnection) -> None:
    """Create the versions table once, outside any transaction (committed), so that writes on
    `con` need not run its DDL again: a run's shared connection does this when it opens."""
    run_sql(con, "ops/warehouse/versions_table")
    _VERSIONS_READY.add(con)


def mark_changed(con: duckdb.DuckDBPyConnection, *relations: str) -> None:
    """Give each of `relations` a new version (a random id) in intermediate._table_versions, so
    the next publish copies it into the analyst file. Call it inside the transaction that writes
    the tables; where a write has no transaction of its own, call it first (a table marked but
    not written costs one copy, a table written but not marked would stay stale when published).
    Only on the working file: the analyst file records its versions in _journeys.published_tables."""
    for relation in relations:
        if not _PRIVATE_RELATION_RE.match(relation):
            raise ValueError(f"not a relation name: {relation!r}")
    ensure_versions_table(con)
    run_sql(con, "ops/warehouse/mark_changed", {"r": list(relations)})


def mark_scoped(con: duckdb.DuckDBPyConnection, relation: str, key: str, scope: str = DIRTY_CUSTOMERS,
                *, with_extra: bool = False) -> None:
    """Give `relation` a new version after a write that replaced only the rows of the customers
    of `scope` (a table of customer_id: the run's dirty set unless the write keeps its own) by
    `key`, customer_id or journey_id: the next publish replaces only those customers' rows in the
    analyst file when it holds the version the table had before and `scope` still holds the same
    customers (else it copies the table whole). `with_extra`: the write also changed the rows of
    the customers of temp table scope_extra, whose rows publish then replaces as well. Call it
    inside the transaction of the write."""
    if not _RELATION_RE.match(relation) or key not in SCOPE_PREDICATES or not _PRIVATE_RELATION_RE.match(scope):
        raise ValueError(f"not a relation, key and scope: {relation!r}, {key!r}, {scope!r}")
    digest = run_sql(con, "ops/warehouse/scope_digest", {"dirty": scope}).fetchall()[0][0]
    ensure_versions_table(con)
    run_sql(con, "ops/warehouse/mark_scoped", {"r": relation, "key": key, "digest": digest, "scope": scope})
    if with_extra:
        run_sql(con, "ops/warehouse/mark_scoped_extra", {"r": relation})


DAY_KEYS = ("source_day", "event_id")
"""How a write of some landing days (`mark_days`) replaced rows: 'source_day', the rows whose
(source, _partition) is one of the days; 'event_id', the rows of the event ids those days held
before or after the write (staging keeps an event's first landed copy, which may be on another
day)."""


def mark_days(con: duckdb.DuckDBPyConnection, relation: str, key: str, source: str, days: Sequence[date]) -> None:
    """Give `relation` a new version after a write that replaced only the rows of `source`'s
    landing `days` (by `key`, see DAY_KEYS): the next publish replaces only the rows of the days
    written since the version the analyst file holds (else it copies the table whole). Call it
    inside the transaction of the write."""
    if not _RELATION_RE.match(relation) or key not in DAY_KEYS:
        raise ValueError(f"not a relation and key: {relation!r}, {key!r}")
    run_sql(con, "ops/warehouse/versions_table")
    run_sql(con, "ops/warehouse/mark_days",
            {"r": relation, "v": str(uuid.uuid4()), "key": key, "source": source, "days": list(days)})


def deterministic(con: duckdb.DuckDBPyConnection, select: str, params: Mapping[str, Any]) -> str:
    """Wrap `select` so that its DOUBLE columns are rounded to 12 significant digits."""
    described = con.execute(runner_sql("describe_select", select=select), dict(params)).fetchall()
    doubles = [name for name, kind, *_ in described if kind in ("DOUBLE", "FLOAT")]
    if not doubles:
        return select
    replaced = ", ".join(runner_sql("round_double", column='"' + c.replace('"', '""') + '"') for c in doubles)
    return runner_sql("rounded", columns=replaced, select=select)


VACUUM_DEAD_SHARE = 0.3
"""The share of a table's stored rows that are deleted at which the next checkpoint compacts.
A nightly run replaces the rows of the customers it touches (delete and insert), so deleted
rows land in nearly every row group of a large table, and DuckDB's checkpoint merges row groups
wherever three can hold four (its vacuum), night after night. A run defers that
(`defer_vacuum`) and compacts when a table's deleted rows reach this share, as Postgres's
autovacuum waits for 20% of dead rows (DuckDB's merges need a quarter to free a row group).
Seven 10M nights took 320 s with this and 396 s without; the working file's compaction after
them took 26 s more, and the files were 14% larger on the seventh night (BENCHMARKS.md)."""

DUCKDB_VACUUM_TASKS = 100
"""DuckDB's default max_vacuum_tasks: what a compacting checkpoint may run."""

ROW_GROUP_ROWS = 122_880
"""DuckDB's rows per row group: a table of fewer than two has nothing to merge."""


def defer_vacuum(con: duckdb.DuckDBPyConnection) -> None:
    """Let the checkpoints of `con`'s file merge no row groups (see VACUUM_DEAD_SHARE) until
    `compact_if_due` says a table needs it."""
    run_sql(con, "ops/warehouse/vacuum_tasks", {"n": 0})


def compact_if_due(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Before a checkpoint of `con`'s file: the tables whose share of deleted rows has reached
    VACUUM_DEAD_SHARE, with that share. If there are any, the checkpoint may vacuum (DuckDB
    merges the row groups of every table where it can), else it merges none. A checkpoint
    with nothing to write does nothing, vacuum or not."""
    due: dict[str, float] = {}
    for relation, stored in run_sql(con, "ops/warehouse/stored_rows", {"min_rows": 2 * ROW_GROUP_ROWS}).fetchall():
        # (the names come from the catalog, bound as a value: the runner's own tables start with '_')
        dead = 1 - run_sql(con, "ops/warehouse/count_rows", {"relation": relation}).fetchall()[0][0] / stored
        if dead >= VACUUM_DEAD_SHARE:
            due[relation] = round(dead, 3)
    run_sql(con, "ops/warehouse/vacuum_tasks", {"n": DUCKDB_VACUUM_TASKS if due else 0})
    return due


def count_rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    return run_sql(con, "ops/warehouse/count_rows", {"relation": relation}).fetchall()[0][0]


def ensure_schema(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    con.execute(runner_sql("create_schema", schema=schema))


def copy_rows(con: duckdb.DuckDBPyConnection, schema: str, table: str, source: str, where: str | None = None,
              params: Mapping[str, Any] | None = None) -> int:
    """Insert the rows of `source` (a relation name, e.g. an attached file's
    `work.raw.clickstream`) into the existing table `schema.table`, those `where` (a condition,
    with its `$name` values in `params`) holds for when given: the runner's plumbing for copying
    rows between files, since the target of an insert cannot be a bound parameter. Returns how
    many."""
    statement = runner_sql("copy_rows", relation=f"{schema}.{table}", where=where or "true")
    return con.execute(statement, bind(statement, {**(params or {}), "source": source})).fetchall()[0][0]


def delete_rows(con: duckdb.DuckDBPyConnection, relation: str, where: str,
                params: Mapping[str, Any] | None = None) -> int:
    """Delete the rows of `relation` that `where` (a condition, with its `$name` values in
    `params`) holds for; returns how many."""
    statement = runner_sql("delete_rows", relation=relation, where=where)
    return con.execute(statement, bind(statement, params or {})).fetchall()[0][0]


# Left out of metadata previews: Dagster keeps them in its own storage, which `journeys forget`
# does not rewrite, so not even an identifier's keyed hash goes there.
PREVIEW_HIDDEN_COLUMNS = ("identifiers", "identifier_value", "payload_hash")


def preview(con: duckdb.DuckDBPyConnection, relation: str, n: int = 5) -> str:
    """A small markdown preview of a table, for Dagster metadata. Values are those of the
    table (free text already masked); identifier columns are left out."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    cur = run_sql(con, "ops/warehouse/preview", {"relation": relation, "n": int(n)})
    shown = [i for i, d in enumerate(cur.description) if d[0] not in PREVIEW_HIDDEN_COLUMNS]
    cols = [cur.description[i][0] for i in shown]
    rows = [[r[i] for i in shown] for r in cur.fetchall()]

    def cell(v: Any) -> str:
        s = "" if v is None else str(v)
        s = s.replace("|", "\\|").replace("\n", " ")
        return s if len(s) <= 40 else s[:39] + "…"

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


# --------------------------------------------------------------------------- documentation


def table_doc(relation: str) -> dict[str, Any] | None:
    """The documentation of a table: `sql/<schema>/<table>.yaml` (description, columns)."""
    p = model_path(relation).with_suffix(".yaml")
    if not p.exists():
        return None
    return _read_doc(p, p.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _read_doc(path: Path, mtime_ns: int) -> dict[str, Any]:
    from transforms.config import load_yaml

    return load_yaml(path.read_text(encoding="utf-8"))


def apply_comments(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """COMMENT ON the table and each documented column that exists, where the comment differs
    from the YAML's: all of them on a new table, none after a delete and insert (which keep
    them) unless the YAML changed. One statement list, run at once."""
    doc = table_doc(relation)
    if not doc:
        return
    schema, table = relation.split(".")
    held = dict(run_sql(con, "ops/warehouse/comments", {"s": schema, "t": table}).fetchall())
    statements = []
    desc = str(doc.get("description", "")).strip()
    if held.get(None) != desc:
        statements.append(runner_sql("comment_table", relation=relation, text=_sql_literal(desc)))
    for col, text in (doc.get("columns") or {}).items():
        text = str(text).strip()
        if col in held and held[col] != text and re.match(r"^[a-z_][a-z0-9_]*$", col):
            statements.append(runner_sql("comment_column", relation=relation, column=col, text=_sql_literal(text)))
    if statements:
        con.execute(";\n".join(statements))


def _sql_literal(text: str) -> str:
    # COMMENT ON takes no parameters in DuckDB; quote the literal (from our own YAML).
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- publishing


PRIVATE_SCHEMAS = ("raw", "intermediate")
"""Kept only in the working database: landed payloads (clear-text identifiers) and the
pipeline's intermediate steps. `raw._partitions`, the load ledger, is published."""

BOOKKEEPING_SCHEMA = "_journeys"
"""In the analyst file only: `_journeys.published_tables`, one row per published table with the
version it holds (from intermediate._table_versions), its row count and a digest of its DDL."""

COMPACT_WHEN_FREE_SHARE = 0.5
"""An analyst file more than this share free space is written fresh instead of copied."""


@dataclass(frozen=True)
class PublishedTable:
    """A working table analysts get, with what tells whether the analyst file's copy is current."""

    schema: str
    table: str
    create: str  # duckdb_tables().sql: the table's own DDL, constraints included
    version: str | None  # None: never marked, so always copied
    n_rows: int
    ddl_md5: str
    base_version: str | None = None  # the version before a write of some customers' rows only
    scope_key: str | None = None  # that write's key: customer_id or journey_id
    scope_digest: str | None = None  # and its customers (ops/warehouse/scope_digest)
    scope_relation: str | None = None  # the table of those customers (None: the run's dirty set)
    n_extra: int = 0  # customers outside them whose rows it also changed (mark_scoped's with_extra)

    @property
    def scope(self) -> str:
        """The working file's table of the customers of the last write (see mark_scoped)."""
        return self.scope_relation or DIRTY_CUSTOMERS

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def key(self) -> tuple[str | None, int, str]:
        return (self.version, self.n_rows, self.ddl_md5)


def _published_tables(con: duckdb.DuckDBPyConnection) -> list[PublishedTable]:
    """Each table of the attached working database (`work`) that analysts get."""
    versions: dict[str, tuple[str | None, ...]] = {}
    if _has_table(con, "work", VERSIONS_TABLE):
        try:
            versions = {r: rest for r, *rest in run_sql(con, "ops/warehouse/work_scoped_versions").fetchall()}
        except duckdb.BinderException:  # a working file from before scoped writes: versions only
            versions = {r: (v,) for r, v in run_sql(con, "ops/warehouse/work_versions").fetchall()}
    rows = run_sql(con, "ops/warehouse/work_published_tables", {"private": list(PRIVATE_SCHEMAS)}).fetchall()
    out = []
    for s, t, sql, n, h in rows:
        version, base, key, digest, scope, extra = (*versions.get(f"{s}.{t}", (None,)), None, None, None, None, 0)[:6]
        out.append(PublishedTable(s, t, sql, version, n, h, base, key, digest, scope, extra))
    return out


def _work_scope_digest(con: duckdb.DuckDBPyConnection, scope: str) -> str | None:
    """The digest of the working file's table of customers `scope` (see mark_scoped), None
    without one."""
    if not _has_table(con, "work", scope):
        return None
    return run_sql(con, "ops/warehouse/scope_digest", {"dirty": "work." + scope}).fetchall()[0][0]


def _by_customer(t: PublishedTable, held: Mapping[str, tuple[str | None, int, str]], present: set[str],
                 digests: Mapping[str, str | None]) -> bool:
    """Whether the analyst file's copy of `t` differs from the working table only in the rows of
    the customers of the last write's scope: it holds the version that write started from, with
    the same DDL, and the write replaced the rows of the customers the scope table still holds."""
    was = held.get(t.relation)
    digest = digests.get(t.scope)
    return (t.relation in present and was is not None and t.base_version is not None
            and t.scope_key in PUBLISH_SCOPE and digest is not None and t.scope_digest == digest
            and was[0] == t.base_version and was[2] == t.ddl_md5)


# In the analyst file's connection: the dirty set is copied into a temp table (never into the
# file), and a table's rows of those customers are deleted and copied from the working file.
PUBLISH_SCOPE = {key: predicate("publish_" + key) for key in ("customer_id", "journey_id")}


def _replace_customers(con: duckdb.DuckDBPyConnection, t: PublishedTable) -> tuple[int, int]:
    """Replace the rows of the customers of temp table publish_scope of the analyst file's
    `t` by the working file's. Returns (rows deleted, rows inserted)."""
    return _replace_rows(con, t, PUBLISH_SCOPE[str(t.scope_key)])


def _replace_rows(con: duckdb.DuckDBPyConnection, t: PublishedTable, where: str,
                  params: Mapping[str, Any] | None = None) -> tuple[int, int]:
    """Delete the rows of the analyst file's `t` that `where` holds for and copy the working
    file's rows it holds for. Returns (rows deleted, rows inserted)."""
    return (delete_rows(con, t.relation, where, params),
            copy_rows(con, t.schema, t.table, f"work.{t.relation}", where, params))


def _by_day(t: PublishedTable, held: Mapping[str, tuple[str | None, int, str]], present: set[str]) -> bool:
    """Whether the working table's last writes replaced only some landing days' rows (mark_days)
    and the analyst file holds a copy with the same DDL; `_days_since` then tells whether those
    writes go back to the version it holds."""
    was = held.get(t.relation)
    return (t.relation in present and was is not None and was[0] is not None and t.scope_key in DAY_KEYS
            and t.version is not None and was[2] == t.ddl_md5)


def _days_since(con: duckdb.DuckDBPyConnection, t: PublishedTable, held_version: str) -> bool:
    """Fill temp table publish_days with the landing days the working file's writes of `t`
    replaced since `held_version` (the analyst file's); False when its log of day writes does
    not reach that version."""
    return bool(run_sql(con, "ops/warehouse/publish_days",
                        {"r": t.relation, "version": t.version, "held": held_version, "key": t.scope_key}
                        ).fetchall()[0][0])


# In the analyst file's connection: a table's rows of the landing days in temp table
# publish_days are deleted and copied from the working file. For staging.events, the rows of the
# ids whose row moved to or from another day (temp table publish_moved_ids) are replaced by event
# id as well.
PUBLISH_DAYS = predicate("publish_days")
PUBLISH_MOVED = predicate("publish_moved_ids")
PUBLISH_MOVED_ELSEWHERE = f"{PUBLISH_MOVED} and not ({PUBLISH_DAYS})"


def _replace_days(con: duckdb.DuckDBPyConnection, t: PublishedTable, held_version: str) -> dict[str, int]:
    """Replace the rows of the analyst file's `t` that the working file's day writes since
    `held_version` replaced (see DAY_KEYS) by the working file's. Returns the days and the rows
    deleted and inserted (and for a table keyed by event id, the ids that moved between days)."""
    if not _days_since(con, t, held_version):
        raise RuntimeError(f"{t.relation}: the day writes since the published version are gone")
    first, last = run_sql(con, "ops/warehouse/publish_day_range").fetchall()[0]
    days = run_sql(con, "ops/warehouse/count_rows", {"relation": "publish_days"}).fetchall()[0][0]
    bounds = {"first": first, "last": last}
    if t.scope_key != "event_id":
        deleted, inserted = _replace_rows(con, t, PUBLISH_DAYS, bounds)
        return {"days": days, "deleted": deleted, "inserted": inserted}
    moved = run_sql(con, "ops/warehouse/publish_moved_ids",
                    {"held": t.relation, "work": "work." + t.relation, **bounds}).fetchall()[0][0]
    # the held rows of the days and of the moved ids go before any working row comes in: a
    # moved id's new row may be on one of the days
    deleted = delete_rows(con, t.relation, PUBLISH_DAYS, bounds)
    if moved:
        deleted += delete_rows(con, t.relation, PUBLISH_MOVED)
    inserted = copy_rows(con, t.schema, t.table, f"work.{t.relation}", PUBLISH_DAYS, bounds)
    if moved:
        inserted += copy_rows(con, t.schema, t.table, f"work.{t.relation}", PUBLISH_MOVED_ELSEWHERE, bounds)
    return {"days": days, "deleted": deleted, "inserted": inserted, "moved": moved}


def _held_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables of the (copied) analyst file, bookkeeping left out."""
    return [f"{s}.{t}" for s, t in run_sql(con, "ops/warehouse/held_tables", {"b": BOOKKEEPING_SCHEMA}).fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, database: str | None, relation: str) -> bool:
    schema, table = relation.split(".")
    return bool(run_sql(con, "ops/warehouse/has_table", {"d": database, "s": schema, "t": table}).fetchall()[0][0])


def _held_versions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, int, str]] | None:
    """What `_journeys.published_tables` of the (copied) analyst file says it holds; None if it has none."""
    if not _has_table(con, None, f"{BOOKKEEPING_SCHEMA}.published_tables"):
        return None
    return {r: (v, n, h) for r, v, n, h in run_sql(con, "ops/warehouse/held_versions").fetchall()}


def _used_bytes(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """(used, free) bytes of the current database file's blocks."""
    used, free, size = run_sql(con, "ops/warehouse/used_bytes").fetchall()[0]
    return used * size, free * size


def _why_not_incremental(con: duckdb.DuckDBPyConnection, tables: list[PublishedTable]) -> str | None:
    """Why the copied analyst file (the current database, with the working file attached as
    `work`) must be written fresh instead of updated; None when it can be updated."""
    if _held_versions(con) is None:
        return "the analyst file records no table versions"
    held_schemas = {s for (s,) in run_sql(con, "ops/warehouse/held_schemas", {"b": BOOKKEEPING_SCHEMA}).fetchall()}
    if held_schemas != {t.schema for t in tables}:
        return "the set of schemas changed"
    if _has_table(con, "work", "marts.erasures"):
        unseen = "ops/warehouse/new_erasures" if _has_table(con, None, "marts.erasures") else "ops/warehouse/all_erasures"
        if run_sql(con, unseen).fetchall()[0][0]:
            return "an erasure was recorded since the last publish"
    used, free = _used_bytes(con)
    if free > COMPACT_WHEN_FREE_SHARE * (used + free):
        return "the analyst file is mostly free space"
    return None


def _copy_previous(paths: WarehousePaths, src: Path, tmp: Path) -> str | None:
    """Copy the analyst file to `tmp` for an update in place. Returns why it cannot be used
    (then `tmp` is removed), or None."""
    if not paths.published.exists():
        return "no analyst file yet"
    if paths.published.with_name(paths.published.name + ".wal").exists():
        return "the analyst file has a write-ahead log"
    try:
        shutil.copyfile(paths.published, tmp)  # a plain sequential copy, private by the umask
    except OSError as e:
        return f"the analyst file could not be copied ({e.strerror})"
    try:
        con = duckdb.connect(str(tmp))
        try:
            run_sql(con, "ops/warehouse/attach_work", {"p": str(src)})
            return _why_not_incremental(con, _published_tables(con))
        finally:
            con.close()
    except duckdb.Error as e:
        return "the analyst file could not be read (" + (str(e).strip().splitlines() or ["?"])[0] + ")"


def human_bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def publish(paths: WarehousePaths, *, full: bool = False, memory_limit: str | None = None,
            threads: int | None = None,
            finalize: Callable[[duckdb.DuckDBPyConnection], object] | None = None) -> dict[str, Any]:
    """Publish the (checkpointed, closed) working database, without its private schemas, as the
    analyst file: build it under a temporary name beside the published file, then rename it over
    the published file in one step. Readers holding the old file keep their view; new
    connections see the new one; a publish that fails or is killed leaves the old file as it was.

    Incremental by default: the previous analyst file is copied and, in the copy, only the tables
    whose version differs from the one it records (see `mark_changed`) are replaced (only the
    rows of the run's customers or landing days where the writes say so: `mark_scoped`,
    `mark_days`), and tables no longer published are dropped. A fresh file is written when there is no usable previous
    file, the set of schemas changed, an erasure was recorded since, or `full` is set.

    Only a fresh file is sure to hold no bytes of deleted rows: a copy keeps the blocks of the
    tables it replaced until DuckDB reuses them (CHECKPOINT does not zero them). So erasure
    (`journeys forget`) publishes with `full=True`, and a new row of marts.erasures forces it too.

    `finalize` runs on the new file once its tables are in place, before it is renamed (the run
    log marks the run succeeded there). Returns what was done: mode, reason, tables, changed and
    dropped tables, bytes copied and written, the file's size, seconds and a one-line summary."""
    t0 = time.monotonic()
    src = paths.work
    if not src.exists():
        raise FileNotFoundError(f"No working warehouse at {src}: run the pipeline first.")
    paths.published.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.published.with_name(f".{paths.published.name}.publishing-{os.getpid()}")
    _remove_temp(tmp)
    with private_files():  # the temp file (and its spill) stay private until it is complete
        try:
            reason = "asked for a full rewrite" if full else _copy_previous(paths, src, tmp)
            if reason is not None:
                _remove_temp(tmp)
            copied_at = time.monotonic()
            info = _write_published(paths, src, tmp, memory_limit, threads, finalize, incremental=reason is None)
            info["phase_seconds"] = {"copy previous": round(copied_at - t0, 3), **info["phase_seconds"]}
        finally:
            _remove_temp(tmp)
    info["mode"] = "full" if reason else "incremental"
    info["reason"] = reason or ""
    info["bytes"] = paths.published.stat().st_size
    info["seconds"] = round(time.monotonic() - t0, 3)
    if reason:
        info["summary"] = (f"wrote a fresh file ({reason}): {info['tables']} tables, "
                           f"{human_bytes(info['written_bytes'])}")
    else:
        parts = [f"{len(rows)} only in the rows of the {whose}: {sum(r['inserted'] for r in rows.values()):,} rows written"
                 for rows, whose in ((info["rows_replaced_by_customer"], "run's customers"),
                                     (info["rows_replaced_by_day"], "landing days loaded")) if rows]
        info["summary"] = (f"{len(info['changed_tables'])} of {info['tables']} tables changed"
                           + (" (" + "; ".join(parts) + ")" if parts else "")
                           + (f", {len(info['dropped_tables'])} dropped" if info["dropped_tables"] else "")
                           + f"; copied {human_bytes(info['copied_bytes'])}, wrote {human_bytes(info['written_bytes'])}")
    return info


def _remove_temp(tmp: Path) -> None:
    tmp.unlink(missing_ok=True)
    tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)


def _write_published(paths: WarehousePaths, src: Path, tmp: Path, memory_limit: str | None,
                     threads: int | None, finalize: Callable[[duckdb.DuckDBPyConnection], object] | None,
                     *, incremental: bool) -> dict[str, Any]:
    """Bring `tmp` (a copy of the analyst file when `incremental`, else nothing yet) up to date
    with the working file `src`, then fsync it and rename it over the published file."""
    copied = tmp.stat().st_size if incremental else 0
    phases: dict[str, float] = {}
    lap = _stopwatch(phases)
    con = connect(tmp, memory_limit=memory_limit, threads=threads, temp_dir=paths.temp_dir, schemas=())
    try:
        defer_vacuum(con)  # a copy's deletes by customer: compacted when due, before the last checkpoint
        run_sql(con, "ops/warehouse/attach_work", {"p": str(src)})
        tables = _published_tables(con)
        wanted = {t.relation for t in tables}
        dropped: list[str] = []
        by_customer: list[PublishedTable] = []
        by_day: list[PublishedTable] = []
        held: Mapping[str, tuple[str | None, int, str]] = {}
        if incremental:
            held = _held_versions(con) or {}
            present = set(_held_tables(con))
            changed = [t for t in tables
                       if t.version is None or t.relation not in present or held.get(t.relation) != t.key]
            digests = {scope: _work_scope_digest(con, scope) for scope in sorted({t.scope for t in changed})
                       if _PRIVATE_RELATION_RE.match(scope)}
            by_customer = [t for t in changed if _by_customer(t, held, present, digests)]
            by_day = [t for t in changed if t not in by_customer and _by_day(t, held, present)
                      and _days_since(con, t, str(held[t.relation][0]))]
            whole = [t for t in changed if t not in by_customer and t not in by_day]
            dropped = sorted(present - wanted)
            for relation in [t.relation for t in whole if t.relation in present] + dropped:
                con.execute(runner_sql("drop_table", relation=relation))
            run_sql(con, "ops/catalog/checkpoint")  # the dropped tables' blocks become free for the new rows
        else:
            changed = whole = tables
        lap("compare and drop")
        used_before, _ = _used_bytes(con)
        for schema in sorted({t.schema for t in whole}):
            ensure_schema(con, schema)
        for t in whole:
            with transaction(con):  # one commit a table: each comment alone would be one
                con.execute(t.create)
                copy_rows(con, t.schema, t.table, f"work.{t.relation}")
                apply_comments(con, t.relation)  # from the model's .yaml
        lap("whole tables")
        rows: dict[str, dict[str, int]] = {}
        for scope in sorted({t.scope for t in by_customer}):
            run_sql(con, "ops/warehouse/publish_scope", {"dirty": "work." + scope})
            # comments stay: the tables are not recreated. A table whose write also changed
            # other customers' rows (n_extra) comes last, its scope the scope and them.
            for t in sorted((t for t in by_customer if t.scope == scope), key=lambda t: t.n_extra > 0):
                if t.n_extra:
                    run_sql(con, "ops/warehouse/publish_scope", {"dirty": "work." + scope})
                    run_sql(con, "ops/warehouse/publish_scope_extra", {"r": t.relation})
                deleted, inserted = _replace_customers(con, t)
                rows[t.relation] = {"deleted": deleted, "inserted": inserted}
        lap("rows by customer")
        rows_by_day = {t.relation: _replace_days(con, t, str(held[t.relation][0])) for t in by_day}
        lap("rows by day")
        _record_versions(con, tables)
        run_sql(con, "ops/warehouse/detach_work")
        if finalize is not None:
            finalize(con)
        compacted = compact_if_due(con)
        run_sql(con, "ops/catalog/checkpoint")
        used_after, _ = _used_bytes(con)
    finally:
        con.close()
    lap("final checkpoint")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, PUBLISHED_FILE_MODE)  # analysts' tools read it: normal permissions
    os.replace(tmp, paths.published)
    dir_fd = os.open(paths.published.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    lap("sync and rename")
    return {"tables": len(tables), "changed_tables": [t.relation for t in changed], "dropped_tables": dropped,
            "rows_replaced_by_customer": rows, "rows_replaced_by_day": rows_by_day,
            "copied_bytes": copied, "written_bytes": max(used_after - used_before, 0), "phase_seconds": phases,
            "compacted_tables": compacted}


def _stopwatch(phases: dict[str, float]) -> Callable[[str], None]:
    """A lap timer: each call records the seconds since the previous one under its name."""
    last = [time.monotonic()]

    def lap(name: str) -> None:
        now = time.monotonic()
        phases[name] = round(now - last[0], 3)
        last[0] = now
    return lap


def _record_versions(con: duckdb.DuckDBPyConnection, tables: list[PublishedTable]) -> None:
    """Write _journeys.published_tables: the versions the analyst file now holds."""
    run_sql(con, "ops/warehouse/record_versions",
            {"relation": [t.relation for t in tables], "version": [t.version for t in tables],
             "n_rows": [t.n_rows for t in tables], "ddl_md5": [t.ddl_md5 for t in tables]})


def clean_stale_publish_files(paths: WarehousePaths) -> list[Path]:
    """Remove temporary files a killed run left behind (their writer is gone: we hold the lock)."""
    removed = []
    for p in paths.published.parent.glob(f".{paths.published.name}.publishing-*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def hmac_pads(secret: str, purpose: str = "") -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner and outer pads for `secret`, so SQL can compute
    sha256(opad || unhex(sha256(ipad || message))) set-based (the keyed_hash macro). A
    `purpose` derives a separate key from the secret, so hashes made for one purpose never
    equal those made for another (identifiers use the secret itself)."""
    key = secret.encode("utf-8")
    if purpose:
        key = hmac.new(key, purpose.encode("utf-8"), hashlib.sha256).digest()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
