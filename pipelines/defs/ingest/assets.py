"""raw.<source>: one daily-partitioned asset per configured source, the landing files of that
source (the raw layer, read in place), each day read and parsed once into the staged tables;
raw._partitions: their ledger, written by every raw asset in its load (an external asset of
the raw group, which each raw asset reports materialized: one table cannot be the output of
four assets); quarantine.unread_files: every landing entry no source reads."""


import time
from collections import Counter
from datetime import date

import dagster as dg

from pipelines.defs.ops.models import describe
from pipelines.defs.ops.privacy import ERASED_IDENTIFIERS
from pipelines.defs.ops.resources import JourneysResource, utcnow
from transforms.config import Config, SourceConfig
from transforms.ingest import load_partitions, pending_days
from transforms.landing import first_day, glob_problem, last_day, record_unread, survey_landing
from transforms.privacy import erase_lines
from transforms.runlog import record_loads
from transforms.staging import parse_partitions

LEDGER_KEY = dg.AssetKey(["raw", "_partitions"])


class RawLoadConfig(dg.Config):
    only_changed: bool = False
    """Skip day folders whose files are unchanged since they were loaded (the `journeys run`
    and sensor default); an explicit materialization reloads every partition it targets."""


def daily_partitions(config: Config) -> dg.DailyPartitionsDefinition:
    """Daily partitions from settings.partitions_start, else from 1970-01-01: any day folder the
    landing zone holds is a partition, whatever its year (see transforms.landing.first_day)."""
    return dg.DailyPartitionsDefinition(start_date=first_day(config.settings).isoformat(), end_offset=1)


def raw_asset(name: str, source: SourceConfig, partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", name],
        deps=[ERASED_IDENTIFIERS],  # the loader blanks the lines of people erased with `journeys forget`
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="raw",
        kinds={"duckdb"},
        description=(
            f"The landing files of source '{name}' ({source.format}, files '{source.files}'): the raw "
            "layer, read in place (file and line lineage; the ledger raw._partitions holds each day's "
            "fingerprint and records read). Each partition is one landing day folder, read and parsed "
            "once, straight into staging.events and quarantine.rejected, and replaced whole on "
            "rematerialization."
        ),
        retry_policy=dg.RetryPolicy(max_retries=1, delay=2),
    )
    def _raw(context: dg.AssetExecutionContext, config: RawLoadConfig, journeys: JourneysResource) -> dg.MaterializeResult:
        if journeys.unchanged_since is not None:
            return dg.MaterializeResult(metadata={"days_loaded": 0, "records": 0, **journeys.unchanged_metadata()})
        cfg = journeys.config
        problem = glob_problem(journeys.landing, cfg, name)
        if problem:
            raise dg.Failure(description=problem, allow_retries=False)
        if cfg.settings.engine == "spark":  # the staging step reads every source on Spark
            context.log.info(f"raw.{name}: read on Spark by the staging step (engine: spark)")
            return dg.MaterializeResult(metadata={"engine": "spark: read by the staging step"})
        lo, hi = first_day(cfg.settings, source), last_day()
        days = [d for d in (date.fromisoformat(k) for k in context.partition_keys) if lo <= d <= hi]
        if not days:
            context.log.info(f"raw.{name}: no day of this run lies in its days {lo} … {hi}; nothing loaded")
            return dg.MaterializeResult(metadata={"days_loaded": 0, "records": 0})
        started = utcnow()
        t0 = time.monotonic()
        loaded, skipped, unchanged, lines, rejected_files = [], 0, 0, 0, []
        erased: list[int] = []  # lines of people erased with `journeys forget`, blanked on load
        with journeys.connect() as con:
            if config.only_changed:
                todo = set(pending_days(con, journeys.landing, name, source, min(days), max(days)))
            else:
                todo = set(days)
            unchanged = len([d for d in days if d not in todo])

            def after_load(batch: list[date]) -> None:
                # inside the load's transaction: the ledger, the staged records and the run log rows commit together
                parse_partitions(con, name, source, batch, cfg.settings, journeys.hash_secret, started)
                record_loads(con, name, batch, context.run_id, started)

            results = load_partitions(
                con, journeys.landing, name, source, sorted(todo), loaded_at=utcnow(), run_id=context.run_id,
                started_at=started, after_load=after_load,
                before_insert=lambda batch: erased.append(
                    erase_lines(con, source, cfg.settings, journeys.hash_secret)
                ),
            )
            for res in results:
                if res.skipped:
                    skipped += 1
                    continue
                loaded.append(res.partition)
                lines += res.lines
                rejected_files += [f"{f.path}: {f.error}" for f in res.files if f.error]
        seconds = time.monotonic() - t0
        if loaded:  # the ledger's rows for these days were written in the same transaction
            context.log_event(dg.AssetMaterialization(
                LEDGER_KEY, metadata={"source": name, "days_recorded": len(loaded), "records_read": lines}))
        context.log.info(
            f"raw.{name}: {len(loaded)} day(s) loaded, {lines:,} records in {seconds:.1f}s"
            + (f"; {unchanged} unchanged" if unchanged else "")
            + (f"; {skipped} without a landing folder (kept as they were)" if skipped else "")
        )
        if rejected_files:
            context.log.warning(
                f"raw.{name}: {len(rejected_files)} file(s) with problems, e.g. {rejected_files[0]} "
                "(the affected records are in quarantine.rejected)"
            )
        return dg.MaterializeResult(
            metadata={
                "days_loaded": len(loaded),
                "days_unchanged": unchanged,
                "days_without_folder": skipped,
                "records": lines,
                "seconds": round(seconds, 3),
                "records_per_second": round(lines / seconds) if seconds > 0 else 0,
                "records_erased": sum(erased),
                "file_problems": dg.MetadataValue.md("\n".join(f"- {n}" for n in rejected_files) or "none"),
            }
        )

    _raw.__name__ = f"raw__{name}"
    return _raw


