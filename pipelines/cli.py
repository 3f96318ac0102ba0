"""The `journeys` command. Every command that changes data runs the Dagster assets."""

from __future__ import annotations

import dataclasses
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
err = Console(stderr=True, soft_wrap=True)  # a path in a message stays on one line

EXIT_CONFIG = 2  # bad configuration or arguments
EXIT_FAILED = 1  # a run failed
EXIT_BUSY = 3  # another run holds the warehouse

LandingOpt = Annotated[Path | None, typer.Option("--landing", help="Landing folder (env JOURNEYS_LANDING_DIR; default fixtures/landing).")]
WarehouseOpt = Annotated[Path | None, typer.Option("--warehouse", help="Published DuckDB file (env JOURNEYS_WAREHOUSE; default warehouse/journeys.duckdb).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="On failure, show Dagster's detail: every failed step and its stack.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="Folder of YAML files replacing the defaults (env JOURNEYS_CONFIG_DIR).")]


def _quiet_dagster() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("dagster").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _me() -> str:
    """The `journeys` command as this shell can run it: `journeys` when it is on the PATH,
    otherwise the path it was started by (e.g. .venv/bin/journeys after `make demo`)."""
    import shutil

    argv0 = Path(sys.argv[0])
    if argv0.name != "journeys":
        return f"{os.path.relpath(sys.executable)} -m pipelines.cli"
    on_path = shutil.which("journeys")
    if on_path and Path(on_path).resolve() == argv0.resolve():
        return "journeys"
    relative = os.path.relpath(argv0)
    return relative if not relative.startswith("..") else str(argv0.absolute())


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]Error:[/] {message}")
    return typer.Exit(code)


def _published(warehouse: Path | None) -> Path:
    """The analyst file the flag (or JOURNEYS_WAREHOUSE, or the default) names, without
    importing Dagster: `sql` and `report` only read it."""
    from pipelines.settings import Settings

    return Settings.resolve(warehouse=warehouse).paths.published


def _resource(landing: Path | None = None, warehouse: Path | None = None, config: Path | None = None):
    """The run's settings as values: each flag overrides its environment variable, which
    overrides the default. Nothing is written back to the environment."""
    from pipelines.defs.ops.resources import JourneysResource

    return JourneysResource.from_settings(landing=landing, warehouse=warehouse, config_dir=config)


def _load(landing: Path | None = None, warehouse: Path | None = None, config: Path | None = None,
          *, light: bool = False):
    """Resource and config from the flags and settings; exits with a readable message on bad config.
    `light`: the settings as plain values (pipelines.settings.Settings) instead of the Dagster
    resource, so a run that finds nothing new never imports Dagster (see `_as_resource`)."""
    from transforms.config import ConfigError, load_config

    if light:
        from pipelines.settings import Settings

        resource = Settings.resolve(landing, warehouse, config)
    else:
        resource = _resource(landing, warehouse, config)
    try:
        config = load_config(resource.config_dir)
    except ConfigError as e:
        raise _fail(f"the configuration is not valid:\n{e}", EXIT_CONFIG) from None
    return resource, config


def _as_resource(settings):
    """The Dagster resource made of `settings` (a resource already is one)."""
    from pipelines.defs.ops.resources import JourneysResource

    return settings if isinstance(settings, JourneysResource) else JourneysResource(**vars(settings))


def _require_usable_secret(resource) -> None:
    """Before a run: the public demo secret hashes only the shipped fixtures (exit 2)."""
    from pipelines.settings import secret_problem

    problem = secret_problem(resource.hash_secret, resource.landing)
    if problem:
        raise _fail(problem, EXIT_CONFIG)


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def execute(resource, config, selection_names: list[str] | None, start: date, end: date, only_changed: bool,
            raw_sources: list[str] | None = None, verbose: bool = False, full_publish: bool = False) -> bool:
    """Materialize the assets through Dagster in this process, showing progress. On failure,
    print the cause in a line or two (all of Dagster's detail with `verbose`). `full_publish`
    writes the analyst file fresh instead of updating a copy (erasure needs it)."""
    _quiet_dagster()
    from pipelines.definitions import build_definitions
    from pipelines.defs.ops.jobs import range_tags, raw_op_config
    from pipelines.defs.ops.publish import PUBLISH_OP, full_rewrite_config
    from pipelines.defs.ops.run_history import run_tags

    resource = _as_resource(resource)
    _require_usable_secret(resource)
    _preflight(resource.paths)
    defs = build_definitions(config, resource)
    job_name = "refresh" if selection_names is None else selection_names[0]
    job = defs.resolve_job_def(job_name)
    sources = raw_sources if raw_sources is not None else list(config.sources)
    run_config = raw_op_config(config, sources, only_changed=only_changed)
    run_config["loggers"] = {"progress": {"config": {"verbose": verbose}}}
    if full_publish and job.graph.has_node_named(PUBLISH_OP):
        run_config["ops"] |= full_rewrite_config()["ops"]
    t0 = time.monotonic()
    try:
        instance = _instance()
        _mark_interrupted_runs(instance, resource.paths)
        with out.status(f"Running {job_name} over {start} … {end}", spinner="dots"):
            result = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                tags=range_tags(start, end) | run_tags(resource.paths),
                raise_on_error=False,
            )
    except OSError as e:  # the Dagster home or the warehouse folder cannot be written at all
        cause = _diagnose([f"{type(e).__name__}: {e}"], resource.paths, e.filename)
        raise _fail(cause or f"{type(e).__name__}: {e}", EXIT_BUSY if cause and cause.startswith("Another") else EXIT_FAILED) from None
    seconds = time.monotonic() - t0
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        checks = [e for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
                  and not e.event_specific_data.passed]  # type: ignore[union-attr]
        cause = None
        for e in failures:
            cause = cause or _diagnose(_error_texts(e), resource.paths)
        err.print(f"[bold red]The run failed[/] after {seconds:.1f}s; the published warehouse was left as it was.")
        if cause:
            err.print(cause)
        if verbose or not cause:
            # a step stopped by a blocking check says only that: the check says why
            real = [e for e in failures if "DagsterAssetCheckFailedError" not in _failure_reason(e)]
            shown = failures + checks if verbose else (real or checks or failures)[:1]
            for e in shown:
                err.print(f"  • {e.step_key or ''}: {_failure_reason(e)}".rstrip())
                if verbose:
                    for text in _error_texts(e, with_stack=True):
                        err.print(text, markup=False, highlight=False)
        if not verbose:
            n = len(failures) + len(checks)
            err.print(f"Run again with --verbose for Dagster's detail ({n} failed step(s) and check(s))"
                      + ("; the run's log is in `make dev` (Dagster UI)." if os.environ.get("DAGSTER_HOME") else "."))
        return False
    out.print(f"[green]Done[/] in {seconds:.1f}s (run id {result.run_id}).")
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
        md = data.metadata or {}
        n, where = md.get("offending_rows"), md.get("check_file")
        found = f": {n.value:,} offending row(s), the select in {where.value}" if n and where else ""
        return f"check {data.check_name} did not pass{found}"
    error = getattr(data, "error", None)
    while error is not None and getattr(error, "cause", None) is not None:
        error = error.cause
    if error is None:
        return event.message or "failed"
    return f"{error.cls_name}: {error.message.strip().splitlines()[0]}"


