"""staging.events, staging.profiles, quarantine.rejected, their private companions and the run
ledger. The raw assets file every landed record into the staged tables as they read it; this
multi-asset derives what follows from them (profiles, partition counts, the run log) and
checks that every record read is accounted for. Each table is an asset in the group named
after its schema, so the lineage shows every table the stage writes."""


import time

import dagster as dg

from pipelines.defs.ops.models import describe
from pipelines.defs.ops.resources import JourneysResource
from pipelines.defs.ops.run_history import stopped_run_outcomes
from transforms.config import Config
from transforms.privacy import ensure_privacy_tables
from transforms.runlog import published_successes, run_log_gaps, stage_runs, unsettled_runs
from transforms.staging import build_staging, count_partitions
from transforms.warehouse import preview

STAGING_KEYS = {
    rel: dg.AssetKey(rel.split("."))
    for rel in ("staging.events", "staging.profiles", "quarantine.rejected", "intermediate.duplicate_events",
                "intermediate.profile_versions", "intermediate.partition_counts",
                "marts.pipeline_runs")
}


def build_staging_assets(config: Config) -> list:
    raw_keys = [dg.AssetKey(["raw", name]) for name in config.sources]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(key, deps=raw_keys, description=describe(rel), group_name=key.path[0], kinds={"duckdb", "sql"})
            for rel, key in STAGING_KEYS.items()
        ],
        name="staging",
    )
    def staging(context: dg.AssetExecutionContext, journeys: JourneysResource):
        t0 = time.monotonic()
        with journeys.connect() as con:
            ensure_privacy_tables(con)  # marts.erasures exists (empty) before any erasure
            counts = build_staging(con)
            stopped = unsettled_runs(con, context.run_id)
            outcomes = stopped_run_outcomes(context.instance, stopped, published_successes(journeys.paths.published, stopped),
                                            recorded_by=context.run_id)
            n_runs = stage_runs(con, context.run_id, outcomes)
            if stopped:
                context.log.warning(
                    f"marts.pipeline_runs: recorded {len(stopped)} earlier run(s) that stopped before publishing: "
                    + ", ".join(f"{r or 'unknown run'} ({o.status})" for r, o in outcomes.items())
                )
            seconds = round(time.monotonic() - t0, 3)
            for rel, key in STAGING_KEYS.items():
                n = n_runs if rel == "marts.pipeline_runs" else counts[rel]
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={"rows": n, "seconds": seconds, "preview": dg.MetadataValue.md(preview(con, rel))},
                )
        context.log.info(
            f"staging.events: {counts['staging.events']:,} events; "
            f"quarantine.rejected: {counts['quarantine.rejected']:,} records; "
            f"{counts['intermediate.duplicate_events']:,} duplicates"
        )

    @dg.asset_check(
        asset=STAGING_KEYS["staging.events"],
        blocking=True,
        description=(
            "For every source and partition, and over the whole loaded landing zone: records read = "
            "accepted + rejected + duplicates, each counted on its own table; and every loaded partition "
            "has its marts.pipeline_runs row, whose counts add up."
        ),
    )
    def counts_add_up(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            partitions = count_partitions(con)
            gaps = run_log_gaps(con)
        bad = [p for p in partitions if p[2] != p[3] + p[4] + p[5]]
        read, accepted, rejected, duplicates = (sum(p[i] for p in partitions) for i in range(2, 6))
        return dg.AssetCheckResult(
            passed=not bad and not gaps and read == accepted + rejected + duplicates,
            metadata={
                "read": read, "accepted": accepted, "rejected": rejected, "duplicates": duplicates,
                "partitions_that_do_not_add_up": len(bad),
                "partitions_without_a_complete_run_log_row": len(gaps),
                "examples": dg.MetadataValue.md(
                    "\n".join([f"- {s} {p}: read {r}, accepted {a}, rejected {q}, duplicates {d}" for s, p, r, a, q, d in bad[:10]]
                              + [f"- {s} {p} (run {run}): {problem}" for s, p, run, problem in gaps[:10]])
                    or "none"
                ),
            },
        )

    return [staging, counts_add_up]
