"""`make bench SCALE=N`: generate N events (cached), run the whole pipeline through Dagster,
and report per-stage wall time, events per second and peak RSS, beside the scan floor and a
hand-written reference query measured on the same data in the same run.

Results: a table on the terminal and bench/results/<scale>[-gz][-mem<limit>].json. `--gzip`
(on by default from 50M events) lands the files gzip-compressed; `--no-nightly` skips the
nightly run; `--nights N` (`make bench NIGHTS=N`) runs N nightly runs in a row, one day each,
after a full run over the days before them: the steady state, where the first night after a full
build is the kindest (DuckDB's deferred vacuum, issue 16). With the nightly run: each stage's
nightly seconds (the first night's) beside its full seconds, each night's seconds, a
`journeys run` with nothing new (seconds beyond the command's start-up), and the nightly
warehouse compared with a full rebuild over the same landing zone (bench.golden; issue 16:
"incremental equals full").

`--engine spark` (`make bench ENGINE=spark`) runs the same pipeline with `engine: spark` on a
local master (`--spark-master`, default local[2]) in its own warehouse (wh-<scale>-spark): the
seconds per stage, Spark's start-up apart, beside the DuckDB run over the same landing days
when `make bench SCALE=N` (with its nightly run, whose full rebuild reads every landing day) has
left one; the published tables compared with that DuckDB warehouse (bench.golden); and per step,
from Spark's event log, the exchanges of its plans and the bytes it shuffled (bench.spark_plans).
A Spark run reads every landing day (the Spark ingest has no date range yet), so it has no
nightly run.

Every run records the machine's load average during it (sampled every 5 s): the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.reference import REFERENCE, SCAN_FLOOR, landing_read_files, time_landing_read, time_query

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
DAYS = 100  # the nightly run adds the last day: 1% of the history
START = date(2025, 1, 1)
GZIP_FROM = 50_000_000  # uncompressed, the landing zone needs ~6.2 GB per 10M events
console = Console()


def events_per_customer() -> float:
    """Measured mean of the generator (small sample, cached)."""
    f = CACHE / "events_per_customer.json"
    if f.exists():
        return json.loads(f.read_text())["mean"]
    from transforms.generate import generate

    tmp = CACHE / "sample"
    shutil.rmtree(tmp, ignore_errors=True)
    s = generate(tmp, customers=2000, days=DAYS, seed=1, start=START)
    mean = _total_events(s) / 2000
    shutil.rmtree(tmp)
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(json.dumps({"mean": mean}))
    return mean


def _total_events(summary) -> int:
    return int(summary.events)


def landing_for(scale: int, workers: int, gzip: bool = False) -> tuple[Path, int]:
    landing = CACHE / (f"landing-{scale}" + ("-gz" if gzip else ""))
    marker = landing / ".complete.json"
    if marker.exists():
        return landing, json.loads(marker.read_text())["events"]
    from transforms.generate import generate

    shutil.rmtree(landing, ignore_errors=True)
    customers = max(1, round(scale / events_per_customer()))
    packed = ", gzip-compressed" if gzip else ""
    console.print(f"Generating ~{scale:,} events ({customers:,} customers, {DAYS} days{packed}) into {landing} …")
    t0 = time.monotonic()
    s = generate(landing, customers=customers, days=DAYS, seed=11, start=START, workers=workers, compress=gzip)
    n = _total_events(s)
    size = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    marker.write_text(json.dumps({"events": n, "customers": customers, "seconds": round(time.monotonic() - t0, 1),
                                  "gzip": gzip, "bytes": size}))
    console.print(f"Landed {n:,} events, {size / 1e6:,.1f} MB on disk.")
    return landing, n


class LoadSampler(threading.Thread):
    """The machine's 1-minute load average every 5 s while a run goes (the machine is shared)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = [os.getloadavg()[0]]
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(5):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict[str, float]:
        self._done.set()
        self.join()
        self.samples.append(os.getloadavg()[0])
        return load_summary(self.samples)


