"""The `journeys` command. Every command that changes data runs the Dagster assets."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Journeys: customer journey maps measured from events. Run `journeys COMMAND --help` for details.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

EXIT_CONFIG = 2  # bad configuration or arguments
EXIT_FAILED = 1  # a run failed
EXIT_BUSY = 3  # another run holds the warehouse

LandingOpt = Annotated[Path | None, typer.Option("--landing", help="Landing folder (env JOURNEYS_LANDING_DIR; default fixtures/landing).")]
WarehouseOpt = Annotated[Path | None, typer.Option("--warehouse", help="Published DuckDB file (env JOURNEYS_WAREHOUSE; default warehouse/journeys.duckdb).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Folder of YAML files replacing the defaults (env JOURNEYS_CONFIG_DIR).")]


def _apply_settings(landing: Path | None, warehouse: Path | None, config: Path | None) -> None:
    """Flags override environment variables, which override the defaults."""
    if landing is not None:
        os.environ["JOURNEYS_LANDING_DIR"] = str(landing.resolve())
    if warehouse is not None:
        os.environ["JOURNEYS_WAREHOUSE"] = str(warehouse.resolve())
    if config is not None:
        os.environ["JOURNEYS_CONFIG_DIR"] = str(config.resolve())


def _quiet_dagster() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}")
    return typer.Exit(code)


def _load():
    """Resource and config from the settings; exits with a readable message on bad config."""
    from pipelines.defs.ops.resources import JourneysResource
    from transforms.config import ConfigError, load_config

    resource = JourneysResource.from_env()
    try:
        config = load_config(resource.config_dir)
    except ConfigError as e:
        raise _fail(f"the configuration is not valid:\n{e}", EXIT_CONFIG) from None
    return resource, config


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def execute(selection_names: list[str] | None, start: date, end: date, only_changed: bool,
            raw_sources: list[str] | None = None) -> bool:
    """Materialize the assets through Dagster in this process, showing progress."""
    _quiet_dagster()
    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.defs.ops.jobs import range_tags, raw_op_config
    from pipelines.defs.ops.run_history import run_tags

    resource, config = _load()
    defs = build_definitions(config, resource)
    job_name = "refresh" if selection_names is None else selection_names[0]
    job = defs.resolve_job_def(job_name)
    sources = raw_sources if raw_sources is not None else list(config.sources)
    run_config = raw_op_config(config, sources, only_changed=only_changed)
    run_config["loggers"] = {"progress": {"config": {}}}
    instance = _instance()
    _mark_interrupted_runs(instance, resource.paths)
    t0 = time.monotonic()
    with out.status(f"Running {job_name} over {start} … {end}", spinner="dots"):
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            tags=range_tags(start, end) | run_tags(resource.paths),
            raise_on_error=False,
        )
    seconds = time.monotonic() - t0
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE" or (
        e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed)]  # type: ignore[union-attr]
    if not result.success:
        err.print(f"[bold red]The run failed[/] after {seconds:.1f}s (run id {result.run_id}).")
        for e in failed:
            err.print(f"  • {e.step_key or ''}: {_failure_reason(e)}".rstrip())
        err.print("The published warehouse was left as it was. See `dagster dev` for the full log.")
        return False
    out.print(f"[green]Done[/] in {seconds:.1f}s (run id {result.run_id}).")
    _ = dg
    return True


def _mark_interrupted_runs(instance, paths) -> None:
    """Runs of this warehouse left STARTED by a killed `journeys` process are marked failed."""
    from pipelines.defs.ops.run_history import mark_interrupted_runs

    marked = mark_interrupted_runs(instance, paths)
    if marked:
        out.print(f"Marked {len(marked)} interrupted run(s) failed in the Dagster history: {', '.join(marked)}.")


def _failure_reason(event) -> str:
    """The user-facing reason of a failed step or check: the innermost error's message."""
    data = getattr(event, "event_specific_data", None)
    if event.event_type_value == "ASSET_CHECK_EVALUATION":
        return f"check {data.check_name} did not pass"
    error = getattr(data, "error", None)
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return event.message or "failed"
    return f"{error.cls_name}: {error.message.strip().splitlines()[0]}"