def _error_texts(event, with_stack: bool = False) -> list[str]:
    """Every error in a failed step's chain (causes and the errors they interrupted), innermost last."""
    data = getattr(event, "event_specific_data", None)
    todo, texts, seen = [getattr(data, "error", None)], [], set()
    while todo:
        error = todo.pop(0)
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        texts.append(f"{error.cls_name}: {error.message.strip()}")
        if with_stack:
            texts.append("".join(error.stack).rstrip())
        todo += [error.cause, error.context]
    return texts


def _free(folder: Path) -> str:
    import shutil

    try:
        usage = shutil.disk_usage(folder)
    except OSError:
        return "unknown"
    return f"{_size(usage.free)} free of {_size(usage.total)}"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _lock_holder(paths) -> str:
    try:
        pid = paths.lock.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def _diagnose(texts: list[str], paths, filename: str | None = None) -> str | None:
    """The cause of a failure in one or two lines (what, which path, what to do), when it is
    one a person can fix: a full disk, a folder that cannot be written, the writer lock."""
    import re

    blob = "\n".join(texts)
    named = filename or next(iter(re.findall(r'["\'](/[^"\']+)["\']', blob)), None)
    where = Path(named) if named else paths.published
    folder = where if where.is_dir() else where.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    elsewhere = "point --warehouse (or JOURNEYS_WAREHOUSE) at a folder on another disk"
    if "WarehouseBusy" in blob or "Another Journeys run" in blob:
        return (f"Another Journeys run{_lock_holder(paths)} is writing {paths.published}. "
                "Wait for it to finish, then run again.")
    if "No space left on device" in blob or "Errno 28" in blob or "ENOSPC" in blob:
        return (f"The disk is full: no space left to write {where} ({_free(folder)} in {folder}).\n"
                f"Free some space there, or {elsewhere}.")
    what = f"Cannot write in {folder}" if where == folder else f"Cannot write {where}"
    if "Read-only file system" in blob or "Errno 30" in blob:
        return (f"{what}: {'it' if where == folder else folder} is on a read-only file system.\n"
                "Make it writable, or point --warehouse (or JOURNEYS_WAREHOUSE) at a writable folder.")
    if "Permission denied" in blob or "Errno 13" in blob:
        return (f"{what}: permission denied.\n"
                f"Give this user write access to {folder}, or point --warehouse (or JOURNEYS_WAREHOUSE) at a writable folder.")
    return None