def load_summary(samples: list[float]) -> dict[str, float]:
    return {"mean": round(sum(samples) / len(samples), 2), "max": round(max(samples), 2), "samples": len(samples)}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_child(landing: Path, warehouse: Path, out: Path, *, end: date | None = None, start: date | None = None,
              only_changed: bool = False, memory_limit: str | None = None, engine: str = "duckdb",
              spark_master: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "bench.child", "--landing", str(landing), "--warehouse", str(warehouse), "--out", str(out)]
    if engine != "duckdb":
        cmd += ["--engine", engine] + (["--spark-master", spark_master] if spark_master else [])
    if start:
        cmd += ["--start", start.isoformat()]
    if end:
        cmd += ["--end", end.isoformat()]
    if only_changed:
        cmd.append("--only-changed")
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu_before = _children_cpu()
    load = LoadSampler()
    load.start()
    t0 = time.monotonic()
    done = subprocess.run(cmd, check=False, cwd=HERE.parent)
    wall = time.monotonic() - t0
    data = json.loads(out.read_text()) if out.exists() else {}
    data["load_average"] = load.stop()
    # CPU of the run's processes that ended and were waited for (with Spark: its JVM and Python workers, if reaped)
    data["cpu_seconds"] = round(_children_cpu() - cpu_before, 2)
    if done.returncode != 0:
        failed = ", ".join(data.get("failed_steps", [])) or "before its first step"
        kept = f" The steps that finished, with their times, are in {out}." if data else ""
        console.print(f"[red]The pipeline run failed at {failed} after {wall:.0f} s.[/red]{kept}")
        sys.exit(1)
    data["process_seconds"] = round(wall, 2)
    data["peak_rss_mb_children"] = round(max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024, 1)
    out.write_text(json.dumps(data, indent=2))  # with what only this process saw: wall, load, CPU
    return data


def _check_steps() -> frozenset[str]:
    """The Dagster step keys of the asset checks: '<schema>__<table>_<check name>'."""
    from transforms.checks import all_checks

    return frozenset(f"{c.relation.replace('.', '__')}_{c.name}" for c in all_checks())


CHECK_STEPS = _check_steps()
STAGES = {
    "checks": lambda k: k in CHECK_STEPS,
    "ingest (landing → staging.events, quarantine)": lambda k: k.startswith("raw__"),
    "staging (dedupe, quarantine)": lambda k: k == "staging",
    "identity + classification": lambda k: k in ("identity_components", "sentiment_lexicon") or k.startswith((
        "identity__", "intermediate__identity", "intermediate__text_sentiment", "intermediate__classified_events",
        "intermediate__customer_profiles", "intermediate__identifier_sets")),
    "journeys, paths, transitions": lambda k: k.startswith(("marts__journey", "marts__journeys", "marts__touchpoint_transitions", "marts__customers",
                                                            "intermediate__journey_timeline", "intermediate__journey_steps")),
    "funnels": lambda k: k == "funnel_programme" or k.startswith("marts__funnel"),
    "attribution, health, pain points": lambda k: k == "attribution_model_credits" or k.startswith((
        "marts__attribution", "intermediate__attribution", "marts__touchpoint_health", "marts__pain_points")),
    "publish": lambda k: k.startswith("warehouse__"),
}


def time_nothing_new(landing: Path, wh: Path) -> tuple[float, float, str]:
    """`journeys run` right after the nightly run (nothing new), and `journeys --help` (the
    command's start-up): both wall seconds, and the run's first line of outcome."""
    me = str(Path(sys.executable).parent / "journeys")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "DAGSTER_HOME"))}
    env |= {"JOURNEYS_HASH_SECRET": "bench", "COLUMNS": "200"}
    t0 = time.monotonic()
    subprocess.run([me, "--help"], env=env, capture_output=True, check=False)
    startup = time.monotonic() - t0
    t0 = time.monotonic()
    done = subprocess.run([me, "run", "--landing", str(landing), "--warehouse", str(wh)], env=env,
                          capture_output=True, text=True, check=False, cwd=HERE.parent)
    seconds = time.monotonic() - t0
    said = next((line for line in done.stdout.splitlines() if line.startswith(("Nothing new", "Done"))), done.stderr.strip()[:200])
    return seconds, startup, said


def compare_with_full(landing: Path, nightly_wh: Path, work: Path, memory_limit: str | None) -> tuple[dict, list[str]]:
    """A full rebuild over the landing zone the nightly warehouse was built from, compared with
    it table by table (bench.golden): returns the rebuild's timings and the tables that differ."""
    from bench.golden import compare

    fresh = work / "rebuild" / "journeys.duckdb"
    fresh.parent.mkdir(parents=True, exist_ok=True)
    rebuild = run_child(landing, fresh, work / "rebuild.json", memory_limit=memory_limit)
    differ = [f"{d.relation}: {d.verdict}" for d in compare(fresh, nightly_wh) if d.verdict != "identical"]
    return rebuild, differ


