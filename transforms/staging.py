"""raw -> intermediate.records -> staging.events, staging.profiles, quarantine.rejected.

`parse_partitions` turns the landed rows of one source's partitions into
``intermediate.records`` (one row per landed record, with its canonical fields or the reason
it was rejected); the source's config reaches SQL only as bound parameters. `build_staging`
then de-duplicates accepted events (first landed wins) and writes the quarantine.
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
    bind,
    build_model,
    count_rows,
    deterministic,
    hmac_pads,
    load_pii_macros,
    mark_changed,
    read_model,
    sql_with,
    transaction,
)

RECORDS_COLUMNS = """
    source varchar, kind varchar, _partition date, _source_file varchar, _line bigint,
    _loaded_at timestamp, record_id varchar, event_id varchar, event_name varchar,
    occurred_at timestamp, identifiers map(varchar, varchar), url varchar, referrer varchar,
    utm_source varchar, utm_medium varchar, utm_campaign varchar, device varchar, channel varchar,
    amount double, csat double, satisfaction varchar, text varchar, properties json,
    attributes map(varchar, varchar), reason varchar, payload varchar, payload_bytes bigint,
    payload_hash varchar
"""

# Helpers for sql/intermediate/records.sql: the first of a field's configured paths that holds
# a value. The common case of one path skips the list filter (a constant branch per batch).
PARSE_MACROS = """
create or replace temp macro first_nonempty(v, idx) as
    case
        when len(idx) = 1 then nullif(v[idx[1]], '')
        else list_filter(list_select(v, idx), lambda x: x <> '')[1]
    end;
create or replace temp macro first_filled(v, idx) as
    case
        when len(idx) = 1 then (case when trim(v[idx[1]]) <> '' then v[idx[1]] end)
        else list_filter(list_select(v, idx), lambda x: nullif(trim(x), '') is not null)[1]
    end;
"""

# Fixed SQL fragments, chosen by the validated timestamp format (never user text). Without an
# offset an ISO timestamp is read in the source's time zone; the session's zone is UTC, so
# for UTC sources one cast does both.
_TS_ISO = (
    "case when $ts_tz = 'UTC' then timezone('UTC', try_cast(ts_text as timestamptz)) "
    "when regexp_matches(ts_text, '\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*(Z|z|[+-]\\d{2}(:?\\d{2})?)$') "
    "then timezone('UTC', try_cast(ts_text as timestamptz)) "
    "else timezone('UTC', timezone($ts_tz, try_cast(ts_text as timestamp))) end"
)
_TS_EPOCH_S = "timezone('UTC', to_timestamp(try_cast(ts_text as double)))"
_TS_EPOCH_MS = "timezone('UTC', to_timestamp(try_cast(ts_text as double) / 1000))"
_TS_STRPTIME = "timezone('UTC', timezone($ts_tz, try_strptime(ts_text, $ts_format)))"


def json_path(field: str, fmt: str) -> str:
    """'context.page.url' -> '$."context"."page"."url"'. CSV column names are one key each."""
    parts = [field] if fmt == "csv" else field.split(".")
    return "$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in parts)


def _timestamp_sql(fmt: str) -> str:
    return {"iso8601": _TS_ISO, "epoch_seconds": _TS_EPOCH_S, "epoch_millis": _TS_EPOCH_MS}.get(fmt, _TS_STRPTIME)


def parse_params(name: str, cfg: SourceConfig, settings: SettingsFile, secret: str,
                 now: datetime, days: list[date]) -> dict[str, Any]:
    """Bound parameters for sql/intermediate/records.sql from one source's config."""
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
        "days": days,
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


def ensure_records_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create table if not exists intermediate.records (" + RECORDS_COLUMNS + ")")
    # working files made before rejected payloads were capped
    con.execute("alter table intermediate.records add column if not exists payload_bytes bigint")
    con.execute("alter table intermediate.records add column if not exists payload_hash varchar")
    con.execute(
        """create table if not exists intermediate.unstaged_partitions (
            source varchar not null, _partition date not null, primary key (source, _partition))"""
    )


