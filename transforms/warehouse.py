"""The DuckDB side: connections to the private working database, the SQL model runner,
table documentation (COMMENT ON) and atomic publishing of the analyst file.

The pipeline writes only to a private working database beside the published file
(``journeys.duckdb`` -> ``.journeys.work.duckdb``). Analysts open the published file; a run
publishes by copying every table but the private `raw` and `intermediate` ones into a fresh
temporary file in the same folder and renaming it over the published one, so a reader never
sees a half-written table and is never locked out (DuckDB lets no other process open a file a
writer holds).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import hmac
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
SCHEMAS = ("raw", "staging", "quarantine", "identity", "intermediate", "marts")
_PARAM_RE = re.compile(r"\$([a-z_][a-z0-9_]*)")
_RELATION_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


# Emails and phones: what they look like, normalisation, keyed hash and masking (one file).
PII_MACROS_FILE = SQL_DIR / "macros" / "pii.sql"


@functools.cache
def pii_macros() -> str:
    """The statements of sql/macros/pii.sql (mask_pii, normalize_identifier, keyed_hash, …)."""
    return PII_MACROS_FILE.read_text(encoding="utf-8")


def load_pii_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(pii_macros())


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


def sql_with(template: str, **names: str) -> str:
    """Fill `{name}` slots of a fixed SQL template with identifiers checked against an
    allow-list pattern (schema.table or a bare name). Values never go through here: bind them."""
    for key, value in names.items():
        if not (_RELATION_RE.match(value) or re.match(r"^[a-z_][a-z0-9_]*$", value)):
            raise ValueError(f"not an identifier: {value!r}")
        template = template.replace("{" + key + "}", value)
    return template


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
    con.execute("set TimeZone = 'UTC'")
    if memory_limit:
        con.execute("set memory_limit = $v", {"v": memory_limit})
    if threads:
        con.execute("set threads = $v", {"v": threads})
    if temp_dir is not None:
        temp_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        make_private(temp_dir)
        con.execute("set temp_directory = $v", {"v": str(temp_dir)})
    if not read_only:
        for schema in schemas:
            con.execute(sql_with("create schema if not exists {schema}", schema=schema))
        load_pii_macros(con)
    return con


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


def bind(sql: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of `params` that `sql` references as $name; every reference must be given."""
    wanted = set(_PARAM_RE.findall(_strip_comments(sql)))
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


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def replace_table(con: duckdb.DuckDBPyConnection, relation: str, select: str,
                  params: Mapping[str, Any] | None = None) -> int:
    """`create or replace table <relation> as <select>` plus its documentation, atomically."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    bound = bind(select, params or {})
    select = deterministic(con, select, bound)
    with transaction(con):
        con.execute(sql_with("create or replace table {relation} as\n", relation=relation) + select, bound)
        apply_comments(con, relation)
    return count_rows(con, relation)


def deterministic(con: duckdb.DuckDBPyConnection, select: str, params: Mapping[str, Any]) -> str:
    """Wrap `select` so that its DOUBLE columns are rounded to 12 significant digits."""
    described = con.execute("describe " + select, dict(params)).fetchall()
    doubles = [name for name, kind, *_ in described if kind in ("DOUBLE", "FLOAT")]
    if not doubles:
        return select
    def rounded(name: str) -> str:
        q = '"' + name.replace('"', '""') + '"'
        return (f"case when {q} is null or {q} = 0 or isnan({q}) or isinf({q}) then {q} "
                f"else round({q}, (11 - floor(log10(abs({q}))))::integer) end as {q}")

    replaced = ", ".join(rounded(c) for c in doubles)
    return "select * replace (" + replaced + ") from (\n" + select + "\n)"


def count_rows(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    return con.execute(sql_with("select count(*) from {relation}", relation=relation)).fetchall()[0][0]


# Left out of metadata previews: Dagster keeps them in its own storage, which `journeys forget`
# does not rewrite, so not even an identifier's keyed hash goes there.
PREVIEW_HIDDEN_COLUMNS = ("identifiers", "identifier_value", "payload_hash")


def preview(con: duckdb.DuckDBPyConnection, relation: str, n: int = 5) -> str:
    """A small markdown preview of a table, for Dagster metadata. Values are those of the
    table (free text already masked); identifier columns are left out."""
    if not _RELATION_RE.match(relation):
        raise ValueError(f"not a relation name: {relation!r}")
    cur = con.execute(sql_with("select * from {relation} limit $n", relation=relation), {"n": int(n)})
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
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def apply_comments(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """COMMENT ON the table and each documented column that exists."""
    doc = table_doc(relation)
    if not doc:
        return
    desc = str(doc.get("description", "")).strip()
    con.execute(sql_with("comment on table {relation} is ", relation=relation) + _sql_literal(desc))
    existing = {r[0] for r in con.execute(
        "select column_name from duckdb_columns() where schema_name = $s and table_name = $t",
        {"s": relation.split(".")[0], "t": relation.split(".")[1]},
    ).fetchall()}
    for col, text in (doc.get("columns") or {}).items():
        if col in existing and re.match(r"^[a-z_][a-z0-9_]*$", col):
            con.execute(sql_with('comment on column {relation}."{col}" is ', relation=relation, col=col)
                        + _sql_literal(str(text).strip()))


def _sql_literal(text: str) -> str:
    # COMMENT ON takes no parameters in DuckDB; quote the literal (from our own YAML).
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- publishing


PRIVATE_SCHEMAS = ("raw", "intermediate")
"""Kept only in the working database: landed payloads (clear-text identifiers) and the
pipeline's intermediate steps. `raw._partitions`, the load ledger, is published."""


