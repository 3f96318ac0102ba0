"""The asset checks of the model stages: one blocking Dagster check per SQL check file
(sql/checks/<schema>/<table>/<check_name>.sql, transforms.checks), on the asset of its folder's
table, named after the file. Nothing here lists a check.

In a run that loads landing days (the refresh and backfill jobs: the schedule, the sensor,
`journeys run`), a check with a nightly form looks only at what the run changed (the partitions
it loaded, the customers it rebuilt: transforms.checks); the `checks` job (`journeys check`) and
a run with the resource's `full_checks` (`journeys run --full-checks`) check every row."""

import time

import dagster as dg

from pipelines.defs.ops.resources import JourneysResource
from transforms.checks import Check, Found, all_checks, check_params, run_check
from transforms.warehouse import PREVIEW_HIDDEN_COLUMNS, SQL_DIR

LOADING_JOBS = ("refresh", "backfill_")
"""The jobs whose runs load landing days (names, or name prefixes): their checks are scoped."""


def check_run_id(context: dg.AssetCheckExecutionContext, journeys: JourneysResource) -> str | None:
    """The run a check is scoped to, or None for a full check (also when invoked outside a run)."""
    try:
        job_name, run_id = context.run.job_name, context.run.run_id
    except (AttributeError, dg.DagsterError):  # invoked directly, outside a run
        return None
    if journeys.full_checks or not job_name.startswith(LOADING_JOBS):
        return None
    return run_id


def _cell(v: object) -> str:
    s = "" if v is None else str(v)
    s = s.replace("|", "\\|").replace("\n", " ")
    return s if len(s) <= 60 else s[:59] + "…"


def offending_table(found: Found) -> str:
    """The shown offending rows as a markdown table, identifier columns left out (Dagster keeps
    metadata in its own storage, which `journeys forget` does not rewrite)."""
    if not found.rows:
        return "none"
    shown = [i for i, c in enumerate(found.columns) if c not in PREVIEW_HIDDEN_COLUMNS]
    lines = ["| " + " | ".join(found.columns[i] for i in shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(r[i]) for i in shown) + " |" for r in found.rows]
    if found.n_rows > len(found.rows):
        lines.append(f"\n{len(found.rows)} of {found.n_rows:,} rows shown")
    return "\n".join(lines)


def sql_check(check: Check) -> dg.AssetChecksDefinition:
    """A blocking check on the asset of `check.relation` that fails when the file returns rows."""

    @dg.asset_check(
        asset=dg.AssetKey(check.relation.split(".")),
        name=check.name,
        blocking=True,
        description=check.description,
    )
    def _check_fn(context: dg.AssetCheckExecutionContext, journeys: JourneysResource) -> dg.AssetCheckResult:
        if journeys.unchanged_since is not None:  # the tables are those the last run checked
            return dg.AssetCheckResult(passed=True, metadata=journeys.unchanged_metadata())
        t0 = time.monotonic()
        with journeys.connect() as con:
            found = run_check(con, check, check_params(journeys.config, journeys.params), run_id=check_run_id(context, journeys))
        return dg.AssetCheckResult(
            passed=found.passed,
            metadata={
                "offending_rows": found.n_rows,
                "checked": found.scope,
                "examples": dg.MetadataValue.md(offending_table(found)),
                "check_file": dg.MetadataValue.path(str((found.path or check.path).relative_to(SQL_DIR.parent))),
                "seconds": round(time.monotonic() - t0, 3),
            },
        )

    return _check_fn


def build_sql_checks() -> list[dg.AssetChecksDefinition]:
    """Every check file as a blocking asset check."""
    return [sql_check(c) for c in all_checks()]