def _preflight(paths) -> None:
    """Before any work: the warehouse folder must be writable and no other run may be writing."""
    import errno
    import fcntl
    import tempfile

    folder = paths.published.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".journeys-probe-"):
            pass
        fh = open(paths.lock, "a+")  # noqa: SIM115 - closed below
    except OSError as e:
        code = EXIT_FAILED
        named = str(folder) if not e.filename or Path(e.filename).name.startswith(".journeys-probe-") else str(e.filename)
        cause = _diagnose([f"[Errno {e.errno}] {e.strerror}"], paths, named)
        raise _fail(cause or f"cannot write {folder}: {e.strerror}.", code) from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _fail(_diagnose(["WarehouseBusy"], paths) or "", EXIT_BUSY) from None
    except OSError as e:
        if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
            raise
    finally:
        fh.close()


def _nothing_new(resource, cfg, start: date, end: date):
    """When the last run finished, if nothing it would load or build changed since (see
    transforms.incremental.nothing_new_since); None when this run has work to do. Decided
    before Dagster starts, reading the working file read-only."""
    from transforms.incremental import nothing_new_since
    from transforms.warehouse import connect

    _require_usable_secret(resource)
    _preflight(resource.paths)
    if not resource.paths.work.is_file() or not resource.paths.published.is_file():
        return None
    published = resource.paths.published
    if any(published.parent.glob(f".{published.name}.publishing-*")):
        return None  # an interrupted run left a temporary file: a run removes it
    import duckdb

    try:
        con = connect(resource.paths.work, read_only=True)
    except duckdb.Error:  # held by a run that just started, or unreadable: let the run decide
        return None
    try:
        return nothing_new_since(con, cfg, resource.landing, start, end)
    finally:
        con.close()


