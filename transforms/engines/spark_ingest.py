"""The landing zone ingested on Spark: the tables the DuckDB ingest writes, with the same rows.

    counts = ingest(spark, landing, config, out, secret=hash_secret)

reads every source's landing days under `landing` (with `loaded=`, the ledger the tables
hold, only the days new or changed since) and writes, as Parquet tables under `out`
registered in `spark`'s catalog under the same `schema.table` names as the DuckDB warehouse:

| table | written by |
|---|---|
| `quarantine.unread_files` | `transforms.landing.survey_landing` (the file system, shared with DuckDB) |
| `raw._partitions` | the ledger: one row per source and landing day read (fingerprint, files, records) |
| `staging.events`, `intermediate.duplicate_events`, `quarantine.rejected`, `intermediate.profile_versions` | sql/ingest/stage.sql through `to_spark` |
| `staging.profiles`, `intermediate.partition_counts` | their model files through `to_spark` |

The models downstream read `staging.events` and `staging.profiles` (transforms.models.graph());
the checks read `intermediate.partition_counts` (read = accepted + rejected + duplicates).
`counts` holds each table's row count and the totals read, accepted, rejected and duplicates.

The steps, and which engine runs each:

1. **Listing** the landing zone (which files each source reads, every other entry with its
   reason) is file-system work in Python, the same functions as the DuckDB path
   (transforms.landing), so both engines read the same files and list the same unread ones.
2. **Reading** is Spark's: `spark.read.text(wholetext=True)` of each file, split into lines
   numbered from 1 with the rules of sql/ingest/read_text.sql (a leading byte order mark, a
   trailing carriage return and the empty line after the last break left out). A gzip file or
   one that is not valid UTF-8 is first made readable by the DuckDB path's own preparation
   (`transforms.ingest._prepare_text_file`: decompressed, bad lines blanked and put back as
   escaped text with their reason), so the lines and their reasons are the same. Parquet files
   are read in a Spark task by sql/ingest/read_parquet.sql: each record becomes DuckDB's JSON
   text, which the parse reads; Spark's `to_json` writes doubles and timestamps differently.
3. **Parsing** each landed record (sql/ingest/parse.sql with sql/macros/pii.sql, and for CSV
   the sql/ingest/csv_*.sql steps) runs in Spark tasks of about 64 MB of landed text each
   (whole CSV files, pieces of other files), by an in-memory DuckDB on the task's rows
   (`mapInArrow`: Arrow batches in and out):
   the same SQL file on the same SQL semantics. It stays engine-specific because the parse leans on DuckDB semantics that have
   no identical Spark form yet: `json_valid` / `json_type` / `json_extract_string` over a list
   of paths (Spark's JSON functions re-serialise values differently), ISO 8601 casts with
   offsets to `timestamptz` and `strptime` formats, the HMAC over `::blob` pads (DuckDB reads
   `\\xNN` escapes in a blob cast), regular-expression back references (`\\1`), string slices
   (`d[3:]`, which the generator's list rules would turn into `slice`), and JSON objects built
   from `json_extract` values. The work is per record, so it scales with Spark's tasks; only
   DuckDB must be installed where the tasks run.
4. **Staging** (de-duplication across files and days, the split into events, duplicates,
   rejected records and profile versions) is Spark SQL, generated from sql/ingest/stage.sql by
   `to_spark` and run statement by statement, once per source as the DuckDB loads run it
   (`_run_statements`): a `create … as` becomes a temp view (a `table`'s rows computed at
   once), a `delete from T where p` keeps T's rows where p does not hold, an `insert into T` adds
   to T. A full load starts from empty tables; an incremental one (`loaded` given: only the days
   whose fingerprint changed are read) from the staged tables as the last load left them.
5. **Writing**: each table as a new generation, swapped in (transforms/engines/spark_tables.py):
   never half-written. A run killed between two tables leaves them from two loads; the caller
   then no longer finds them noted as the working file's copies and loads in full
   (transforms/engines/spark_run.py, `_loaded_ledger`).

Not done here (the DuckDB path does it): blanking the lines of people erased with
`journeys forget` (sql/ingest/erased_lines.sql).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from transforms.config import Config, SourceConfig
from transforms.engines import spark_tables
from transforms.engines.spark import PortableDuckDB, pinned, to_spark
from transforms.ingest import _prepare_text_file, fingerprint
from transforms.landing import landed_days, landed_files, survey_landing
from transforms.staging import parse_params
from transforms.warehouse import load_pii_macros, read_model, run_sql, sql_file

TABLES = ("quarantine.unread_files", "raw._partitions", "staging.events", "intermediate.duplicate_events",
          "quarantine.rejected", "intermediate.profile_versions", "staging.profiles",
          "intermediate.partition_counts")
"""The tables `ingest` writes, in the order it writes them."""

_LANDING_COLUMNS = ("_partition", "_source_file", "_line", "payload", "_bytes", "_load_error", "_loaded_at")

# tables stage.sql reads: read from views of their frames as the sources before left them
_PRIOR = {"staging.events": "_prior_staged_events", "intermediate.duplicate_events": "_prior_duplicate_events"}
# the tables a load replaces days of (the ledger, then what stage.sql writes)
_STAGED = ("raw._partitions", "staging.events", "intermediate.duplicate_events", "quarantine.rejected",
           "intermediate.profile_versions")


def ingest(spark: Any, landing: Path, config: Config, out: Path, *, secret: str,
           now: datetime | None = None, run_id: str | None = None,
           loaded: Mapping[tuple[str, date], str] | None = None) -> dict[str, Any]:
    """Read the landing zone `landing` (every source of `config`, the landing days in its
    window) with `spark`, and write the tables of `TABLES` as Parquet under `out`, registered
    in `spark` as `schema.table`. `secret` keys the identifier hashes (the warehouse's hash
    secret: the same secret gives the same hashes as DuckDB's); `now` is the run's start
    (naive UTC: the lineage column `_loaded_at` and the limit on future timestamps).

    `loaded`: the ledger the staged tables under `out` hold ((source, day) -> fingerprint, as
    raw._partitions records it), when the caller knows they hold it. Then only the days whose
    files are new or changed are read, and their rows replace those days' rows (`_stage`); the
    other days' rows, and ledger rows, stay as they were (a day whose folder is gone included,
    as on DuckDB). Without it, every day is read into empty tables (a full load).

    Returns each table's row count, the totals read, accepted, rejected and duplicates (over
    every day staged), `mode` (full or incremental) and `days_loaded` (source -> the days read)."""
    from pyspark.sql import functions as F

    now = now or datetime.now(UTC).replace(tzinfo=None)
    out.mkdir(parents=True, exist_ok=True)
    incremental = loaded is not None and all(spark_tables.exists(_path(out, r)) for r in _STAGED)
    counts: dict[str, Any] = {"mode": "incremental" if incremental else "full"}
    unread = survey_landing(landing, config)
    counts["quarantine.unread_files"] = _write(spark, _unread_frame(spark, unread, run_id, now), out,
                                               "quarantine.unread_files")

    parsed_parts, ledger_rows, pending = [], [], {}
    with tempfile.TemporaryDirectory(prefix="journeys-spark-landing-", dir=out) as scratch:
        for name, cfg in config.sources.items():
            days = landed_days(landing, name, cfg, config.settings)
            files = {day: landed_files(landing, name, cfg, day) for day in days}
            prints = {day: fingerprint(fs) for day, fs in files.items()}
            if incremental:
                files = {day: fs for day, fs in files.items() if loaded.get((name, day)) != prints[day]}
            if not files:
                continue
            pending[name] = sorted(files)
            ledger_rows += [(name, day, prints[day], len(fs)) for day, fs in files.items()]
            listed = [(str(p), f"{cfg.folder or name}/{day.isoformat()}/{p.name}", day)
                      for day, fs in files.items() for p in fs]
            if not listed:
                continue
            params = parse_params(name, cfg, config.settings, secret, now)
            if cfg.format == "parquet":
                rows = _parquet_task_input(spark, listed, now)
            else:
                rows = _read_text(spark, listed, Path(scratch) / name, now)
            landed_bytes = sum(Path(f).stat().st_size for f, _, _ in listed)
            parsed_parts.append(_parse(spark, rows, name, cfg, params, landed_bytes))
        parsed = parsed_parts[0] if parsed_parts else None
        for part in parsed_parts[1:]:
            parsed = parsed.unionByName(part)
        if parsed is None:
            parsed = _parse(spark, _empty_landing(spark), "none", next(iter(config.sources.values())),
                            parse_params(*next(iter(config.sources.items())), config.settings, secret, now))
        # the parse runs once: every table below reads this copy (checkpointed, so scratch can go)
        parsed = parsed.localCheckpoint(eager=True)
    counts["days_loaded"] = pending

    older: list[Path] = []  # the generations the new tables replace, removed once all are written
    if pending or not incremental:
        read = parsed.groupBy("source", "_partition").agg(F.count("*").alias("n_lines"))
        # read at their generations (not through the links, which the writes below move)
        prior = {r: spark.read.parquet(str(_path(out, r).resolve())) for r in _STAGED} if incremental else None
        staged = _stage(spark, parsed, prior, pending)
        for relation in ("staging.events", "intermediate.duplicate_events", "quarantine.rejected",
                         "intermediate.profile_versions"):
            counts[relation] = _write(spark, staged[relation], out, relation, older)
        ledger = _ledger_frame(spark, ledger_rows, read, run_id, now)
        if prior is not None:  # the days not read keep their ledger rows
            ledger = prior["raw._partitions"].join(ledger.select("source", "_partition"),
                                                   ["source", "_partition"], "left_anti").unionByName(ledger)
        counts["raw._partitions"] = _write(spark, ledger, out, "raw._partitions", older)
    else:  # nothing new or changed: the staged tables stay as they are
        for relation in _STAGED:
            spark_tables.register(spark, relation, _path(out, relation))
            counts[relation] = spark.table(relation).count()
    for relation in ("staging.profiles", "intermediate.partition_counts"):
        counts[relation] = _write(spark, spark.sql(to_spark(read_model(relation))), out, relation, older)
    spark_tables.drop(older)
    totals = spark.table("intermediate.partition_counts").agg(
        F.sum("n_read"), F.sum("n_accepted"), F.sum("n_rejected"), F.sum("n_duplicates")).collect()[0]
    counts.update(zip(("read", "accepted", "rejected", "duplicates"), (int(v or 0) for v in totals), strict=True))
    return counts


def _path(out: Path, relation: str) -> Path:
    return out.joinpath(*relation.split("."))  # <out>/<schema>/<table>, as the Spark run's tables


# --------------------------------------------------------------------------- reading

def _empty_landing(spark: Any) -> Any:
    return spark.createDataFrame([], _landing_schema())


def _landing_schema() -> Any:
    from pyspark.sql.types import (
        DateType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    types = {"_partition": DateType(), "_source_file": StringType(), "_line": LongType(), "payload": StringType(),
             "_bytes": LongType(), "_load_error": StringType(), "_loaded_at": TimestampType()}
    return StructType([StructField(c, types[c]) for c in _LANDING_COLUMNS])


def _read_text(spark: Any, listed: list[tuple[str, str, date]], scratch: Path, loaded_at: datetime) -> Any:
    """The landed lines of one source's text files `listed` (path, path in the landing zone,
    day), shaped as the DuckDB path's temp table landing_rows. Spark reads each file whole and
    splits it on line breaks (sql/ingest/read_text.sql's rules); gzip files and files that are
    not valid UTF-8 are read through the DuckDB path's prepared copies, and their bad lines
    (or a damaged archive's lost rest) put back with their reason."""
    from pyspark.sql import functions as F

    scratch.mkdir(parents=True, exist_ok=True)
    paths = [f for f, _, _ in listed]
    copies = [scratch / f"{i}.txt" for i in range(len(paths))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        prepared = list(pool.map(_prepare_text_file, paths, copies))
    read_from, bad = [], []
    for (f, rel, day), copy, (changed, bad_lines, damage) in zip(listed, copies, prepared, strict=True):
        source_path = str(copy) if changed else f
        read_from.append((Path(source_path).resolve().as_uri(), rel, day))
        bad += [(rel, day, n, text, nbytes, "the line is not valid UTF-8 text") for n, text, nbytes in bad_lines]
        if damage:
            bad.append((rel, day, damage[0], None, 0, damage[1]))
    files = spark.createDataFrame(read_from, "uri string, _source_file string, _partition date")
    text = (spark.read.text([u for u, _, _ in read_from], wholetext=True)
            .select(F.col("value").alias("content"), F.col("_metadata.file_path").alias("path")))
    # Spark names a file by its URI: the same form as Path.as_uri() once a 'file:/' is 'file:///'
    text = text.withColumn("uri", F.regexp_replace("path", "^file:/+", "file:///"))
    content = F.when(F.col("content").startswith("\ufeff"), F.col("content").substr(F.lit(2), F.length("content"))).otherwise(F.col("content"))
    # each file's lines as one list, the empty line after the last break left out, before the
    # list is exploded: an expression of the file beside the explode is computed for every line
    # (the file split again per line: 55 of the 76 s of a 100k-event ingest)
    parts = F.col("parts")
    files_lines = (text.join(F.broadcast(files), "uri")
                   .select("_partition", "_source_file", F.split(content, "\n", -1).alias("parts"))
                   .select("_partition", "_source_file",
                           F.when(F.element_at(parts, -1) == F.lit(""), F.slice(parts, 1, F.size(parts) - 1))
                           .otherwise(parts).alias("parts")))
    lines = files_lines.select("_partition", "_source_file", F.posexplode(parts).alias("pos", "line"))
    rows = lines.select(
        "_partition", "_source_file",
        (F.col("pos") + 1).cast("bigint").alias("_line"),
        F.when(F.col("line").endswith("\r"), F.col("line").substr(F.lit(1), F.length("line") - 1))
         .otherwise(F.col("line")).alias("payload"),
        F.octet_length("line").cast("bigint").alias("_bytes"),
        F.lit(None).cast("string").alias("_load_error"),
        F.lit(loaded_at).cast("timestamp").alias("_loaded_at"),
    )
    if bad:
        put_back = spark.createDataFrame(
            bad, "_source_file string, _partition date, _line bigint, payload string, _bytes bigint, _load_error string",
        ).withColumn("_loaded_at", F.lit(loaded_at).cast("timestamp"))
        rows = rows.join(put_back.select("_source_file", "_line"), ["_source_file", "_line"], "left_anti") \
            .unionByName(put_back)
    return rows.select(*_LANDING_COLUMNS)


def _parquet_task_input(spark: Any, listed: list[tuple[str, str, date]], loaded_at: datetime) -> Any:
    """One row per Parquet file (its path in `payload`, `_load_error` = 'parquet'): the parse
    task reads them all at once with sql/ingest/read_parquet.sql (union by name, as DuckDB's
    path reads a batch), since the records become DuckDB's JSON text."""

    rows = [(day, rel, 0, f, 0, "parquet", loaded_at) for f, rel, day in listed]
    return spark.createDataFrame(rows, _landing_schema()).repartition(1)


# --------------------------------------------------------------------------- parsing

# the landed bytes a parse task holds at once: its Python worker peaks at a few times this
# (the text, its Arrow and DuckDB copies, the parsed rows); at 10M events two tasks of half a
# source each (3 GB of text) took 8 GB each and starved the machine
TASK_BYTES = 64 << 20
# a JSON or text file is cut into pieces of this many lines (its records are parsed one by one);
# a CSV file stays whole (its header, a quoted field across lines)
PIECE_LINES = 100_000


def _parse(spark: Any, rows: Any, name: str, cfg: SourceConfig, params: dict[str, Any],
           landed_bytes: int = 0) -> Any:
    """sql/ingest/parse.sql over the landed rows of source `name`, in Spark tasks (see the
    module's docstring, step 3), each parsing its rows in an in-memory DuckDB. One row per
    landed record, as DuckDB's temp table `parsed`.

    The rows are partitioned by file (a CSV file's header and its quoted fields across lines
    need the whole file) or, for other formats, by pieces of PIECE_LINES lines of a file, into
    enough partitions that each holds about TASK_BYTES of the source's `landed_bytes` (at
    least one per shuffle partition). They travel as Arrow batches (`mapInArrow`, on a classic
    session and through Spark Connect alike); a task holds its partition's batches together,
    as its files are whole only together."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import (
        ArrayType,
        MapType,
        NullType,
        StringType,
        StructField,
        StructType,
        TimestampNTZType,
        TimestampType,
    )

    def spark_type(t: Any) -> Any:
        if isinstance(t, TimestampNTZType):  # DuckDB's naive UTC timestamps; the session is UTC
            return TimestampType()
        if isinstance(t, MapType) and isinstance(t.keyType, NullType):  # no attributes: an events source
            return MapType(StringType(), StringType())
        return t

    arrow_schema = _parse_arrow(None, cfg, params).schema
    schema = StructType([StructField(f.name, spark_type(f.dataType)) for f in _spark_schema(arrow_schema).fields])
    maps = [i for i, f in enumerate(schema.fields) if isinstance(f.dataType, MapType)]
    # a map travels as its list of (key, value) entries and becomes a map again in Spark
    # (map_from_entries keeps their order, as DuckDB compares maps key by key in order)
    entries = StructType([StructField(f.name, f.dataType if i not in maps else ArrayType(StructType([
        StructField("key", f.dataType.keyType), StructField("value", f.dataType.valueType)])))
        for i, f in enumerate(schema.fields)])
    parts = max(1, int(spark.conf.get("spark.sql.shuffle.partitions")), -(-landed_bytes // TASK_BYTES))
    if cfg.format == "parquet":
        by_file = rows
    elif cfg.format == "csv":
        by_file = rows.repartition(parts, "_source_file")
    else:
        by_file = rows.repartition(parts, "_source_file", F.floor(F.col("_line") / PIECE_LINES))
    landing, out = _landing_arrow_schema(), _arrow_schema(entries)

    def task(batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa

        # the task's whole partition at once: its files are whole only together
        held = [b.cast(landing) for b in batches if b.num_rows]  # timestamps naive UTC, as DuckDB's
        if not held:
            return
        table = _parse_arrow(held, cfg, params)
        columns = [_as_entries(c) if i in maps else c for i, c in enumerate(table.columns)]
        yield from pa.Table.from_arrays(columns, names=out.names).cast(out).to_batches()

    parsed = by_file.select(*_LANDING_COLUMNS).mapInArrow(task, entries)
    return parsed.select(*[F.map_from_entries(f.name).alias(f.name) if i in maps else F.col(f.name)
                           for i, f in enumerate(schema.fields)])


def _arrow_schema(schema: Any) -> Any:
    """The Arrow form of the Spark `schema` a Python task hands back (timestamps in UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC", prefers_large_types=False)


def _as_entries(column: Any) -> Any:
    """An Arrow MAP column as a list of (key, value) structs, in the map's own order."""
    import pyarrow as pa

    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    pairs = pa.StructArray.from_arrays([column.keys, column.items], names=["key", "value"])
    return pa.ListArray.from_arrays(column.offsets, pairs, mask=column.is_null())


def _landing_arrow_schema() -> Any:
    import pyarrow as pa

    types = {"_partition": pa.date32(), "_source_file": pa.string(), "_line": pa.int64(), "payload": pa.string(),
             "_bytes": pa.int64(), "_load_error": pa.string(), "_loaded_at": pa.timestamp("us")}
    return pa.schema([(c, types[c]) for c in _LANDING_COLUMNS])


def _spark_schema(arrow_schema: Any) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema)


def _parse_arrow(batches: list[Any] | None, cfg: SourceConfig, params: dict[str, Any]) -> Any:
    """DuckDB's parse of landed rows (Arrow record batches shaped as landing_rows; None for
    none, which gives the output's schema): the CSV steps of transforms.ingest for a CSV
    source, then sql/ingest/parse.sql. Returns `parsed` as an Arrow table."""
    import duckdb
    import pyarrow as pa

    from transforms.ingest import _csv_to_records

    con = duckdb.connect()
    try:
        run_sql(con, "ingest/task_session")
        run_sql(con, "ingest/landing_tables")
        rows = pa.Table.from_batches(batches) if batches else None
        if rows is not None and rows.num_rows:
            if cfg.format == "parquet":
                listed = rows.to_pylist()
                run_sql(con, "ingest/add_landing_files", {
                    "f": [r["payload"] for r in listed], "r": [r["_source_file"] for r in listed],
                    "d": [r["_partition"] for r in listed], "b": [0 for _ in listed]})
                run_sql(con, "ingest/read_parquet", {"at": listed[0]["_loaded_at"], "files": [r["payload"] for r in listed]})
            else:
                con.from_arrow(rows.select(list(_LANDING_COLUMNS))).insert_into("landing_rows")
                if cfg.format == "csv":
                    _csv_to_records(con, cfg)
        load_pii_macros(con)
        run_sql(con, "ingest/parse", params)
        table = con.table("parsed").arrow()
        table = table.read_all() if hasattr(table, "read_all") else table
        # JSON is text outside DuckDB
        at = table.schema.get_field_index("properties")
        return table.set_column(at, "properties", table.column(at).cast(pa.string()))
    finally:
        con.close()


# --------------------------------------------------------------------------- staging

def _stage(spark: Any, parsed: Any, prior: Mapping[str, Any] | None,
           pending: Mapping[str, list[date]]) -> dict[str, Any]:
    """sql/ingest/stage.sql on Spark, once per source with days to load (`pending`: source ->
    days), in order, as the DuckDB loads file each source's batch: over that source's parsed
    records, with $source and $days, from the tables as the sources before left them. Returns
    the frames of staging.events, intermediate.duplicate_events, quarantine.rejected and
    intermediate.profile_versions. `prior`: the staged tables before this run (read from their
    Parquet), None for a full load (empty tables)."""
    from pyspark.sql import functions as F

    parsed.createOrReplaceTempView("parsed")
    view = _statements("ingest/stage")[0]
    batch_events = spark.sql(to_spark(_sql(view.expression), {"source": "", "days": []}))
    if prior is None:
        empty = {"staging.events": batch_events.schema, "intermediate.duplicate_events": batch_events.schema}
        for relation in ("quarantine.rejected", "intermediate.profile_versions"):
            empty[relation] = _inserted_schema(spark, relation)
        frames = {r: spark.createDataFrame([], schema) for r, schema in empty.items()}
    else:
        frames = {r: prior[r] for r in _STAGED if r != "raw._partitions"}
    for source, days in sorted(pending.items()):
        # the source's rows alone, computed once: its statements read them some seven times
        parsed.where(F.col("source") == source).localCheckpoint(eager=True).createOrReplaceTempView("parsed")
        frames = _run_statements(spark, _statements("ingest/stage"), {"source": source, "days": days}, frames)
        if prior is None:
            # a full load: the tables as this source leaves them, computed once. Left lazy, each
            # later statement (every `create … table` of the next sources, then the writes)
            # recomputed every source's statements before it from `parsed` (1M events: 99
            # queries read 44 GB of checkpointed rows). An incremental load's tables are mostly
            # the prior Parquet, which a later statement reads again column by column: not copied
            frames = {r: f.localCheckpoint(eager=True) for r, f in frames.items()}
    return frames


def _inserted_schema(spark: Any, relation: str) -> Any:
    """The schema of the rows stage.sql inserts into `relation` (from the temp view `parsed`)."""
    for st in _statements("ingest/stage"):
        target = st.this.this if isinstance(st, exp.Insert) and isinstance(st.this, exp.Schema) else st.this
        if isinstance(st, exp.Insert) and f"{target.db}.{target.name}" == relation:
            return spark.sql(to_spark(_sql(st.expression), {"source": "", "days": []})).schema
    raise ValueError(f"stage.sql inserts nothing into {relation}")


def _statements(name: str) -> list[exp.Expression]:
    return [s for s in sqlglot.parse(sql_file(name), read=PortableDuckDB) if s is not None]


def _sql(tree: exp.Expression) -> str:
    """DuckDB text of a statement, the tables of `_PRIOR` read from their empty views."""
    def prior(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and f"{node.db}.{node.name}" in _PRIOR:
            return exp.to_table(_PRIOR[f"{node.db}.{node.name}"])
        return node

    return tree.transform(prior).sql(dialect=PortableDuckDB)


def _stars_named(spark: Any, tree: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    """`select * … qualify …` with the star replaced by the columns it stands for (Spark
    analyses the select without its `qualify`): sqlglot writes `qualify` for Spark as a
    subquery with a window column `_w`, which a star would then carry along."""
    def named(node: exp.Expression) -> exp.Expression:
        if not (isinstance(node, exp.Select) and node.args.get("qualify") is not None
                and len(node.expressions) == 1 and isinstance(node.expressions[0], exp.Star)):
            return node
        plain = node.copy()
        plain.set("qualify", None)
        columns = spark.sql(to_spark(_sql(plain), params)).columns
        out = node.copy()
        out.set("expressions", [exp.column(c) for c in columns])
        return out

    return tree.transform(named)


def _run_statements(spark: Any, statements: list[exp.Expression], params: dict[str, Any],
                    frames: Mapping[str, Any]) -> dict[str, Any]:
    """Run DuckDB statements on Spark, in order, over `frames` (table -> its rows): `create
    [temp] view x as q` makes the temp view `x` of q's Spark form, `create [temp] table x as q`
    the same of q's rows computed now (a table is a snapshot); a read of a table of `_PRIOR` reads
    its frame; `delete from t where p` keeps t's rows where p does not hold; `insert into t q`
    adds q's rows to t. `drop` is left out. Returns the tables' frames after the statements, each
    `pinned` to the views as they were (the next source replaces `parsed` and the statements' views)."""
    frames = dict(frames)
    for relation, view in _PRIOR.items():
        frames[relation].createOrReplaceTempView(view)
    for st in statements:
        if isinstance(st, exp.Create) and st.expression is not None:
            df = spark.sql(to_spark(_sql(_stars_named(spark, st.expression, params)), params))
            if str(st.args.get("kind", "")).upper() == "TABLE":
                df = df.localCheckpoint(eager=True)
            df.createOrReplaceTempView(st.this.name)
        elif isinstance(st, exp.Delete):
            key = f"{st.this.db}.{st.this.name}"
            frames[key].createOrReplaceTempView("_staged_before_delete")
            kept = exp.select("*").from_("_staged_before_delete").where(
                exp.not_(exp.paren(st.args["where"].this.copy())))
            frames[key] = pinned(spark, spark.sql(to_spark(_sql(kept), params)))
        elif isinstance(st, exp.Insert):
            target = st.this.this if isinstance(st.this, exp.Schema) else st.this
            frame = spark.sql(to_spark(_sql(_stars_named(spark, st.expression, params)), params))
            key = f"{target.db}.{target.name}"
            frames[key] = pinned(spark, frames[key].unionByName(frame))
    return frames


# --------------------------------------------------------------------------- writing

def _unread_frame(spark: Any, unread: list[Any], run_id: str | None, found_at: datetime) -> Any:
    rows = [(u.source, u.path, u.kind, u.day, u.n_files, u.reason, run_id, found_at) for u in unread]
    return spark.createDataFrame(rows, "source string, path string, kind string, _partition date, n_files bigint, "
                                       "reason string, run_id string, found_at timestamp")


def _ledger_frame(spark: Any, rows: list[tuple[str, date, str, int]], read: Any, run_id: str | None,
                  at: datetime) -> Any:
    from pyspark.sql import functions as F

    days = spark.createDataFrame(rows, "source string, _partition date, fingerprint string, n_files int")
    return days.join(read, ["source", "_partition"], "left").select(
        "source", "_partition", "fingerprint", "n_files",
        F.coalesce("n_lines", F.lit(0)).cast("bigint").alias("n_lines"),
        F.lit(run_id).cast("string").alias("run_id"),
        F.lit(at).cast("timestamp").alias("started_at"),
        F.lit(at).cast("timestamp").alias("loaded_at"),
    )


def _write(spark: Any, frame: Any, out: Path, relation: str, older: list[Path] | None = None) -> int:
    """Write `frame` as a new generation of the Parquet table `relation` under
    `out/<schema>/<table>` (transforms/engines/spark_tables.py) and register it under that name.
    The generations it replaces go to `older` (removed by the caller once nothing reads them),
    else at once. Returns its row count."""
    path = _path(out, relation)
    spark.catalog.dropTempView(relation)
    replaced = spark_tables.swap_in(frame, path)
    spark_tables.register(spark, relation, path)
    if older is None:
        spark_tables.drop(replaced)
    else:
        older += replaced
    return spark.table(relation).count()