def stage_of(key: str) -> str:
    return next((name for name, match in STAGES.items() if match(key)), "other")


def stage_times(steps: dict[str, float]) -> dict[str, float]:
    out = {name: 0.0 for name in [*STAGES, "other"]}
    for key, sec in steps.items():
        out[stage_of(key)] += sec
    return {k: round(v, 3) for k, v in out.items() if v > 0}


def stage_peaks(step_rss: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, mb in step_rss.items():
        stage = stage_of(key)
        out[stage] = max(out.get(stage, 0.0), mb)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=int, default=1_000_000, help="Number of events to generate.")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit, e.g. 10GB.")
    ap.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=None,
                    help=f"Land the files gzip-compressed (landing-<scale>-gz); on by default from {GZIP_FROM:,} events.")
    ap.add_argument("--no-nightly", dest="nightly", action="store_false", help="Skip the nightly run.")
    ap.add_argument("--nights", type=int, default=1,
                    help="Nightly runs in a row, one landing day each, after a full run over the days before.")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                    help="Run the models on DuckDB (default) or on a local Spark (engine: spark).")
    ap.add_argument("--spark-master", default="local[2]", help="The local master of --engine spark.")
    ap.add_argument("--report-only", action="store_true",
                    help="With --engine spark: report on the Spark run already in wh-<scale>-spark, run nothing.")
    args = ap.parse_args()
    if args.nights < 1:
        ap.error("--nights must be 1 or more (--no-nightly skips the nightly run)")
    if args.gzip is None:
        args.gzip = args.scale >= GZIP_FROM
        if args.gzip:
            console.print(f"Landing files gzip-compressed (the default from {GZIP_FROM:,} events): uncompressed, "
                          f"the landing zone would need ~6.2 GB per 10M events, ~{args.scale / 1e7 * 6.2:,.0f} GB here. "
                          "--no-gzip writes them plain.")

    # The commit is read before anything runs: code committed during a long run is not in it.
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent).stdout.strip()
    landing, n_events = landing_for(args.scale, args.workers, gzip=args.gzip)
    if args.engine == "spark":
        run_spark(args, landing, n_events, commit)
        return
    # A run over gzipped landing files or with its own memory limit keeps its own warehouse
    # and results beside the default's.
    tag = f"{args.scale}" + ("-gz" if args.gzip else "") + (f"-mem{args.memory_limit}" if args.memory_limit else "")
    work = CACHE / f"wh-{tag}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    wh = work / "journeys.duckdb"
    # Landing folders may run a few days past the period (late events): the nightly runs add the
    # last days, one each.
    from transforms.config import load_config
    from transforms.ingest import landed_days

    cfg = load_config()
    all_days = sorted({d for n, s in cfg.sources.items() for d in landed_days(landing, n, s)})
    n_nights = args.nights if args.nightly else 0
    if n_nights >= len(all_days):
        console.print(f"[red]--nights {n_nights}: the landing zone has {len(all_days)} days; leave at least one for the full run.[/red]")
        sys.exit(2)
    history_end = all_days[-(n_nights + 1)] if n_nights else all_days[-2]
    console.print(f"Full run over {all_days[0]} … {history_end} ({n_events:,} events landed in all) …")
    full = run_child(landing, wh, work / "full.json", end=history_end, memory_limit=args.memory_limit)
    nightly = None
    nights: list[dict] = []
    nothing_new = startup = None
    said, differ = "", []
    if args.nightly:
        for i, day in enumerate(all_days[-n_nights:], start=1):
            console.print(f"Nightly run adding {day}" + (f" (night {i} of {n_nights})" if n_nights > 1 else "") + " …")
            night = run_child(landing, wh, work / ("nightly.json" if i == 1 else f"nightly-{i}.json"),
                              start=day, end=day, only_changed=True, memory_limit=args.memory_limit)
            if night.get("publish"):
                console.print(f"Nightly publish: {night['publish'].get('summary', '')}")
            nightly = nightly or night  # the first night: its stages, as with one night
            nights.append({"day": day.isoformat(), "seconds": night["process_seconds"],
                           "share_of_full": round(night["process_seconds"] / full["process_seconds"], 3),
                           "publish": (night.get("publish") or {}).get("summary", ""),
                           # DuckDB's vacuum, deferred until a table has many deleted rows
                           "compacted": {where: sorted(tables) for where, tables
                                         in ((night.get("publish") or {}).get("compacted") or {}).items() if tables}})
        if n_nights > 1:
            console.print("Nights: " + ", ".join(f"{n['seconds']:.1f}s" + (" (compacted)" if n["compacted"] else "")
                                                 for n in nights)
                          + f" ({sum(n['seconds'] for n in nights):.1f}s in all)")
        nothing_new, startup, said = time_nothing_new(landing, wh)
        console.print(f"`journeys run` with nothing new: {nothing_new:.2f}s ({startup:.2f}s of them the command's start-up): {said}")
        console.print("Full rebuild over the same landing zone, to compare with the nightly result …")
        _, differ = compare_with_full(landing, wh, work, args.memory_limit)
        console.print("Nightly result equals a full rebuild: every published table identical." if not differ
                      else "[red]Nightly result differs from a full rebuild:[/red] " + "; ".join(differ))

    # DuckDB alone reading the files the full run loaded, into typed columns, no checks
    landing_read, landing_read_records = time_landing_read(landing_read_files(landing, history_end), args.memory_limit)
    scan = time_query(wh, SCAN_FLOOR)
    ref = time_query(wh, REFERENCE)
    stages = stage_times(full["steps"])
    nightly_stages = stage_times(nightly["steps"]) if nightly else {}
    peaks = stage_peaks(full.get("step_peak_rss_mb", {}))
    derivation = sum(v for k, v in stages.items() if not k.startswith(("ingest", "staging", "publish", "checks")))
    ingest = stages.get("ingest (landing → staging.events, quarantine)", 0) + stages.get("staging (dedupe, quarantine)", 0)

    t = Table(title=f"Journeys benchmark: {n_events:,} events", header_style="bold")
    t.add_column("stage")
    t.add_column("seconds", justify="right")
    t.add_column("events/s", justify="right")
    t.add_column("peak RSS MB", justify="right")
    t.add_column("nightly seconds", justify="right")
    for k, v in stages.items():
        t.add_row(k, f"{v:,.2f}", f"{n_events / v:,.0f}" if v > 0 else "", f"{peaks[k]:,.0f}" if k in peaks else "",
                  f"{nightly_stages.get(k, 0):,.2f}" if nightly else "")
    t.add_row("[bold]full run (wall)[/]", f"{full['process_seconds']:,.2f}", f"{n_events / full['process_seconds']:,.0f}")
    t.add_row("nightly run adding one day (wall)", f"{nightly['process_seconds']:,.2f}" if nightly else "not measured", "")
    if len(nights) > 1:
        t.add_row(f"{len(nights)} nights in a row (wall: in all; each)", f"{sum(n['seconds'] for n in nights):,.2f}",
                  "", "", ", ".join(f"{n['seconds']:.1f}" for n in nights))
    t.add_row("`journeys run` with nothing new (wall)", f"{nothing_new:,.2f}" if nothing_new is not None else "not measured", "")
    t.add_row("DuckDB alone: landing files → typed columns", f"{landing_read:,.2f}",
              f"{landing_read_records / landing_read:,.0f}" if landing_read > 0 else "")
    t.add_row("scan floor (columns the marts need)", f"{scan:,.2f}", "")
    t.add_row("reference query (paths + phase funnel)", f"{ref:,.2f}", "")
    console.print(t)
    summary = {
        "scale": args.scale,
        "events": n_events,
        "commit": commit,
        "stages_seconds": stages,
        "stages_peak_rss_mb": peaks,
        "full_run_seconds": full["process_seconds"],
        "nightly_run_seconds": nightly["process_seconds"] if nightly else None,
        "nightly_share_of_full": round(nightly["process_seconds"] / full["process_seconds"], 3) if nightly else None,
        "nightly_stages_seconds": nightly_stages,
        "nights": nights,
        "nightly_publish": nightly.get("publish") if nightly else None,
        "nothing_new_seconds": round(nothing_new, 2) if nothing_new is not None else None,
        "nothing_new_beyond_startup_seconds": round(nothing_new - startup, 2) if nothing_new is not None and startup is not None else None,
        "nothing_new_said": said,
        "nightly_equals_full": (not differ) if nightly else None,
        "nightly_differs_from_full": differ,
        "ingest_events_per_second": round(n_events / ingest) if ingest else None,
        "ingest_seconds": round(ingest, 3),
        "duckdb_read_seconds": round(landing_read, 3),
        "duckdb_read_records": landing_read_records,
        "ingest_vs_duckdb_read": round(ingest / landing_read, 2) if landing_read else None,
        "derivation_seconds": round(derivation, 3),
        "scan_floor_seconds": round(scan, 3),
        "reference_seconds": round(ref, 3),
        "derivation_vs_reference": round(derivation / ref, 2) if ref else None,
        "derivation_vs_scan_floor": round(derivation / scan, 2) if scan else None,
        "peak_rss_mb": max(full["peak_rss_mb"], nightly["peak_rss_mb"] if nightly else 0),
        # the warehouse folder at its largest: working file + analyst file + DuckDB's spill + publish's temp file
        "peak_disk_mb": max(full.get("peak_disk_mb", 0), nightly.get("peak_disk_mb", 0) if nightly else 0),
        "peak_spill_mb": max(full.get("peak_spill_mb", 0), nightly.get("peak_spill_mb", 0) if nightly else 0),
        "files_mb": full.get("files_mb", {}),
        "memory_limit": args.memory_limit,
        "load_average": {"full": full["load_average"], **({"nightly": nightly["load_average"]} if nightly else {})},
        "landing_gzip": args.gzip,
        "cpu_count": os.cpu_count(),
    }
    console.print(
        f"Derivation (staging.events → marts): {derivation:.2f}s = {summary['derivation_vs_reference']}× the reference query, "
        f"{summary['derivation_vs_scan_floor']}× the scan floor. Ingestion: {summary['ingest_events_per_second']:,} events/s, "
        f"{summary['ingest_vs_duckdb_read']}× DuckDB alone reading the landing files ({landing_read:.2f}s). "
        + (f"Nightly: {summary['nightly_share_of_full']:.1%} of a full run. " if nightly else "Nightly: not measured. ")
        + (f"{len(nights)} nights: {min(n['share_of_full'] for n in nights):.1%}–{max(n['share_of_full'] for n in nights):.1%} "
           f"each, {sum(n['seconds'] for n in nights) / len(nights) / full['process_seconds']:.1%} on average. "
           if len(nights) > 1 else "")
        + f"Peak RSS: {summary['peak_rss_mb']:,.0f} MB. Warehouse folder at its largest: "
        f"{summary['peak_disk_mb'] / 1e3:,.1f} GB (spill {summary['peak_spill_mb'] / 1e3:,.1f} GB at most; after the full run "
        + ", ".join(f"{k} {v / 1e3:,.1f} GB" for k, v in summary["files_mb"].items()) + ")."
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2))
    console.print(f"Wrote {RESULTS / f'{tag}.json'}")
    if differ:
        sys.exit(1)