def parse_partitions(con: duckdb.DuckDBPyConnection, name: str, cfg: SourceConfig, days: list[date],
                     settings: SettingsFile, secret: str, now: datetime, *, from_landing: bool = False) -> int:
    """Replace the records of `days` of source `name` in intermediate.records. Runs inside the
    caller's transaction. Returns the number of records parsed. With `from_landing`, the lines
    are read from the loader's temp table `landing_rows` (the same rows just written to
    raw.<name>, uncompressed) instead of raw.<name>."""
    if not days:
        return 0
    ensure_records_table(con)
    load_pii_macros(con)
    con.execute(PARSE_MACROS)
    sql = read_model("intermediate.records")
    landed = "landing_rows" if from_landing else sql_with("raw.{name}", name=name)
    sql = sql.replace("raw.__source__", landed).replace("__parse_timestamp__", _timestamp_sql(cfg.timestamp.format))
    params = parse_params(name, cfg, settings, secret, now, days)
    con.execute(
        "delete from intermediate.records where source = $s and _partition in (select unnest($days::date[]))",
        {"s": name, "days": days},
    )

    con.execute("insert into intermediate.records by name\n" + sql, bind(sql, params))
    con.execute(
        "insert or ignore into intermediate.unstaged_partitions select $s, unnest($days::date[])",
        {"s": name, "days": days},
    )
    return con.execute(
        "select count(*) from intermediate.records where source = $s and _partition in (select unnest($days::date[]))",
        {"s": name, "days": days},
    ).fetchall()[0][0]


# Above this share of changed partitions a full rebuild is cheaper than the delete/insert.
INCREMENTAL_MAX_SHARE = 0.25


def build_staging(con: duckdb.DuckDBPyConnection, *, incremental: bool = True) -> dict[str, Any]:
    """Bring staging.events, staging.profiles, quarantine.rejected and the partition counts up
    to date with intermediate.records. The parser marks each partition it (re)parses in
    intermediate.unstaged_partitions; when those are a small share of all partitions, only
    the events whose id occurs in them (before or after) are re-decided and only their
    quarantine rows replaced, which gives the same tables as a full rebuild. The marks are
    cleared once the tables are up to date."""
    ensure_records_table(con)
    changed = con.execute("select source, _partition from intermediate.unstaged_partitions order by all").fetchall()
    n_all = con.execute("select count(*) from raw._partitions").fetchall()[0][0] if _has_table(con, "raw", "_partitions") else 0
    exists = _has_table(con, "staging", "events") and _has_table(con, "quarantine", "rejected") and bool(
        con.execute(  # a quarantine from before payloads were capped is rebuilt in full
            """select count(*) from duckdb_columns() where database_name = current_database()
            and schema_name = 'quarantine' and table_name = 'rejected' and column_name = 'payload_hash'"""
        ).fetchall()[0][0]
    )
    mode = "incremental" if (
        incremental and exists and n_all and len(changed) <= INCREMENTAL_MAX_SHARE * n_all
    ) else "full"
    counts: dict[str, Any] = {"mode": mode, "partitions_changed": len(changed)}
    if mode == "full":
        for rel in ("staging.events", "quarantine.rejected"):
            counts[rel] = build_model(con, rel)
    else:
        _update_staging(con, changed)
        counts["staging.events"] = count_rows(con, "staging.events")
        counts["quarantine.rejected"] = count_rows(con, "quarantine.rejected")
    for rel in ("staging.profiles", "intermediate.partition_counts"):
        counts[rel] = build_model(con, rel)
    con.execute("delete from intermediate.unstaged_partitions")
    return counts


