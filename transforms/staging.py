"""Landed lines -> staging.events, quarantine.rejected, staging.profiles, in one pass.

`parse_partitions` parses the lines the loader just read from the landing files (temp table
``landing_rows``) once, and files each record straight into ``staging.events`` (the first
landed copy of an event_id), ``intermediate.duplicate_events`` (later copies),
``quarantine.rejected`` or ``intermediate.profile_versions`` (sql/ingest/parse.sql, then
sql/ingest/stage.sql); the source's config reaches SQL only as bound parameters. The landing
files themselves are the raw layer: replayable, with file and line lineage, and the ledger
``raw._partitions`` says what was read. `build_staging` then derives staging.profiles and the
partition counts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from transforms.config import (
    CANONICAL_FIELDS,
    PII_IDENTIFIERS,
    SettingsFile,
    SourceConfig,
    _as_list,
    parse_duration,
)
from transforms.warehouse import (
    apply_comments,
    build_model,
    count_rows,
    hmac_pads,
    load_pii_macros,
    mark_changed,
    mark_days,
    read_model,
    run_sql,
)

TIMESTAMP_KINDS = ("iso8601", "epoch_seconds", "epoch_millis")
"""Timestamp formats with a parser of their own in sql/ingest/parse.sql; any other is a strptime format."""

STAGED_TABLES = ("staging.events", "quarantine.rejected", "intermediate.duplicate_events",
                 "intermediate.profile_versions")

def json_path(field: str, fmt: str) -> str:
    """'context.page.url' -> '$."context"."page"."url"'. CSV column names are one key each."""
    parts = [field] if fmt == "csv" else field.split(".")
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts)


def parse_params(name: str, cfg: SourceConfig, settings: SettingsFile, secret: str,
                 now: datetime) -> dict[str, Any]:
    """Bound parameters for sql/ingest/parse.sql from one source's config."""
    paths: list[str] = []

    def idx(fields: list[str]) -> list[int]:
        out = []
        for f in fields:
            p = json_path(f, cfg.format)
            if p not in paths:
                paths.append(p)
            out.append(paths.index(p) + 1)
        return out

    ident_types = list(cfg.identifiers)
    params: dict[str, Any] = {
        "source": name,
        "kind": cfg.kind,
        "max_bytes": settings.max_record_bytes,
        "min_ts": datetime.combine(settings.min_timestamp, datetime.min.time()),
        "max_ts": now + timedelta(seconds=parse_duration(settings.max_future)),
        "max_future_label": settings.max_future,
        "idx_id": idx(_as_list(cfg.id)),
        "idx_ts": idx([cfg.timestamp.field]),
        "idx_name": idx(_as_list(cfg.event_name)) if cfg.event_name else [],
        "identifier_types": ident_types,
        "idx_identifiers": [idx([cfg.identifiers[t]])[0] for t in ident_types],
        "pii_kinds": [t if t in PII_IDENTIFIERS else "none" for t in ident_types],
        "ts_kind": cfg.timestamp.format if cfg.timestamp.format in TIMESTAMP_KINDS else "strptime",
        "ts_tz": cfg.timestamp.timezone,
        "ts_format": cfg.timestamp.format,
        "ts_format_label": "ISO 8601" if cfg.timestamp.format == "iso8601" else repr(cfg.timestamp.format),
        "id_label": "field " + " / ".join(_as_list(cfg.id)),
        "ts_label": "field " + cfg.timestamp.field,
        "name_label": "field " + " / ".join(_as_list(cfg.event_name)) if cfg.event_name else "",
        "identifier_label": ", ".join(cfg.identifiers.values()),
    }
    for f in CANONICAL_FIELDS:
        params[f"idx_{f}"] = idx(_as_list(cfg.fields[f])) if f in cfg.fields else []
        params[f"const_{f}"] = cfg.constants.get(f)
    if isinstance(cfg.properties, str):
        params.update(props_mode="path", props_path=json_path(cfg.properties, cfg.format), props_names=[], props_paths=[],
                      idx_props=idx([cfg.properties])[0])
    elif isinstance(cfg.properties, dict):
        params.update(
            props_mode="object", props_path="$",
            props_names=list(cfg.properties),
            props_paths=[json_path(p, cfg.format) for p in cfg.properties.values()], idx_props=1,
        )
    else:
        params.update(props_mode="none", props_path="$", props_names=[], props_paths=[], idx_props=1)
    params["attribute_names"] = list(cfg.attributes)
    params["idx_attributes"] = [idx([p])[0] for p in cfg.attributes.values()]
    params["paths"] = paths
    params.update(identifier_hash_params(settings, secret))
    params["payload_prefix_chars"] = settings.quarantine_payload_chars
    # rejected payloads are hashed under a key of their own: a line holding just an email
    # must not give that email's identifier hash
    params["payload_ipad"], params["payload_opad"] = hmac_pads(secret, purpose="quarantine-payload")
    return params