DUCKDB_INGEST = ("ingest (landing → staging.events, quarantine)", "staging (dedupe, quarantine)")
INGEST_STAGE = "ingest + staging"


def merged_ingest(stages: dict[str, float]) -> dict[str, float]:
    """Stage seconds with ingest and staging as one stage: on Spark the staging step reads the
    landing zone itself (the raw steps read nothing), so only their sum compares."""
    out = {INGEST_STAGE: round(sum(stages.get(k, 0.0) for k in DUCKDB_INGEST), 3)}
    out |= {k: v for k, v in stages.items() if k not in DUCKDB_INGEST}
    return out


def duckdb_counterpart(scale: int, gzip: bool) -> tuple[Path, Path] | None:
    """The DuckDB run over every landing day at this scale, as a Spark run reads them: the full
    rebuild `make bench SCALE=N` makes to check its nightly run (its timings, its warehouse)."""
    work = CACHE / (f"wh-{scale}" + ("-gz" if gzip else ""))
    timings, wh = work / "rebuild.json", work / "rebuild" / "journeys.duckdb"
    return (timings, wh) if timings.exists() and wh.exists() else None


def run_spark(args: argparse.Namespace, landing: Path, n_events: int, commit: str) -> None:
    """`make bench ENGINE=spark`: the pipeline on a local Spark, beside DuckDB's run over the same days."""
    from bench.golden import compare
    from bench.spark_plans import as_rows, summarize

    tag = f"{args.scale}" + ("-gz" if args.gzip else "") + "-spark"
    work = CACHE / f"wh-{tag}"
    wh = work / "journeys.duckdb"
    if args.report_only:
        if not (work / "full.json").exists() or not wh.exists():
            console.print(f"[red]No finished Spark run in {work} to report on.[/red]")
            sys.exit(2)
        full = json.loads((work / "full.json").read_text())
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        console.print(f"Spark ({args.spark_master}) run over every landing day ({n_events:,} events) …")
        full = run_child(landing, wh, work / "full.json", memory_limit=args.memory_limit, engine="spark",
                         spark_master=args.spark_master)
    if "process_seconds" not in full:  # a run of an older bench: its child's own wall time
        full |= {"process_seconds": full["wall_seconds"], "load_average": None, "cpu_seconds": None}
    stages = merged_ingest(stage_times(full["steps"]))
    plans = as_rows(summarize(work), full["steps"])
    job_seconds: dict[str, float] = {}
    shuffled: dict[str, int] = {}
    for row in plans:
        stage = INGEST_STAGE if stage_of(row["step"]) in DUCKDB_INGEST else stage_of(row["step"])
        job_seconds[stage] = job_seconds.get(stage, 0.0) + row["job_seconds"]
        shuffled[stage] = shuffled.get(stage, 0) + row["shuffle_bytes"]

    other = duckdb_counterpart(args.scale, args.gzip)
    duck: dict[str, float] = {}
    duck_wall = duck_load = None
    differ: list[str] | None = None
    if other is None:
        console.print(f"No DuckDB run over every landing day at {args.scale:,} events to compare with: "
                      f"`make bench SCALE={args.scale}` (with its nightly run) leaves one.")
    else:
        data = json.loads(other[0].read_text())
        duck = merged_ingest(stage_times(data["steps"]))
        # an older bench wrote the child's own wall time only
        duck_wall, duck_load = data.get("process_seconds", data.get("wall_seconds")), data.get("load_average")
        console.print(f"Comparing the published tables with DuckDB's ({other[1]}) …")
        diffs = compare(other[1], wh)
        differ = [f"{d.relation}: {d.verdict}" for d in diffs if d.verdict != "identical"]
        console.print(f"{len(diffs) - len(differ)} of {len(diffs)} published tables identical to DuckDB's"
                      + ("." if not differ else ": [red]" + "; ".join(differ) + "[/red]"))

    load = full["load_average"]
    said = f"load average {load['mean']:.1f}, max {load['max']:.1f}" if load else "load not recorded"
    t = Table(title=f"Journeys on Spark {args.spark_master}: {n_events:,} events ({said}, on {os.cpu_count()} cores)",
              header_style="bold")
    for col in ("stage", "Spark s", "of it Spark jobs s", "shuffle MB", "DuckDB s", "Spark / DuckDB"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for k, v in stages.items():
        d = duck.get(k)
        t.add_row(k, f"{v:,.2f}", f"{job_seconds.get(k, 0):,.2f}", f"{shuffled.get(k, 0) / 1e6:,.1f}",
                  f"{d:,.2f}" if d else "", f"{v / d:,.1f}×" if d else "")
    spark_wall = full["process_seconds"]
    t.add_row("[bold]run (wall, with start-up)[/]", f"{spark_wall:,.2f}", "", "", f"{duck_wall:,.2f}" if duck_wall else "",
              f"{spark_wall / duck_wall:,.1f}×" if duck_wall else "")
    t.add_row("of it Spark's start-up", f"{full['spark_startup_seconds']:,.2f}", "", "", "", "")
    console.print(t)
    summary = {
        "scale": args.scale,
        "events": n_events,
        "commit": commit,
        "engine": "spark",
        "spark_master": args.spark_master,
        "spark_startup_seconds": full["spark_startup_seconds"],
        "stages_seconds": stages,
        "stages_spark_job_seconds": {k: round(v, 2) for k, v in job_seconds.items()},
        "stages_shuffle_bytes": shuffled,
        "full_run_seconds": spark_wall,
        "full_run_cpu_seconds": full["cpu_seconds"],
        "load_average": load,
        "duckdb_stages_seconds": duck or None,
        "duckdb_full_run_seconds": duck_wall,
        "duckdb_full_run_cpu_seconds": data.get("cpu_seconds") if other else None,
        "duckdb_load_average": duck_load,
        "spark_vs_duckdb": round(spark_wall / duck_wall, 2) if duck_wall else None,
        "published_equal_to_duckdb": (not differ) if differ is not None else None,
        "published_differ_from_duckdb": differ,
        "steps": plans,
        "peak_rss_mb": full["peak_rss_mb"],
        "cpu_count": os.cpu_count(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{tag}.json").write_text(json.dumps(summary, indent=2))
    console.print(f"Wrote {RESULTS / f'{tag}.json'}; the exchanges per step: python -m bench.spark_plans {work}")
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