@app.command()
def run(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    day: Annotated[str | None, typer.Option("--date", help="Process only this landing day (YYYY-MM-DD).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First landing day to process (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last landing day to process (YYYY-MM-DD).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reload every landing day in range, even unchanged ones.")] = False,
) -> None:
    """Load every new or changed landing day, rebuild every table and publish the warehouse."""
    _apply_settings(landing, warehouse, config)
    resource, cfg = _load()
    from transforms.ingest import landed_days

    if not resource.landing.is_dir():
        raise _fail(f"the landing folder {resource.landing} does not exist. Set --landing or JOURNEYS_LANDING_DIR.", EXIT_CONFIG)
    try:
        lo = date.fromisoformat(day or start) if (day or start) else None
        hi = date.fromisoformat(day or end) if (day or end) else None
    except ValueError:
        raise _fail("dates are written YYYY-MM-DD, e.g. --date 2025-03-01.", EXIT_CONFIG) from None
    days = sorted({d for n, s in cfg.sources.items() for d in landed_days(resource.landing, n, s)
                   if d >= cfg.settings.partitions_start})
    if lo:
        days = [d for d in days if d >= lo]
    if hi:
        days = [d for d in days if d <= hi]
    if not days:
        raise _fail(f"no landing day folders (YYYY-MM-DD) found under {resource.landing} in that range.", EXIT_CONFIG)
    out.print(f"Landing:   {resource.landing}\nWarehouse: {resource.paths.published}")
    ok = execute(None, days[0], days[-1], only_changed=not force)
    if not ok:
        raise typer.Exit(EXIT_FAILED)
    _summary(resource.paths.published)


@app.command()
def backfill(
    source: Annotated[str, typer.Option("--source", help="The source to reprocess, e.g. sms.")],
    start: Annotated[str, typer.Option("--start", help="First landing day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last landing day (YYYY-MM-DD).")],
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Reprocess one source over a date range in a single run, then refresh the marts once."""
    _apply_settings(landing, warehouse, config)
    resource, cfg = _load()
    if source not in cfg.sources:
        raise _fail(f"unknown source {source!r}. Sources: {', '.join(cfg.sources)} (see {cfg.files['sources']}).", EXIT_CONFIG)
    try:
        lo, hi = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise _fail("dates are written YYYY-MM-DD, e.g. --start 2025-03-01.", EXIT_CONFIG) from None
    if hi < lo:
        raise _fail("--end is before --start.", EXIT_CONFIG)
    if lo < cfg.settings.partitions_start:
        raise _fail(f"--start is before partitions_start ({cfg.settings.partitions_start}) in {cfg.files['settings']}.", EXIT_CONFIG)
    out.print(f"Backfilling {source} from {lo} to {hi} into {resource.paths.published}")
    if not execute([f"backfill_{source}"], lo, hi, only_changed=False, raw_sources=[source]):
        raise typer.Exit(EXIT_FAILED)
    _summary(resource.paths.published)


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Landing folder to write.")],
    customers: Annotated[int, typer.Option("--customers", min=1, help="Number of customers.")] = 500,
    days: Annotated[int, typer.Option("--days", min=1, help="Number of days.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same seed writes the same files.")] = 7,
    start: Annotated[str, typer.Option("--start", help="First day (YYYY-MM-DD).")] = "2025-03-01",
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes to use.")] = 1,
    broken_share: Annotated[float, typer.Option("--broken-share", min=0.0, max=1.0, help="Share of records broken on purpose.")] = 0.002,
) -> None:
    """Write realistic sample landing files (clickstream, CRM, support) with planted stories."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from transforms.generate import generate as gen

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=out) as bar:
        task = bar.add_task("Customers", total=customers)
        summary = gen(out_dir, customers=customers, days=days, seed=seed, start=date.fromisoformat(start),
                      workers=workers, broken_share=broken_share, progress=lambda n: bar.update(task, completed=n))
    by_source = ", ".join(f"{k} {v:,}" for k, v in summary.events_by_source.items())
    out.print(
        f"Wrote {summary.events:,} events ({by_source}) for {summary.customers:,} customers over {summary.days} days "
        f"into {out_dir}: {summary.duplicates:,} duplicates, {summary.late_events:,} late, {summary.broken_records:,} broken on purpose."
    )


