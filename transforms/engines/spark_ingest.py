"""The landing zone ingested on Spark: the tables the DuckDB ingest writes, with the same rows.

    counts = ingest(spark, landing, config, out, secret=hash_secret)

reads every source's landing days under `landing` and writes, as Parquet tables under `out`
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
   the sql/ingest/csv_*.sql steps) runs in Spark tasks, each holding whole files, by an
   in-memory DuckDB on the task's rows (`rdd.mapPartitions`; `mapInArrow` would need pandas):
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
   `to_spark` and run statement by statement (`_run_statements`): a `create … as` becomes a
   temp view, an `insert into T` a part of table T. This is a full load into empty tables, so
   stage.sql's `delete` statements have nothing to remove and are not run.

Not done here (the DuckDB path does them): loading only the days that changed (the ledger's
fingerprints are written, not read), and blanking the lines of people erased with
`journeys forget` (sql/ingest/erased_lines.sql).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from transforms.config import Config, SourceConfig
from transforms.engines.spark import PortableDuckDB, to_spark
from transforms.ingest import _prepare_text_file, fingerprint
from transforms.landing import landed_days, landed_files, survey_landing
from transforms.staging import parse_params
from transforms.warehouse import load_pii_macros, read_model, run_sql, sql_file

TABLES = ("quarantine.unread_files", "raw._partitions", "staging.events", "intermediate.duplicate_events",
          "quarantine.rejected", "intermediate.profile_versions", "staging.profiles",
          "intermediate.partition_counts")
"""The tables `ingest` writes, in the order it writes them."""

_LANDING_COLUMNS = ("_partition", "_source_file", "_line", "payload", "_bytes", "_load_error", "_loaded_at")

# tables stage.sql reads that a full load starts empty: read from empty views of their shape
_PRIOR = {"staging.events": "_prior_staged_events", "intermediate.duplicate_events": "_prior_duplicate_events"}


def ingest(spark: Any, landing: Path, config: Config, out: Path, *, secret: str,
           now: datetime | None = None, run_id: str | None = None) -> dict[str, int]:
    """Read the landing zone `landing` (every source of `config`, every landing day in its
    window) with `spark`, and write the tables of `TABLES` as Parquet under `out`, registered
    in `spark` as `schema.table`. `secret` keys the identifier hashes (the warehouse's hash
    secret: the same secret gives the same hashes as DuckDB's); `now` is the run's start
    (naive UTC: the lineage column `_loaded_at` and the limit on future timestamps). Returns
    each table's row count and the totals read, accepted, rejected and duplicates."""
    from pyspark.sql import functions as F

    now = now or datetime.now(UTC).replace(tzinfo=None)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    unread = survey_landing(landing, config)
    counts["quarantine.unread_files"] = _write(spark, _unread_frame(spark, unread, run_id, now), out,
                                               "quarantine.unread_files")

    parsed_parts, ledger_rows = [], []
    with tempfile.TemporaryDirectory(prefix="journeys-spark-landing-", dir=out) as scratch:
        for name, cfg in config.sources.items():
            days = landed_days(landing, name, cfg, config.settings)
            files = {day: landed_files(landing, name, cfg, day) for day in days}
            ledger_rows += [(name, day, fingerprint(fs), len(fs)) for day, fs in files.items()]
            listed = [(str(p), f"{cfg.folder or name}/{day.isoformat()}/{p.name}", day)
                      for day, fs in files.items() for p in fs]
            if not listed:
                continue
            params = parse_params(name, cfg, config.settings, secret, now)
            if cfg.format == "parquet":
                rows = _parquet_task_input(spark, listed, now)
            else:
                rows = _read_text(spark, listed, Path(scratch) / name, now)
            parsed_parts.append(_parse(spark, rows, name, cfg, params))
        parsed = parsed_parts[0] if parsed_parts else None
        for part in parsed_parts[1:]:
            parsed = parsed.unionByName(part)
        if parsed is None:
            parsed = _parse(spark, _empty_landing(spark), "none", next(iter(config.sources.values())),
                            parse_params(*next(iter(config.sources.items())), config.settings, secret, now))
        # the parse runs once: every table below reads this copy (checkpointed, so scratch can go)
        parsed = parsed.localCheckpoint(eager=True)

    read = parsed.groupBy("source", "_partition").agg(F.count("*").alias("n_lines"))
    counts["raw._partitions"] = _write(spark, _ledger_frame(spark, ledger_rows, read, run_id, now), out,
                                       "raw._partitions")
    staged = _stage(spark, parsed)
    for relation in ("staging.events", "intermediate.duplicate_events", "quarantine.rejected",
                     "intermediate.profile_versions"):
        counts[relation] = _write(spark, staged[relation], out, relation)
    for relation in ("staging.profiles", "intermediate.partition_counts"):
        counts[relation] = _write(spark, spark.sql(to_spark(read_model(relation))), out, relation)
    totals = spark.table("intermediate.partition_counts").agg(
        F.sum("n_read"), F.sum("n_accepted"), F.sum("n_rejected"), F.sum("n_duplicates")).collect()[0]
    counts.update(zip(("read", "accepted", "rejected", "duplicates"), (int(v or 0) for v in totals), strict=True))
    return counts


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
    lines = (text.join(F.broadcast(files), "uri")
             .select("_partition", "_source_file", F.posexplode(F.split(content, "\n", -1)).alias("pos", "line"),
                     F.size(F.split(content, "\n", -1)).alias("total"))
             .where(~((F.col("pos") + 1 == F.col("total")) & (F.col("line") == F.lit("")))))
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

def _parse(spark: Any, rows: Any, name: str, cfg: SourceConfig, params: dict[str, Any]) -> Any:
    """sql/ingest/parse.sql over the landed rows of source `name`, in Spark tasks (see the
    module's docstring, step 3): the rows are partitioned by file, so each task holds whole
    files (a CSV file's header, a quoted field across lines), and each task parses its rows in
    an in-memory DuckDB. One row per landed record, as DuckDB's temp table `parsed`.

    The rows travel as Spark's Python rows (`rdd.mapPartitions`), converted to and from Arrow
    column by column in the task: `mapInArrow` would hand Arrow batches over directly, but
    needs pandas, which Journeys does not install."""
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
    # (map_from_entries keeps their order): a dict handed to Spark loses the order DuckDB gave the
    # keys, and DuckDB compares maps key by key in order
    entries = StructType([StructField(f.name, f.dataType if i not in maps else ArrayType(StructType([
        StructField("key", f.dataType.keyType), StructField("value", f.dataType.valueType)])))
        for i, f in enumerate(schema.fields)])
    parts = max(1, int(spark.conf.get("spark.sql.shuffle.partitions")))
    by_file = rows.repartition(parts, "_source_file") if cfg.format != "parquet" else rows

    def task(landed: Iterator[Any]) -> Iterator[tuple]:
        import pyarrow as pa

        columns = list(zip(*landed, strict=True)) or [[] for _ in _LANDING_COLUMNS]
        batch = pa.RecordBatch.from_arrays([pa.array(c, type=arrow_landing[i].type) for i, c in enumerate(columns)],
                                           schema=arrow_landing)
        table = _parse_arrow([batch] if batch.num_rows else None, cfg, params)
        values = [c.to_pylist() for c in table.columns]
        yield from zip(*values, strict=True)  # Arrow gives a map as its (key, value) pairs, in order

    arrow_landing = _landing_arrow_schema()
    parsed = spark.createDataFrame(by_file.select(*_LANDING_COLUMNS).rdd.mapPartitions(task), entries)
    return parsed.select(*[F.map_from_entries(f.name).alias(f.name) if i in maps else F.col(f.name)
                           for i, f in enumerate(schema.fields)])


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

def _stage(spark: Any, parsed: Any) -> dict[str, Any]:
    """sql/ingest/stage.sql on Spark over every source's parsed records at once: the frames of
    staging.events, intermediate.duplicate_events, quarantine.rejected and
    intermediate.profile_versions. A full load: the tables it reads back start empty (`_PRIOR`)."""
    parsed.createOrReplaceTempView("parsed")
    days = sorted({r[0] for r in parsed.select("_partition").distinct().collect()})
    params = {"source": "", "days": days}
    view = _statements("ingest/stage")[0]
    batch_events = spark.sql(to_spark(_sql(view.expression), params))
    for name in _PRIOR.values():
        spark.createDataFrame([], batch_events.schema).createOrReplaceTempView(name)
    return _run_statements(spark, _statements("ingest/stage"), params)


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


def _run_statements(spark: Any, statements: list[exp.Expression], params: dict[str, Any]) -> dict[str, Any]:
    """Run DuckDB statements on Spark, in order: `create [temp] table|view x as q` makes the
    temp view `x` of q's Spark form; `insert into t q` adds q's rows to the frame of `t`;
    `delete` and `drop` are left out (a full load: nothing to delete). Returns the frames
    inserted, by table."""
    frames: dict[str, Any] = {}
    for st in statements:
        if isinstance(st, exp.Create) and st.expression is not None:
            spark.sql(to_spark(_sql(_stars_named(spark, st.expression, params)), params)) \
                .createOrReplaceTempView(st.this.name)
        elif isinstance(st, exp.Insert):
            target = st.this.this if isinstance(st.this, exp.Schema) else st.this
            frame = spark.sql(to_spark(_sql(_stars_named(spark, st.expression, params)), params))
            key = f"{target.db}.{target.name}"
            frames[key] = frames[key].unionByName(frame) if key in frames else frame
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


def _write(spark: Any, frame: Any, out: Path, relation: str) -> int:
    """Write `frame` as the Parquet table `relation` under `out/<schema>/<table>` and register it under that
    name (its schema created when missing). Returns its row count."""
    schema = relation.split(".")[0]
    spark.sql(exp.Create(this=exp.Table(this=exp.to_identifier(schema)), kind="SCHEMA", exists=True).sql("spark"))
    spark.catalog.dropTempView(relation)
    path = out.joinpath(*relation.split("."))  # <out>/<schema>/<table>, as the Spark run's tables
    frame.write.mode("overwrite").option("path", str(path)).saveAsTable(relation, format="parquet")
    return spark.table(relation).count()
