"""Landing -> raw: load one source's day folder into ``raw.<source>``, every line accounted for.

Each landed line (JSON Lines), row (CSV) or record (Parquet) becomes one row of
``raw.<source>`` with its lineage (`_source_file`, `_line`, `_partition`, `_loaded_at`).
Nothing is parsed leniently here: a line DuckDB's JSON or CSV readers would skip or null out
is kept with a `_load_error` that staging turns into a quarantine reason.

Reading is set-based in DuckDB: a file is read whole (`read_text`) and split on newlines;
a file that is not valid UTF-8 is read as bytes (`read_blob`) and split on the escaped
newline, so only its bad lines are flagged. CSV rows are split into fields with one regular
expression per row, with the quoting checked by reassembling the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from transforms.config import SourceConfig
from transforms.warehouse import sql_with

RAW_COLUMNS = """
    _partition date not null,
    _source_file varchar not null,
    _line bigint not null,
    payload varchar,
    _bytes bigint not null,
    _load_error varchar,
    _loaded_at timestamp not null
"""


@dataclass
class FileLoad:
    path: str
    lines: int
    bytes: int
    error: str | None = None


@dataclass
class PartitionLoad:
    source: str
    partition: date
    files: list[FileLoad] = field(default_factory=list)
    skipped: bool = False  # no landing folder: existing rows kept
    fingerprint: str = ""

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)


def source_folder(landing_dir: Path, name: str, cfg: SourceConfig) -> Path:
    return landing_dir / (cfg.folder or name)


def landed_files(landing_dir: Path, name: str, cfg: SourceConfig, day: date) -> list[Path]:
    folder = source_folder(landing_dir, name, cfg) / day.isoformat()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(cfg.files) if p.is_file() and not p.name.startswith("."))


def fingerprint(files: list[Path]) -> str:
    """Name, size and modification time of each file: changes when a file is added or rewritten."""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def landed_days(landing_dir: Path, name: str, cfg: SourceConfig) -> list[date]:
    """Day folders (YYYY-MM-DD) present for a source."""
    folder = source_folder(landing_dir, name, cfg)
    out = []
    if folder.is_dir():
        for p in folder.iterdir():
            if p.is_dir():
                try:
                    out.append(date.fromisoformat(p.name))
                except ValueError:
                    continue
    return sorted(out)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(sql_with("create table if not exists raw.{name} (", name=name) + RAW_COLUMNS + ")")
    con.execute(
        """create table if not exists raw._partitions (
            source varchar not null, _partition date not null, fingerprint varchar not null,
            n_files integer not null, n_lines bigint not null, run_id varchar,
            started_at timestamp not null, loaded_at timestamp not null,
            primary key (source, _partition))"""
    )


def _insert_text_lines(con: duckdb.DuckDBPyConnection, table: str, path: Path, rel: str,
                       day: date, loaded_at: datetime) -> tuple[int, str | None]:
    """Insert a text file's lines. Returns (lines, file-level note). Falls back to a byte-level
    read for files that are not valid UTF-8, flagging only the bad lines."""
    params = {"f": str(path), "rel": rel, "day": day, "at": loaded_at}
    try:
        con.execute(sql_with("""insert into {table}
            with parts as (
                select string_split(content, chr(10)) as lines from read_text($f)
            ), numbered as (
                select unnest(lines) as line, generate_subscripts(lines, 1) as n, len(lines) as total
                from parts
            )
            select $day, $rel, n, regexp_replace(line, '\\r$', ''), strlen(line), null, $at
            from numbered
            where not (n = total and line = '')""", table=table),
            params,
        )
        return _last_line(con, table, rel, day), None
    except duckdb.InvalidInputException as e:
        if "UTF-8" not in str(e) and "utf-8" not in str(e):
            raise
    con.execute(sql_with("""insert into {table}
        with parts as (
            select string_split(content::varchar, '\\x0A') as lines from read_blob($f)
        ), numbered as (
            select unnest(lines) as esc, generate_subscripts(lines, 1) as n, len(lines) as total
            from parts
        ), decoded as (
            select n, total, esc, try(decode(esc::blob)) as line, octet_length(esc::blob) as nbytes
            from numbered
        )
        select $day, $rel, n,
            case when line is null then esc else regexp_replace(line, '\\r$', '') end,
            nbytes,
            case when line is null then 'the line is not valid UTF-8 text' end,
            $at
        from decoded
        where not (n = total and nbytes = 0)""", table=table),
        params,
    )
    return _last_line(con, table, rel, day), "some lines are not valid UTF-8"


def _last_line(con: duckdb.DuckDBPyConnection, table: str, rel: str, day: date) -> int:
    return con.execute(sql_with("select count(*) from {table} where _partition = $day and _source_file = $rel", table=table),
        {"day": day, "rel": rel},
    ).fetchall()[0][0]


def _csv_to_records(con: duckdb.DuckDBPyConnection, table: str, rel: str, day: date,
                    cfg: SourceConfig) -> str | None:
    """Turn the physical lines of one CSV file (already in `table`, payload = line) into JSON
    records keyed by the header. Rows with a wrong field count or broken quoting keep their
    text and get a `_load_error`. Returns a file-level problem (missing columns), if any."""
    key = {"day": day, "rel": rel}
    header = con.execute(sql_with("select payload, _load_error from {table} where _partition = $day and _source_file = $rel and _line = 1", table=table),
        key,
    ).fetchall()
    if not header:
        return None
    if header[0][1] is not None:
        con.execute(sql_with("""update {table} set _load_error = 'the file''s header line is not valid UTF-8, so no row can be read'
            where _partition = $day and _source_file = $rel and _line > 1""", table=table),
            key,
        )
        con.execute(sql_with("delete from {table} where _partition = $day and _source_file = $rel and _line = 1", table=table), key)
        return "header is not valid UTF-8"
    fields_re = f'("(?:[^"]|"")*"|[^{_re_class(cfg.delimiter)}"]*){_re_escape(cfg.delimiter)}'
    whole_re = f'(?:"(?:[^"]|"")*"|[^{_re_class(cfg.delimiter)}"]*){_re_escape(cfg.delimiter)}'
    cols = [c.strip().strip('"').replace('""', '"').strip() for c in _split_header(header[0][0], cfg.delimiter)]
    required = [paths for role, paths in cfg.paths().items()]
    missing = []
    for paths in required:
        if not any(p in cols for p in paths):
            missing.append(" or ".join(repr(p) for p in paths))
    con.execute(sql_with("delete from {table} where _partition = $day and _source_file = $rel and _line = 1", table=table), key)
    if missing:
        reason = f"the file's header lacks the required column {', '.join(missing)}, so the whole file is rejected"
        con.execute(sql_with("""update {table} set _load_error = $reason
            where _partition = $day and _source_file = $rel and _load_error is null""", table=table),
            {**key, "reason": reason},
        )
        return reason
    con.execute(sql_with("""update {table} set
            payload = case when ok then to_json(map_from_entries(list_zip($cols, vals)))::varchar else payload end,
            _load_error = case
                when _load_error is not null then _load_error
                when not quoted_ok then 'the CSV row has unbalanced quotes'
                when len(vals) <> len($cols) then 'the CSV row has ' || len(vals) || ' fields; the header has ' || len($cols)
            end
        from (
            select _line as l, vals, quoted_ok, quoted_ok and len(vals) = len($cols) as ok
            from (
                select _line,
                    list_transform(
                        regexp_extract_all(payload || $d, $fre, 1),
                        lambda x: case when x like '"%' then replace(x[2:-2], '""', '"') else x end
                    ) as vals,
                    array_to_string(regexp_extract_all(payload || $d, $wre), '') = payload || $d as quoted_ok
                from {table}
                where _partition = $day and _source_file = $rel and _load_error is null
            )
        ) as parsed
        where _partition = $day and _source_file = $rel and _line = parsed.l""", table=table),
        {**key, "cols": cols, "d": cfg.delimiter, "fre": fields_re, "wre": whole_re},
    )
    return None


def _split_header(line: str, delim: str) -> list[str]:
    import csv
    import io

    return next(csv.reader(io.StringIO(line), delimiter=delim), [])


def _re_escape(ch: str) -> str:
    return "\\" + ch if ch in r".^$*+?()[]{}|\/" else ch


def _re_class(ch: str) -> str:
    return "\\" + ch if ch in r"\]^-" else ch


def load_partition(con: duckdb.DuckDBPyConnection, landing_dir: Path, name: str, cfg: SourceConfig,
                   day: date, loaded_at: datetime, run_id: str | None = None,
                   started_at: datetime | None = None,
                   after_load: Callable[[], object] | None = None) -> PartitionLoad:
    """Replace partition `day` of raw.<name> with the files of its landing folder, in one
    transaction (with `after_load`, e.g. parsing the new rows, inside that transaction).
    A missing folder leaves existing rows alone (landing files may have been archived).
    Returns what was read."""
    files = landed_files(landing_dir, name, cfg, day)
    result = PartitionLoad(source=name, partition=day)
    folder = source_folder(landing_dir, name, cfg) / day.isoformat()
    if not folder.is_dir():
        result.skipped = True
        return result
    result.fingerprint = fingerprint(files)
    ensure_raw_tables(con, name)
    # Read every file into a temporary table first (a failed read must not abort the
    # transaction), then swap the partition in one short transaction.
    con.execute("create or replace temp table landing_rows (" + RAW_COLUMNS + ")")
    table = "landing_rows"
    for path in files:
        rel = f"{cfg.folder or name}/{day.isoformat()}/{path.name}"
        size = path.stat().st_size
        if cfg.format == "parquet":
            con.execute(
                """insert into landing_rows
                select $day, $rel, file_row_number + 1, j, strlen(j), null, $at
                from (select file_row_number, to_json(struct_pack(*columns(* exclude (file_row_number))))::varchar as j
                      from read_parquet($f, file_row_number = true))""",
                {"f": str(path), "rel": rel, "day": day, "at": loaded_at},
            )
            n, note = _last_line(con, table, rel, day), None
        else:
            n, note = _insert_text_lines(con, table, path, rel, day, loaded_at)
            if cfg.format == "csv":
                note = _csv_to_records(con, table, rel, day, cfg) or note
                n = _last_line(con, table, rel, day)
        result.files.append(FileLoad(path=rel, lines=n, bytes=size, error=note))
    con.execute("begin transaction")
    try:
        con.execute(sql_with("delete from raw.{name} where _partition = $day", name=name), {"day": day})
        con.execute(sql_with("insert into raw.{name} select * from landing_rows", name=name))
        con.execute(
            """insert or replace into raw._partitions
            values ($s, $day, $fp, $nf, $nl, $run, $started, $at)""",
            {"s": name, "day": day, "fp": result.fingerprint, "nf": len(files), "nl": result.lines,
             "run": run_id, "started": started_at or loaded_at, "at": loaded_at},
        )
        if after_load is not None:
            after_load()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists landing_rows")
    return result
    result.fingerprint = fingerprint(files)
    table = f"raw.{name}"
    ensure_raw_tables(con, name)
    con.execute("begin transaction")
    try:
        con.execute(sql_with("delete from {table} where _partition = $day", table=table), {"day": day})
        for path in files:
            rel = f"{cfg.folder or name}/{day.isoformat()}/{path.name}"
            size = path.stat().st_size
            if cfg.format == "parquet":
                con.execute(sql_with("""insert into {table}
                    select $day, $rel, file_row_number + 1, j, strlen(j), null, $at
                    from (select file_row_number, to_json(columns(* exclude (file_row_number))) as j
                          from read_parquet($f, file_row_number = true))""", table=table),
                    {"f": str(path), "rel": rel, "day": day, "at": loaded_at},
                )
                n, note = _last_line(con, table, rel, day), None
            else:
                n, note = _insert_text_lines(con, table, path, rel, day, loaded_at)
                if cfg.format == "csv":
                    note = _csv_to_records(con, table, rel, day, cfg) or note
                    n = _last_line(con, table, rel, day)
            result.files.append(FileLoad(path=rel, lines=n, bytes=size, error=note))
        con.execute(
            """insert or replace into raw._partitions
            values ($s, $day, $fp, $nf, $nl, $run, $started, $at)""",
            {"s": name, "day": day, "fp": result.fingerprint, "nf": len(files), "nl": result.lines,
             "run": run_id, "started": started_at or loaded_at, "at": loaded_at},
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result


def pending_days(con: duckdb.DuckDBPyConnection | None, landing_dir: Path, name: str,
                 cfg: SourceConfig, start: date | None = None, end: date | None = None) -> list[date]:
    """Day folders whose files changed since they were loaded (or were never loaded)."""
    loaded: dict[date, str] = {}
    if con is not None:
        try:
            loaded = dict(con.execute(
                "select _partition, fingerprint from raw._partitions where source = $s", {"s": name}
            ).fetchall())
        except duckdb.CatalogException:
            loaded = {}
    out = []
    for day in landed_days(landing_dir, name, cfg):
        if (start and day < start) or (end and day > end):
            continue
        if loaded.get(day) != fingerprint(landed_files(landing_dir, name, cfg, day)):
            out.append(day)
    return out