@app.command()
def sql(
    query: Annotated[str | None, typer.Argument(help="SQL to run, e.g. \"select count(*) from marts.journeys\".")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the SQL from a file, e.g. sql/examples/pain_points.sql.")] = None,
    warehouse: WarehouseOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option("--limit", help="Rows to show in table format.")] = 50,
) -> None:
    """Query the published warehouse, read-only. Works while a run is writing."""
    import duckdb

    _apply_settings(None, warehouse, None)
    from pipelines.defs.ops.resources import DEFAULT_WAREHOUSE, setting

    path = Path(setting("JOURNEYS_WAREHOUSE", str(DEFAULT_WAREHOUSE)))
    if fmt not in ("table", "csv", "json"):
        raise _fail("--format is table, csv or json.", EXIT_CONFIG)
    if file is not None:
        if not file.is_file():
            raise _fail(f"no SQL file at {file}.", EXIT_CONFIG)
        query = file.read_text(encoding="utf-8")
    if not query:
        raise _fail('give a query (journeys sql "select …") or a file (journeys sql --file query.sql).', EXIT_CONFIG)
    if not path.exists():
        raise _fail(f"no published warehouse at {path}. Run `journeys run` (or `make demo`) first.", EXIT_CONFIG)
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(query)
        cols = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if cols else []
    except duckdb.Error as e:
        raise _fail(f"the query failed: {str(e).splitlines()[0]}", EXIT_FAILED) from None
    finally:
        con.close()
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    elif fmt == "json":
        import json

        sys.stdout.write(json.dumps([dict(zip(cols, r, strict=True)) for r in rows], default=str, indent=2) + "\n")
    else:
        t = Table(show_header=True, header_style="bold")
        for c in cols:
            t.add_column(c)
        for r in rows[:limit]:
            t.add_row(*["" if v is None else (f"{v:,.4g}" if isinstance(v, float) else str(v)) for v in r])
        out.print(t)
        if len(rows) > limit:
            out.print(f"{len(rows) - limit:,} more rows (use --limit or --format csv).")


@app.command()
def status(landing: LandingOpt = None, warehouse: WarehouseOpt = None, config: ConfigOpt = None) -> None:
    """Landing days loaded, pending and failed; the last run; counts."""
    import duckdb

    _apply_settings(landing, warehouse, config)
    resource, cfg = _load()
    from transforms.ingest import fingerprint, landed_days, landed_files

    path = resource.paths.published
    loaded: dict[tuple[str, str], str] = {}
    last = None
    if path.exists():
        con = duckdb.connect(str(path), read_only=True)
        try:
            loaded = {(s, str(d)): fp for s, d, fp in con.execute(
                "select source, _partition, fingerprint from raw._partitions").fetchall()}
            last = con.execute(
                "select run_id, max(finished_at), sum(n_read), sum(n_accepted), sum(n_rejected), sum(n_duplicates) "
                "from marts.pipeline_runs group by run_id order by 2 desc limit 1").fetchall()
        except duckdb.Error:
            pass
        finally:
            con.close()
    t = Table(title=f"Landing days ({resource.landing})", header_style="bold")
    for col in ("source", "days landed", "loaded", "pending", "first", "last"):
        t.add_column(col)
    total_pending = 0
    for name, src in cfg.sources.items():
        days = landed_days(resource.landing, name, src)
        done = [d for d in days if loaded.get((name, str(d))) == fingerprint(landed_files(resource.landing, name, src, d))]
        pending = len(days) - len(done)
        total_pending += pending
        t.add_row(name, str(len(days)), str(len(done)), str(pending), str(days[0]) if days else "", str(days[-1]) if days else "")
    out.print(t)
    failed = _failed_runs()
    if last:
        run_id, finished, n_read, n_acc, n_rej, n_dup = last[0]
        out.print(f"Last run: {run_id} finished {finished} UTC: read {n_read:,}, accepted {n_acc:,}, rejected {n_rej:,}, duplicates {n_dup:,}.")
    else:
        out.print("No run has been published yet.")
    if failed:
        out.print(f"[red]{len(failed)} failed run(s)[/] in the Dagster history; latest: {failed[0]}")
    out.print(f"{total_pending} landing day(s) pending: " + ("run `journeys run`." if total_pending else "everything is loaded."))