def _published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, create statement) of each working table analysts get."""
    return con.execute(
        """select schema_name, table_name, sql from duckdb_tables()
        where database_name = 'work'
          and (schema_name not in (select unnest($private::varchar[]))
               or (schema_name = 'raw' and table_name = '_partitions'))
        order by schema_name, table_name""",
        {"private": list(PRIVATE_SCHEMAS)},
    ).fetchall()


def publish(paths: WarehousePaths, *, memory_limit: str | None = None, threads: int | None = None,
            finalize: Callable[[duckdb.DuckDBPyConnection], object] | None = None) -> dict[str, Any]:
    """Build a fresh analyst file from the (checkpointed, closed) working database, without
    its private schemas, then rename it over the published file in one step. Readers holding
    the old file keep their view; new connections see the new one. Being written fresh, the
    file holds no bytes of deleted rows. `finalize` runs on the fresh file once its tables are
    copied, before it is renamed into place (the run log marks the run succeeded there)."""
    t0 = time.monotonic()
    src = paths.work
    if not src.exists():
        raise FileNotFoundError(f"No working warehouse at {src}: run the pipeline first.")
    paths.published.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.published.with_name(f".{paths.published.name}.publishing-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    with private_files():  # the temp file (and its spill) stay private until it is complete
        n_tables = _write_published(paths, src, tmp, memory_limit, threads, finalize)
    return {"bytes": paths.published.stat().st_size, "tables": n_tables,
            "seconds": round(time.monotonic() - t0, 3)}


def _write_published(paths: WarehousePaths, src: Path, tmp: Path, memory_limit: str | None,
                     threads: int | None,
                     finalize: Callable[[duckdb.DuckDBPyConnection], object] | None = None) -> int:
    n_tables = 0
    try:
        con = connect(tmp, memory_limit=memory_limit, threads=threads, temp_dir=paths.temp_dir, schemas=())
        try:
            con.execute("attach $p as work (read_only)", {"p": str(src)})
            tables = _published_tables(con)
            for schema in sorted({s for s, _, _ in tables}):
                con.execute(sql_with("create schema if not exists {schema}", schema=schema))
            for schema, table, create in tables:
                con.execute(create)  # duckdb_tables().sql: the table's own DDL, constraints included
                con.execute(sql_with("insert into {s}.{t} select * from work.{s}.{t}", s=schema, t=table))
                apply_comments(con, f"{schema}.{table}")  # from the same YAML as the working table's
                n_tables += 1
            con.execute("detach work")
            if finalize is not None:
                finalize(con)
            con.execute("checkpoint")
        finally:
            con.close()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, PUBLISHED_FILE_MODE)  # analysts' tools read it: normal permissions
        os.replace(tmp, paths.published)
        dir_fd = os.open(paths.published.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return n_tables


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