@app.command()
def run(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    day: Annotated[str | None, typer.Option("--date", help="Process only this landing day (YYYY-MM-DD).")] = None,
    start: Annotated[str | None, typer.Option("--start", help="First landing day to process (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last landing day to process (YYYY-MM-DD).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Reload every landing day in range, even unchanged ones.")] = False,
    full_checks: Annotated[bool, typer.Option("--full-checks", help="Check every row, not only the partitions and customers this run changed.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Load every new or changed landing day, rebuild every table and publish the warehouse.
    The checks look at what the run changed; `--full-checks` (or `journeys check`) checks all."""
    resource, cfg = _load(landing, warehouse, config, light=True)
    if full_checks:
        resource = dataclasses.replace(resource, full_checks=True)
    from transforms.landing import LandingError, days_to_load, glob_problems, unread_warning

    if not resource.landing.is_dir():
        raise _fail(f"the landing folder {resource.landing} does not exist. Set --landing or JOURNEYS_LANDING_DIR.", EXIT_CONFIG)
    try:
        lo = date.fromisoformat(day or start) if (day or start) else None
        hi = date.fromisoformat(day or end) if (day or end) else None
    except ValueError:
        raise _fail("dates are written YYYY-MM-DD, e.g. --date 2025-03-01.", EXIT_CONFIG) from None
    if problems := glob_problems(resource.landing, cfg):
        raise _fail("\n".join(problems), EXIT_CONFIG)
    try:
        days = days_to_load(resource.landing, cfg, lo, hi)
    except LandingError as e:
        raise _fail(str(e), EXIT_CONFIG) from None
    out.print(f"Landing:   {resource.landing}\nWarehouse: {resource.paths.published}")
    since = None if force else _nothing_new(resource, cfg, days[0], days[-1])
    if since is not None:
        out.print(f"Nothing new since {since:%Y-%m-%d %H:%M:%S} UTC (the last run): no landing file was added "
                  "or changed, and the configuration is the same. Nothing was done.")
    else:
        ok = execute(resource, cfg, None, days[0], days[-1], only_changed=not force, verbose=verbose)
        if not ok:
            raise typer.Exit(EXIT_FAILED)
        _summary(resource.paths.published)
    if warning := unread_warning(resource.landing, cfg):
        err.print(f"[yellow]Warning:[/] {warning}")


@app.command()
def backfill(
    source: Annotated[str, typer.Option("--source", help="The source to reprocess, e.g. sms.")],
    start: Annotated[str, typer.Option("--start", help="First landing day (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last landing day (YYYY-MM-DD).")],
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Reprocess one source over a date range in a single run, then refresh the marts once."""
    resource, cfg = _load(landing, warehouse, config)
    if source not in cfg.sources:
        raise _fail(f"unknown source {source!r}. Sources: {', '.join(cfg.sources)} (see {cfg.files['sources']}).", EXIT_CONFIG)
    try:
        lo, hi = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise _fail("dates are written YYYY-MM-DD, e.g. --start 2025-03-01.", EXIT_CONFIG) from None
    if hi < lo:
        raise _fail("--end is before --start.", EXIT_CONFIG)
    from transforms.landing import first_day

    if lo < first_day(cfg.settings, cfg.sources[source]):
        raise _fail(f"--start is before {source}'s first day, {first_day(cfg.settings, cfg.sources[source])} "
                    f"(partitions_start in {cfg.files['settings']}, start_date in {cfg.files['sources']}).", EXIT_CONFIG)
    out.print(f"Backfilling {source} from {lo} to {hi} into {resource.paths.published}")
    if not execute(resource, cfg, [f"backfill_{source}"], lo, hi, only_changed=False, raw_sources=[source], verbose=verbose):
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

    path = _published(warehouse)
    if fmt not in ("table", "csv", "json"):
        raise _fail("--format is table, csv or json.", EXIT_CONFIG)
    if file is not None:
        if not file.is_file():
            raise _fail(f"no SQL file at {file}.", EXIT_CONFIG)
        query = file.read_text(encoding="utf-8")
    if not query:
        raise _fail(f'give a query ({_me()} sql "select …") or a file ({_me()} sql --file query.sql).', EXIT_CONFIG)
    if not path.exists():
        raise _fail(f"no published warehouse at {path}. Run `{_me()} run` (or `make demo`) first.", EXIT_CONFIG)
    con = _read_only_connection(path)
    results: list[tuple[str, list[str], list[tuple]]] = []
    failure = None
    try:
        try:
            statements = con.extract_statements(query)
        except duckdb.Error as e:
            raise _fail(f"the SQL cannot be read: {_first_line(e)}", EXIT_FAILED) from None
        for i, statement in enumerate(statements, 1):
            text = statement.query.strip().rstrip(";").strip()
            try:
                cur = con.execute(statement)
                cols = [d[0] for d in cur.description] if cur.description else []
                rows = cur.fetchall() if cols else []
            except duckdb.Error as e:
                which = f"statement {i} of {len(statements)} ({_shorten(text, 40)})" if len(statements) > 1 else "the query"
                failure = _refusal(e, which)
                break
            if cols:
                results.append((text, cols, rows))
    finally:
        con.close()
    several = len(results) > 1
    for n, (text, cols, rows) in enumerate(results):
        if fmt == "csv":
            import csv

            if n:
                sys.stdout.write("\n")
            w = csv.writer(sys.stdout, lineterminator="\n")
            w.writerow(cols)
            w.writerows([[_cell(c, v, plain=True) for c, v in zip(cols, r, strict=True)] for r in rows])
        elif fmt == "table":
            if several:
                out.print(f"[bold]-- {_shorten(text, out.width - 4)}[/]", highlight=False)
            _print_table(cols, rows, limit)
    if fmt == "json" and results:
        import json

        docs = [[{c: _json_value(c, v) for c, v in zip(cols, r, strict=True)} for r in rows] for _, cols, rows in results]
        doc = [{"statement": text, "rows": d} for (text, _, _), d in zip(results, docs, strict=True)] if several else docs[0]
        sys.stdout.write(json.dumps(doc, default=str, indent=2) + "\n")
    sys.stdout.flush()
    if failure:
        raise _fail(failure, EXIT_FAILED)


def _read_only_connection(path: Path):
    """The published warehouse, read-only in effect: no file outside it can be read or
    written (COPY … TO, read_csv, ATTACH of the working file), no extension loaded, and no
    setting changed (the configuration is locked after the session time zone is set)."""
    import duckdb

    from transforms.warehouse import run_sql

    con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
    run_sql(con, "ops/cli/read_only_session")
    return con


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def _refusal(e: Exception, which: str) -> str:
    """One line for a failed or refused statement."""
    import re

    import duckdb

    msg = _first_line(e)
    if isinstance(e, duckdb.PermissionException):
        if "extension" in msg.lower():
            return f"refused: {which} loads an extension; journeys sql runs with the extensions it ships."
        file = re.search(r'"([^"]+)"', msg)
        target = f" ({file.group(1)})" if file else ""
        return (f"refused: {which} reaches a file outside the warehouse{target}; journeys sql reads only the "
                "published warehouse's tables.")
    if "configuration has been locked" in msg:
        return f"refused: {which} changes a setting; journeys sql runs with fixed settings."
    if "read-only mode" in msg:
        return f"refused: {which} writes; the warehouse is read-only (journeys run writes it)."
    return f"{which} failed: {msg.removeprefix('Error: ')}"


_MONEY = ("revenue", "amount", "price", "cost", "spend")


def _is_money(column: str) -> bool:
    return any(m in column.lower() for m in _MONEY)


def _number(v: float, money: bool, plain: bool) -> str:
    """A float without scientific notation: money with two decimals, others with up to six."""
    sep = "" if plain else ","
    if money:
        return f"{v:{sep}.2f}"
    if v != v or v in (float("inf"), float("-inf")):
        return str(v)
    text = f"{v:{sep}.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _cell(column: str, v, plain: bool = False) -> str:
    from decimal import Decimal

    if v is None:
        return ""
    if isinstance(v, float):
        return _number(v, _is_money(column), plain)
    if isinstance(v, Decimal) and _is_money(column):
        return _number(float(v), True, plain)
    return str(v)


def _json_value(column: str, v):
    if isinstance(v, float) and v == v and v not in (float("inf"), float("-inf")):
        return round(v, 2) if _is_money(column) else v
    return v


def _print_table(cols: list[str], rows: list[tuple], limit: int) -> None:
    """The rows as a table that fits the terminal: the columns that fit, and how to see the rest."""
    cap = 40
    shown = rows[:limit]
    cells = [[_cell(c, v) for c, v in zip(cols, r, strict=True)] for r in shown]
    widths = [min(max([len(c)] + [len(row[i]) for row in cells]), cap) for i, c in enumerate(cols)]
    total, keep = 1, 0
    for w in widths:
        if keep and total + w + 3 > out.width:
            break
        total += w + 3
        keep += 1
    t = Table(show_header=True, header_style="bold")
    for i, c in enumerate(cols[:keep]):
        numeric = any(isinstance(r[i], (int, float)) and not isinstance(r[i], bool) for r in shown)
        t.add_column(c, no_wrap=True, overflow="ellipsis", max_width=cap, justify="right" if numeric else "left")
    for row in cells:
        t.add_row(*row[:keep])
    out.print(t, highlight=False)
    if keep < len(cols):
        out.print(f"Showing {keep} of {len(cols)} columns, those that fit in {out.width} characters. "
                  "See all with --format csv, or select fewer columns.", highlight=False)
    if len(rows) > limit:
        out.print(f"{len(rows) - limit:,} more rows (use --limit or --format csv).")


@app.command()
def status(landing: LandingOpt = None, warehouse: WarehouseOpt = None, config: ConfigOpt = None) -> None:
    """Landing days loaded, pending and failed; the last run; counts."""
    import duckdb

    resource, cfg = _load(landing, warehouse, config)
    from transforms.ingest import fingerprint
    from transforms.landing import landed_days, landed_files
    from transforms.warehouse import run_sql

    path = resource.paths.published
    loaded: dict[tuple[str, str], str] = {}
    last = None
    if path.exists():
        con = duckdb.connect(str(path), read_only=True)
        try:
            loaded = {(s, str(d)): fp for s, d, fp in run_sql(con, "ops/cli/loaded_partitions").fetchall()}
            last = run_sql(con, "ops/cli/last_run").fetchall()
        except duckdb.Error:
            pass
        finally:
            con.close()
    t = Table(title=f"Landing days ({resource.landing})", header_style="bold")
    for col in ("source", "days landed", "loaded", "pending", "first", "last"):
        t.add_column(col)
    total_pending = 0
    for name, src in cfg.sources.items():
        days = landed_days(resource.landing, name, src, cfg.settings)
        done = [d for d in days if loaded.get((name, str(d))) == fingerprint(landed_files(resource.landing, name, src, d))]
        pending = len(days) - len(done)
        total_pending += pending
        t.add_row(name, str(len(days)), str(len(done)), str(pending), str(days[0]) if days else "", str(days[-1]) if days else "")
    out.print(t)
    failed = _failed_runs(path)
    if last:
        run_id, finished, n_read, n_acc, n_rej, n_dup = last[0]
        out.print(f"Last run: {run_id} finished {finished} UTC: read {n_read:,}, accepted {n_acc:,}, rejected {n_rej:,}, duplicates {n_dup:,}.")
    else:
        out.print("No run has been published yet.")
    if failed:
        out.print(f"[red]{len(failed)} failed run(s)[/] in the Dagster history; latest: {failed[0]}")
    out.print(f"{total_pending} landing day(s) pending: " + (f"run `{_me()} run`." if total_pending else "everything is loaded."))
    from transforms.landing import unread_warning

    if warning := unread_warning(resource.landing, cfg):
        err.print(f"[yellow]Warning:[/] {warning}")


def _failed_runs(warehouse: Path) -> list[str]:
    """Failed runs of this warehouse in the Dagster history (runs carry the warehouse they write)."""
    if not os.environ.get("DAGSTER_HOME") or not Path(os.environ["DAGSTER_HOME"], "dagster.yaml").exists():
        return []
    _quiet_dagster()
    import dagster as dg

    try:
        inst = dg.DagsterInstance.get()
        from pipelines.defs.ops.run_history import WAREHOUSE_TAG

        runs = inst.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                                                   tags={WAREHOUSE_TAG: str(warehouse)}), limit=20)
        return [f"{r.run_id} ({r.job_name})" for r in runs]
    except Exception:  # noqa: BLE001 - history is optional here
        return []


@app.command()
def check(landing: LandingOpt = None, warehouse: WarehouseOpt = None, config: ConfigOpt = None) -> None:
    """Validate the configuration, then run every asset check on every row of the current tables (no run)."""
    resource, cfg = _load(landing, warehouse, config)
    overrides = sorted({Path(f).name for f in cfg.files.values() if not f.startswith(str(Path(__file__).parents[1] / "transforms"))})
    out.print("[green]✓[/] Configuration is valid" + (f" (your files: {', '.join(overrides)})" if overrides else " (shipped defaults)") + ".")
    problems = _landing_problems(resource.landing, cfg)
    if problems:
        raise _fail("\n".join(problems), EXIT_CONFIG)
    _require_usable_secret(resource)
    for line in _unseen_event_names(resource.paths.published, cfg):
        err.print(f"[yellow]Warning:[/] {line}", markup=True, highlight=False)
    if not resource.paths.work.exists():
        out.print(f"No warehouse yet: run `{_me()} run` to build it, then check again.")
        return
    _quiet_dagster()
    import dagster as dg

    from pipelines.definitions import build_definitions

    defs = build_definitions(cfg, resource)
    result = defs.resolve_job_def("checks").execute_in_process(
        run_config={"loggers": {"progress": {"config": {}}}}, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    failed = sum(not ev.passed for ev in result.get_asset_check_evaluations())
    out.print(f"{len(result.get_asset_check_evaluations())} checks, {failed} failed.")
    if failed or not result.success:
        raise typer.Exit(EXIT_FAILED)


def _landing_problems(landing: Path, cfg) -> list[str]:
    """Sources whose `files` glob matches none of the files landed in their day folders."""
    from transforms.landing import glob_problems

    return glob_problems(landing, cfg) if landing.is_dir() else []


def _unseen_event_names(published: Path, cfg) -> list[str]:
    """Warnings for funnel steps and rules whose event names never occur in the published
    staging.events; none when there is no warehouse yet."""
    import duckdb

    from transforms.config import unseen_event_names
    from transforms.warehouse import run_sql

    if not published.exists():
        return []
    try:
        con = duckdb.connect(str(published), read_only=True)
    except duckdb.Error:
        return []
    try:
        rows = run_sql(con, "ops/cli/event_names").fetchall()
    except duckdb.Error:
        return []
    finally:
        con.close()
    seen: dict[str, set[str]] = {}
    for source, name in rows:
        seen.setdefault(source, set()).add(name)
    return unseen_event_names(cfg, seen)


@app.command()
def forget(
    email: Annotated[str | None, typer.Option("--email", help="The person's email address, as written anywhere.")] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="The person's customer_id (c_…), as in marts.customers.")] = None,
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Erase a person from every table and file, and keep their landed lines out of later runs."""
    resource, cfg = _load(landing, warehouse, config)
    if (email is None) == (customer is None):
        raise _fail("name the person with --email ADDRESS or --customer ID (one of them).", EXIT_CONFIG)
    _require_usable_secret(resource)
    paths = resource.paths
    if not paths.work.exists():
        raise _fail(f"no warehouse at {paths.published} to erase from. Set --warehouse or JOURNEYS_WAREHOUSE.", EXIT_CONFIG)
    from pipelines.defs.ops.resources import utcnow
    from transforms.privacy import PersonNotFound, forget_person, rewrite_working_file
    from transforms.warehouse import WarehouseBusy, run_sql, writer_lock

    try:
        with writer_lock(paths, wait_seconds=resource.lock_wait_seconds), resource.connect() as con:
            erasure = forget_person(con, cfg, resource.hash_secret, email=email, customer_id=customer, now=utcnow(),
                                    landing_dir=resource.landing)
            lo, hi = run_sql(con, "ops/cli/loaded_range").fetchall()[0]
    except PersonNotFound as e:
        raise _fail(str(e), EXIT_CONFIG) from None
    except WarehouseBusy as e:
        raise _fail(str(e), EXIT_BUSY) from None
    from pipelines.defs.ops.privacy import report_erasure

    # the erasure tables are external assets of the Definitions: their writer reports them
    report_erasure(_instance(), erasure_id=erasure.erasure_id, n_identifiers=erasure.n_identifiers,
                   n_records=erasure.n_records)
    out.print(f"Erasure {erasure.erasure_id}: {erasure.n_customers} customer(s), {erasure.n_identifiers} identifier(s), "
              f"{erasure.n_records:,} landed record(s) blanked; their later landed lines will be blanked on load.")
    # rebuild every table through Dagster and publish a fresh analyst file: a copy would keep
    # the replaced tables' old blocks, the person's rows among them
    if lo is not None and not execute(resource, cfg, None, lo, hi, only_changed=True, full_publish=True):
        err.print("The erasure is recorded but the tables were not rebuilt: fix the cause and run `journeys run`.")
        raise typer.Exit(EXIT_FAILED)
    try:
        with writer_lock(paths, wait_seconds=resource.lock_wait_seconds):
            rewrite_working_file(paths, memory_limit=cfg.settings.duckdb_memory_limit, threads=cfg.settings.duckdb_threads)
    except WarehouseBusy as e:
        raise _fail(f"{e} Then run `journeys forget` again to rewrite the working file.", EXIT_BUSY) from None
    report_dir = paths.published.parent / "report"
    if (report_dir / "journey-map.html").exists():
        from transforms.report import build_report

        build_report(paths.published, report_dir)
        out.print(f"Rewrote the report {report_dir / 'journey-map.html'}.")
    out.print(f"Rewrote {paths.published} and its working file fresh: no bytes of the person remain. "
              "Reports written elsewhere (journeys report --out) must be written again.")


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
    path = _published(warehouse)
    if not path.exists():
        raise _fail(f"no published warehouse at {path}. Run `{_me()} run` (or `make demo`) first.", EXIT_CONFIG)
    from transforms.report import build_report

    with out.status("Writing the journey-map report"):
        html = build_report(path, out_dir)
    out.print(f"Report: [bold]{html.resolve()}[/]")


def _summary(path: Path) -> None:
    """A short summary of the published warehouse."""
    import duckdb

    from transforms.warehouse import run_sql, sql_file

    con = duckdb.connect(str(path), read_only=True)
    try:
        t = Table(title="Published tables", show_header=True, header_style="bold")
        t.add_column("table")
        t.add_column("rows", justify="right")
        for schema, table in run_sql(con, "ops/cli/published_tables").fetchall():
            if table.startswith("_"):
                continue
            n = run_sql(con, "ops/catalog/count_rows", {"relation": f"{schema}.{table}"}).fetchall()[0][0]
            t.add_row(f"{schema}.{table}", f"{n:,}")
        out.print(t)
        reasons = run_sql(con, "ops/cli/rejection_reasons").fetchall()
        if reasons:
            out.print("[bold]Rejected records[/] (quarantine.rejected):")
            for reason, n in reasons:
                out.print(f"  {n:>6,}  {reason}")
    finally:
        con.close()
    from pipelines.defs.ops.resources import DEFAULT_WAREHOUSE

    query = sql_file("ops/cli/first_query").strip()  # the example a person is shown
    where = "" if path.resolve() == DEFAULT_WAREHOUSE.resolve() else f" --warehouse {_shell_quote(str(path))}"
    out.print(f"\nWarehouse: [bold]{path}[/]", soft_wrap=True)
    out.print(f"Query it:  {_me()} sql{where} {_shell_quote(query)}", soft_wrap=True, highlight=False, markup=False)


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()