def _failed_runs() -> list[str]:
    if not os.environ.get("DAGSTER_HOME") or not Path(os.environ["DAGSTER_HOME"], "dagster.yaml").exists():
        return []
    _quiet_dagster()
    import dagster as dg

    try:
        inst = dg.DagsterInstance.get()
        runs = inst.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=20)
        return [f"{r.run_id} ({r.job_name})" for r in runs]
    except Exception:  # noqa: BLE001 - history is optional here
        return []


@app.command()
def check(landing: LandingOpt = None, warehouse: WarehouseOpt = None, config: ConfigOpt = None) -> None:
    """Validate the configuration, then run every asset check on the current tables (no run)."""
    _apply_settings(landing, warehouse, config)
    resource, cfg = _load()
    overrides = sorted({Path(f).name for f in cfg.files.values() if not f.startswith(str(Path(__file__).parents[1] / "transforms"))})
    out.print("[green]✓[/] Configuration is valid" + (f" (your files: {', '.join(overrides)})" if overrides else " (shipped defaults)") + ".")
    if not resource.paths.work.exists():
        out.print("No warehouse yet: run `journeys run` to build it, then check again.")
        return
    _quiet_dagster()
    import dagster as dg

    from pipelines.definitions import build_definitions

    defs = build_definitions(cfg, resource)
    checks = [c for c in defs.asset_checks]
    job = dg.define_asset_job("checks_only", selection=dg.AssetSelection.all_asset_checks())
    from pipelines.defs.ops.progress import progress_logger

    defs2 = dg.Definitions(assets=list(defs.assets or []), asset_checks=checks, jobs=[job], loggers={"progress": progress_logger},
                           resources={"journeys": resource}, executor=dg.in_process_executor)
    result = defs2.resolve_job_def("checks_only").execute_in_process(
        run_config={"loggers": {"progress": {"config": {}}}}, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    failed = sum(not ev.passed for ev in result.get_asset_check_evaluations())
    out.print(f"{len(result.get_asset_check_evaluations())} checks, {failed} failed.")
    if failed or not result.success:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def docs() -> None:
    """Write docs/tables.md from the table documentation in sql/<schema>/<table>.yaml."""
    from transforms.docs import write_tables_md

    out.print(f"Wrote {write_tables_md()}")


@app.command()
def report(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write journey-map.html into.")] = Path("warehouse/report"),
    warehouse: WarehouseOpt = None,
) -> None:
    """Write the journey-map report (one self-contained HTML file) from the published warehouse."""
    _apply_settings(None, warehouse, None)
    from pipelines.defs.ops.resources import DEFAULT_WAREHOUSE, setting

    path = Path(setting("JOURNEYS_WAREHOUSE", str(DEFAULT_WAREHOUSE)))
    if not path.exists():
        raise _fail(f"no published warehouse at {path}. Run `journeys run` (or `make demo`) first.", EXIT_CONFIG)
    from transforms.report import build_report

    with out.status("Writing the journey-map report"):
        html = build_report(path, out_dir)
    out.print(f"Report: [bold]{html.resolve()}[/]")


def _summary(path: Path) -> None:
    """A short summary of the published warehouse."""
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        t = Table(title="Published tables", show_header=True, header_style="bold")
        t.add_column("table")
        t.add_column("rows", justify="right")
        for schema, table in con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name in ('raw','staging','quarantine','identity','marts') order by 1, 2"
        ).fetchall():
            if table.startswith("_"):
                continue
            from transforms.warehouse import sql_with

            n = con.execute(sql_with("select count(*) from {relation}", relation=f"{schema}.{table}")).fetchall()[0][0]
            t.add_row(f"{schema}.{table}", f"{n:,}")
        out.print(t)
        reasons = con.execute(
            "select reason, count(*) from quarantine.rejected group by all order by 2 desc, 1 limit 30"
        ).fetchall()
        if reasons:
            out.print("[bold]Rejected records[/] (quarantine.rejected):")
            for reason, n in reasons:
                out.print(f"  {n:>6,}  {reason}")
    finally:
        con.close()
    out.print(f"\nWarehouse: [bold]{path}[/]\nQuery it: journeys sql \"select * from marts.journeys limit 5\" (or any DuckDB client, read-only)")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