def identifier_hash_params(settings: SettingsFile, secret: str) -> dict[str, Any]:
    """Bound parameters of the identifier path of sql/macros/pii.sql (normalize_identifier,
    keyed_hash): the default phone country code and the HMAC pads of the secret."""
    ipad, opad = hmac_pads(secret)
    return {"phone_cc": settings.identity.phone_country_code, "ipad": ipad, "opad": opad}


def ensure_staged_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The load ledger and the tables the load writes, empty until a load (sql/ingest/tables.sql)."""
    run_sql(con, "ingest/tables")


def parse_partitions(con: duckdb.DuckDBPyConnection, name: str, cfg: SourceConfig, days: list[date],
                     settings: SettingsFile, secret: str, now: datetime) -> int:
    """Parse the loader's temp table `landing_rows` (the lines of source `name`'s landing days
    `days`) once, and file every record into staging.events, intermediate.duplicate_events,
    quarantine.rejected or intermediate.profile_versions, replacing what those days held
    before. Runs inside the caller's transaction. Returns the number of records parsed."""
    if not days:
        return 0
    ensure_staged_tables(con)
    load_pii_macros(con)
    run_sql(con, "ingest/parse", parse_params(name, cfg, settings, secret, now))
    n = run_sql(con, "ingest/count_parsed").fetchall()[0][0]
    run_sql(con, "ingest/stage", {"source": name, "days": days})
    # published: only these days' rows changed (a publish replaces just those); private: whole
    mark_days(con, "staging.events", "event_id", name, days)
    mark_days(con, "quarantine.rejected", "source_day", name, days)
    mark_changed(con, "intermediate.duplicate_events", "intermediate.profile_versions")
    return n


def build_staging(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Derive staging.profiles and intermediate.partition_counts from what the loads filed, and
    count the staged tables (the loads wrote staging.events and quarantine.rejected)."""
    ensure_staged_tables(con)
    counts: dict[str, Any] = {"mode": "loaded"}
    for rel in STAGED_TABLES:
        apply_comments(con, rel)
        counts[rel] = count_rows(con, rel)
    for rel in ("staging.profiles", "intermediate.partition_counts"):
        counts[rel] = build_model(con, rel)
    return counts


def count_partitions(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(source, partition, read, accepted, rejected, duplicates) for every partition found in
    any of the tables, each count taken independently (sql/intermediate/partition_counts.sql):
    read from the load ledger, accepted from staging (events) or the profile versions, rejected
    from quarantine, duplicates from the event copies staging did not keep. A partition missing
    from one table counts 0 there, so rows staged from no loaded partition show up too. Reads
    only: the connection may be read-only."""
    return sorted(con.execute(read_model("intermediate.partition_counts")).fetchall())


def count_discrepancies(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The partitions of `count_partitions` where read != accepted + rejected + duplicates."""
    return [r for r in count_partitions(con) if r[2] != r[3] + r[4] + r[5]]