def unread_files_asset() -> dg.AssetsDefinition:
    # beside the ledger of what the raw assets read (and downstream of each of them through it, so
    # a source's backfill job lists the unread entries again); not on the daily-partitioned raw
    # assets themselves: Dagster would list every partition since the first (1970 by default:
    # ~20,000 keys) for each of them at every run, to version this asset's inputs (0.2 s each)
    @dg.asset(
        key=["quarantine", "unread_files"],
        deps=[LEDGER_KEY],
        group_name="quarantine",
        kinds={"duckdb"},
        description=describe("quarantine.unread_files"),
    )
    def unread_files(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        if journeys.unchanged_since is not None:  # the entries are those the last run listed
            return dg.MaterializeResult(metadata=journeys.unchanged_metadata())
        unread = survey_landing(journeys.landing, journeys.config)
        with journeys.connect() as con:
            n = record_unread(con, unread, context.run_id, utcnow())
        n_files = sum(u.n_files for u in unread)
        if unread:
            context.log.warning(f"quarantine.unread_files: {n} landing entries ({n_files} files) are not read; the table says why")
        kinds = Counter(u.kind for u in unread)
        return dg.MaterializeResult(metadata={"entries": n, "files": n_files, **{f"kind_{k}": v for k, v in sorted(kinds.items())}})

    return unread_files


def ledger_spec(raw_keys: list[dg.AssetKey]) -> dg.AssetSpec:
    """raw._partitions, the load ledger: written by each raw asset for its source's days."""
    return dg.AssetSpec(
        LEDGER_KEY,
        deps=raw_keys,
        group_name="raw",
        kinds={"duckdb"},
        description=(
            "One row per source and landing day loaded: the day folder's fingerprint, files and records "
            "read, and the run that loaded it. Written by each raw asset in the transaction that stages "
            "the day's records (so read = accepted + rejected + duplicates holds at every commit); "
            "published with the marts."
        ),
    )


def build_raw_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    partitions = daily_partitions(config)
    raws = [raw_asset(name, src, partitions) for name, src in config.sources.items()]
    raw_keys = [dg.AssetKey(["raw", n]) for n in config.sources]
    return [*raws, ledger_spec(raw_keys), unread_files_asset()]
