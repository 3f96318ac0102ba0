"""raw.<source>: one daily-partitioned asset per configured source."""


import time
from datetime import date

import dagster as dg

from pipelines.defs.ops.resources import JourneysResource, utcnow
from transforms.config import Config, SourceConfig
from transforms.ingest import load_partitions, pending_days
from transforms.runlog import record_loads
from transforms.staging import parse_partitions


class RawLoadConfig(dg.Config):
    only_changed: bool = False
    """Skip day folders whose files are unchanged since they were loaded (the `journeys run`
    and sensor default); an explicit materialization reloads every partition it targets."""


def daily_partitions(config: Config) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=config.settings.partitions_start.isoformat(), end_offset=1)


def raw_asset(name: str, source: SourceConfig, partitions: dg.DailyPartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", name],
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingest",
        kinds={"duckdb"},
        description=(
            f"One row per landed record of source '{name}' ({source.format}, files '{source.files}'), "
            "with its lineage; each partition is one landing day folder, replaced whole on "
            "rematerialization. The records are also parsed into intermediate.records."
        ),
        retry_policy=dg.RetryPolicy(max_retries=1, delay=2),
    )
    def _raw(context: dg.AssetExecutionContext, config: RawLoadConfig, journeys: JourneysResource) -> dg.MaterializeResult:
        cfg = journeys.config
        days = [date.fromisoformat(k) for k in context.partition_keys]
        started = utcnow()
        t0 = time.monotonic()
        loaded, skipped, unchanged, lines, rejected_files = [], 0, 0, 0, []
        with journeys.connect() as con:
            if config.only_changed:
                todo = set(pending_days(con, journeys.landing, name, source, min(days), max(days)))
            else:
                todo = set(days)
            unchanged = len([d for d in days if d not in todo])

            def after_load(batch: list[date]) -> None:
                # inside the load's transaction: the partitions, their records and their run log rows commit together
                parse_partitions(con, name, source, batch, cfg.settings, journeys.hash_secret, started, from_landing=True)
                record_loads(con, name, batch, context.run_id, started)

            results = load_partitions(
                con, journeys.landing, name, source, sorted(todo), loaded_at=utcnow(), run_id=context.run_id,
                started_at=started, after_load=after_load,
            )
            for res in results:
                if res.skipped:
                    skipped += 1
                    continue
                loaded.append(res.partition)
                lines += res.lines
                rejected_files += [f"{f.path}: {f.error}" for f in res.files if f.error]
        seconds = time.monotonic() - t0
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
                "file_problems": dg.MetadataValue.md("\n".join(f"- {n}" for n in rejected_files) or "none"),
            }
        )

    _raw.__name__ = f"raw__{name}"
    return _raw


def build_raw_assets(config: Config) -> list[dg.AssetsDefinition]:
    partitions = daily_partitions(config)
    return [raw_asset(name, src, partitions) for name, src in config.sources.items()]