def _update_staging(con: duckdb.DuckDBPyConnection, changed: list[tuple[str, date]]) -> None:
    """Re-decide the events whose id occurs in the `changed` partitions (as records now, or as
    staged events before) and replace those partitions' quarantine rows, in one transaction."""
    if not changed:
        return
    params = {"sources": [c[0] for c in changed], "days": [c[1] for c in changed]}
    con.execute("create or replace temp table changed_partitions as select unnest($sources) as source, unnest($days::date[]) as _partition", params)
    con.execute(
        """create or replace temp table changed_event_ids as
        select event_id from intermediate.records
        semi join changed_partitions using (source, _partition)
        where kind = 'events' and reason is null
        union
        select event_id from staging.events
        semi join changed_partitions using (source, _partition)"""
    )
    con.execute(
        """create or replace temp view changed_records as
        select * from intermediate.records
        where kind = 'events' and event_id in (select event_id from changed_event_ids)"""
    )
    events_sql = deterministic(con, _retarget("staging.events", "from changed_records"), {})
    rejected_sql = _retarget("quarantine.rejected", "from intermediate.records semi join changed_partitions using (source, _partition)")
    try:
        with transaction(con):
            con.execute("delete from staging.events where event_id in (select event_id from changed_event_ids)")
            con.execute("insert into staging.events by name " + events_sql)
            con.execute("delete from quarantine.rejected where (source, _partition) in (select (source, _partition) from changed_partitions)")
            con.execute("insert into quarantine.rejected by name " + rejected_sql)
            mark_changed(con, "staging.events", "quarantine.rejected")
    finally:
        con.execute("drop view if exists changed_records")
        con.execute("drop table if exists changed_event_ids")
        con.execute("drop table if exists changed_partitions")


def _retarget(relation: str, source: str) -> str:
    """The model's SQL reading `source` instead of its one `from intermediate.records`."""
    sql = read_model(relation)
    if sql.count("from intermediate.records") != 1:
        raise ValueError(f"{relation}: expected one 'from intermediate.records' to retarget")
    return sql.replace("from intermediate.records", source)


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "select count(*) from duckdb_tables() where schema_name = $s and table_name = $t and database_name = current_database()",
        {"s": schema, "t": table},
    ).fetchall()[0][0])


def count_partitions(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """(source, partition, read, accepted, rejected, duplicates) for every partition found in
    any of the tables, each count taken independently: read from raw.<source>, accepted from
    staging (events) or the parsed records (profiles), rejected from quarantine, duplicates as
    accepted-looking records that staging did not keep. A partition missing from one table
    counts 0 there, so rows staged or quarantined from no landed record show up too."""
    sources = [r[0] for r in con.execute("select distinct source from raw._partitions").fetchall()]
    if not sources:
        return []
    raw_union = " union all ".join(
        sql_with("select '{s}' as source, _partition, count(*) as n from raw.{s} group by all", s=s)
        for s in sources
    )
    return con.execute("with raw_counts as (" + raw_union + """),
        accepted as (
            select source, _partition, count(*) as n from staging.events group by all
            union all
            select source, _partition, count(*) from intermediate.records
            where kind = 'profiles' and reason is null group by all
        ),
        rejected as (select source, _partition, count(*) as n from quarantine.rejected group by all),
        duplicates as (
            select r.source, r._partition, count(*) as n
            from intermediate.records as r
            anti join staging.events as e
                on r.event_id = e.event_id and r._partition = e._partition
                and r._source_file = e._source_file and r._line = e._line
            where r.kind = 'events' and r.reason is null
            group by all
        )
        select source, _partition, coalesce(rc.n, 0) as n_read, coalesce(a.n, 0) as n_accepted,
               coalesce(q.n, 0) as n_rejected, coalesce(d.n, 0) as n_duplicates
        from raw_counts as rc
        full join accepted as a using (source, _partition)
        full join rejected as q using (source, _partition)
        full join duplicates as d using (source, _partition)
        order by all"""
    ).fetchall()


def count_discrepancies(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    """The partitions of `count_partitions` where read != accepted + rejected + duplicates."""
    return [r for r in count_partitions(con) if r[2] != r[3] + r[4] + r[5]]
