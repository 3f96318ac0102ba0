"""Erasure: `journeys forget` removes a person from every table and keeps them out.

A person is named by an email (normalised and keyed-hashed like every identifier, so it finds
them whichever field it came in) or by a customer_id. Their identifiers are every identifier
of their customer in identity.customer_ids. Then:

1. A suppression key for each identifier goes into ``intermediate.erased_identifiers``: a keyed
   hash (under a key derived from the secret for this purpose only) of the value as stored, so
   the list holds neither their email or phone nor their identifier hashes.
2. Every loaded landing day is read again from its files (the landing files are the raw
   layer), and every landed line carrying one of those keys (in an identifier field, or an
   email or phone written anywhere in it: sql/ingest/erased_lines.sql) is blanked before it is
   parsed: no payload, and the load error ERASED_REASON, so it stays counted (read = accepted +
   rejected + duplicates) and reaches quarantine.rejected as a rejected record without payload.
   The loader blanks the same lines in every later run, so their old landing files may stay
   where they are. A day whose folder was archived has its staged rows of the person moved to
   quarantine instead (``replay_erased``).
3. The caller then rebuilds every table through the Dagster assets and rewrites the working
   file into a fresh one (``rewrite_working_file``): DuckDB keeps deleted rows' bytes in a file
   until it is copied.
4. ``marts.erasures`` records when and how many rows, without any identifier.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from transforms.config import PII_IDENTIFIERS, Config, SettingsFile, SourceConfig
from transforms.runlog import has_table
from transforms.staging import STAGED_TABLES, identifier_hash_params, json_path, parse_partitions
from transforms.warehouse import (
    PRIVATE_FILE_MODE,
    WarehousePaths,
    apply_comments,
    connect,
    copy_rows,
    hmac_pads,
    load_pii_macros,
    mark_changed,
    private_files,
    run_sql,
    transaction,
)

ERASED_REASON = "erased at the person's request (journeys forget): nothing of the record is kept"
ERASE_PURPOSE = "erasure-suppression"



class PersonNotFound(ValueError):
    """The customer_id given to `journeys forget` is not in the warehouse."""


@dataclass
class Erasure:
    erasure_id: str
    n_customers: int
    n_identifiers: int
    n_records: int
    n_events: int
    days: dict[str, list[date]]


def ensure_privacy_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The suppression list (private) and the erasure log (published), empty until a forget."""
    run_sql(con, "ops/privacy/create_erased_identifiers")
    if not has_table(con, "marts", "erasures"):
        with transaction(con):
            run_sql(con, "ops/privacy/create_erasures")
            mark_changed(con, "marts.erasures")
    apply_comments(con, "marts.erasures")


def _has_erasures(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, "intermediate", "erased_identifiers") and bool(
        run_sql(con, "ops/privacy/count_erased_identifiers").fetchall()[0][0])


def erased_lines_params(cfg: SourceConfig, settings: SettingsFile, secret: str,
                        erasure_id: str | None = None) -> dict[str, Any]:
    """Bound parameters of sql/ingest/erased_lines.sql for one source."""
    types = list(cfg.identifiers)
    ipad, opad = hmac_pads(secret, purpose=ERASE_PURPOSE)
    return {
        **identifier_hash_params(settings, secret),
        "identifier_paths": [json_path(cfg.identifiers[t], cfg.format) for t in types],
        "pii_kinds": [t if t in PII_IDENTIFIERS else "none" for t in types],
        "erase_ipad": ipad,
        "erase_opad": opad,
        "reason": ERASED_REASON,
        "erasure_id": erasure_id,
    }


def erase_lines(con: duckdb.DuckDBPyConnection, cfg: SourceConfig, settings: SettingsFile, secret: str,
                erasure_id: str | None = None) -> int:
    """Blank the lines of the loader's batch (temp table `landing_rows`) that carry an erased
    person, before they are parsed. Returns how many; with `erasure_id`, how many carry only
    people that erasure names (the lines it erases anew). Does nothing (and costs one count)
    while nobody was erased."""
    if not _has_erasures(con):
        return 0
    load_pii_macros(con)
    n_erased, n_new = run_sql(con, "ingest/erased_lines",
                              erased_lines_params(cfg, settings, secret, erasure_id)).fetchall()[0]
    return n_new if erasure_id is not None else n_erased


def _person_values(con: duckdb.DuckDBPyConnection, settings: SettingsFile, secret: str, *,
                   email: str | None, customer_id: str | None) -> tuple[list[str], list[str]]:
    """(customer ids, stored identifier values) of the person named by `email` or `customer_id`."""
    seeds: list[str] = []
    if email is not None:
        seeds = [r[0] for r in run_sql(
            con, "ops/privacy/email_key", {"e": email, **identifier_hash_params(settings, secret)},
        ).fetchall() if r[0] is not None]
        if not seeds:
            raise PersonNotFound(f"{email!r} is not an email address.")
        customers = [r[0] for r in run_sql(con, "ops/privacy/customers_with_identifier", {"h": seeds[0]}).fetchall()]
    else:
        customers = [r[0] for r in run_sql(con, "ops/privacy/customer", {"c": customer_id}).fetchall()]
        if not customers:
            raise PersonNotFound(f"no customer {customer_id!r} in the warehouse (see marts.customers).")
    values = [r[0] for r in run_sql(con, "ops/privacy/identifier_values", {"c": customers}).fetchall()]
    return customers, sorted(set(seeds) | set(values))


def forget_person(con: duckdb.DuckDBPyConnection, config: Config, secret: str, *, email: str | None = None,
                  customer_id: str | None = None, now: datetime, landing_dir: Path) -> Erasure:
    """Erase one person from the working database's raw and parsed records (see the module
    docstring); the caller then rebuilds the tables and rewrites the file. An email that
    matches nobody is still suppressed, so lines that land with it later are erased."""
    if (email is None) == (customer_id is None):
        raise ValueError("name the person by email or by customer_id, not both")
    ensure_privacy_tables(con)
    load_pii_macros(con)
    customers, values = _person_values(con, config.settings, secret, email=email, customer_id=customer_id)
    erasure_id = uuid.uuid4().hex[:16]
    ipad, opad = hmac_pads(secret, purpose=ERASE_PURPOSE)
    n_events = run_sql(con, "ops/privacy/count_events", {"v": values}).fetchall()[0][0] if values else 0
    with transaction(con):
        run_sql(con, "ops/privacy/suppress", {"v": values, "ipad": ipad, "opad": opad, "id": erasure_id, "at": now})
    days: dict[str, list[date]] = {}
    n_records = 0
    for name, cfg in config.sources.items():
        n, hit = replay_erased(con, landing_dir, name, cfg, config.settings, secret, values, erasure_id)
        if hit:
            days[name] = hit
        n_records += n
    with transaction(con):
        mark_changed(con, "marts.erasures")
        run_sql(con, "ops/privacy/record_erasure",
                {"id": erasure_id, "at": now, "by": "email" if email is not None else "customer_id",
                 "nc": len(customers), "ni": len(values), "nr": n_records, "ne": n_events})
    return Erasure(erasure_id, len(customers), len(values), n_records, n_events, days)


def replay_erased(con: duckdb.DuckDBPyConnection, landing_dir: Path, name: str, cfg: SourceConfig,
                  settings: SettingsFile, secret: str, values: list[str], erasure_id: str) -> tuple[int, list[date]]:
    """Read source `name`'s loaded landing days again from their files, the erased person's
    lines blanked before they are parsed (the landing files are the raw layer: nothing else
    holds the lines). A day whose folder is gone (archived) cannot be replayed: its staged rows
    that carry one of the person's stored identifier `values` are moved to quarantine as erased
    (sql/ingest/erase_staged.sql). The ledger keeps its rows. Returns how many records were
    erased anew (lines carrying only people of `erasure_id`) and the days they were in."""
    from transforms.ingest import load_partitions  # ingest reads through this module's erase_lines

    ledger = run_sql(con, "ingest/ledger_days", {"source": name}).fetchall()
    by_load: dict[datetime, list[date]] = {}
    for day, loaded_at, _fingerprint in ledger:
        by_load.setdefault(loaded_at, []).append(day)
    n_erased, hit = 0, set()
    archived: list[date] = []
    for loaded_at, days in sorted(by_load.items()):
        def blank(batch: list[date]) -> None:
            n = erase_lines(con, cfg, settings, secret, erasure_id)
            if n:
                hit.update(batch)
            nonlocal n_erased
            n_erased += n

        results = load_partitions(
            con, landing_dir, name, cfg, days, loaded_at, ledger=False, before_insert=blank,
            after_load=lambda batch, at=loaded_at: parse_partitions(con, name, cfg, batch, settings, secret, at),
        )
        archived += [r.partition for r in results if r.skipped]
    if archived and values:
        with transaction(con):
            n = run_sql(con, "ingest/erase_staged", {"source": name, "days": archived, "values": values,
                                                     "reason": ERASED_REASON}).fetchall()[0][0]
            mark_changed(con, *STAGED_TABLES)
        n_erased += n
    return n_erased, sorted(hit | set(archived if n_erased else []))


def rewrite_working_file(paths: WarehousePaths, *, memory_limit: str | None = None,
                         threads: int | None = None) -> dict[str, Any]:
    """Copy every table of the working database into a fresh file and rename it over the old
    one, so that no bytes of deleted or blanked rows remain (DuckDB keeps them in a file after
    DELETE, CHECKPOINT and VACUUM). The caller holds the writer lock."""
    t0 = time.monotonic()
    src = paths.work
    tmp = src.with_name(f"{src.name}.rewrite-{os.getpid()}")
    with private_files():
        con = connect(src)  # replays any write-ahead log, then leaves none behind
        try:
            run_sql(con, "ops/catalog/checkpoint")
            schemas = tuple(r[0] for r in run_sql(con, "ops/privacy/working_schemas").fetchall())
            tables = run_sql(con, "ops/privacy/working_tables").fetchall()
        finally:
            con.close()
        tmp.unlink(missing_ok=True)
        try:
            con = connect(tmp, memory_limit=memory_limit, threads=threads, temp_dir=paths.temp_dir, schemas=schemas)
            try:
                run_sql(con, "ops/privacy/attach_working_file", {"p": str(src)})
                for schema, table, create in tables:
                    con.execute(create)  # the table's own DDL, as the working file's catalog holds it
                    # landed payloads are long text: zstd, as the loader writes them
                    compress = schema == "raw" and not table.startswith("_")
                    if compress:
                        run_sql(con, "ops/privacy/set_compression", {"compression": "zstd"})
                    copy_rows(con, schema, table, f"work.{schema}.{table}")
                    if compress:
                        run_sql(con, "ops/privacy/set_compression", {"compression": "auto"})
                    apply_comments(con, f"{schema}.{table}")
                run_sql(con, "ops/privacy/detach_working_file")
                run_sql(con, "ops/catalog/checkpoint")
            finally:
                con.close()
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, PRIVATE_FILE_MODE)
            os.replace(tmp, src)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(src.with_name(src.name + ".wal"))
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return {"tables": len(tables), "bytes": src.stat().st_size, "seconds": round(time.monotonic() - t0, 3)}
