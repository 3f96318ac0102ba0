"""Runs one Dagster job in this process and writes per-step timings as JSON (bench helper).

Usage: python -m bench.child --landing DIR --warehouse FILE --out timings.json [--start D --end D] [--only-changed]
       [--memory-limit 2GB] [--engine spark --spark-master local[2]]

With `--engine spark` the run's settings say `engine: spark`; Spark is started before the job
(its start-up timed apart, `spark_startup_seconds`) with its event log in `<out folder>/spark-events`
(the plans and task metrics bench/spark_plans.py reads), and each step's start and end are
written (`step_windows`) so Spark's events can be told to a step.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import sys
import threading
import time
import warnings
from datetime import date
from pathlib import Path


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser()
    ap.add_argument("--landing", required=True)
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--start")
    ap.add_argument("--end")
    ap.add_argument("--only-changed", action="store_true")
    ap.add_argument("--memory-limit")
    ap.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    ap.add_argument("--spark-master", default="local[2]")
    args = ap.parse_args()

    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.defs.ops.jobs import range_tags, raw_op_config
    from pipelines.defs.ops.resources import JourneysResource
    from transforms.config import DEFAULTS_DIR, load_config
    from transforms.ingest import landed_days

    config_dir = None
    if args.memory_limit or args.engine != "duckdb":
        # the resource reads its own settings from a config folder: the limit and the engine go
        # there, so every connection of the run gets them (not just this process's copy of the config)
        config_dir = Path(args.out).parent / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        text = (DEFAULTS_DIR / "settings.yaml").read_text()
        if args.memory_limit:
            text = re.sub(r"(?m)^duckdb_memory_limit:.*$", f"duckdb_memory_limit: {args.memory_limit}", text)
        if args.engine != "duckdb":
            text += f"\nengine: {args.engine}\nspark_master: {args.spark_master}\n"
        (config_dir / "settings.yaml").write_text(text)
    config = load_config(config_dir)
    spark_startup, spark = start_spark(Path(args.warehouse).parent, Path(args.out).parent, args.spark_master,
                                       config.settings.spark_conf) \
        if args.engine == "spark" else (None, None)
    res = JourneysResource(landing_dir=args.landing, warehouse=args.warehouse, hash_secret="bench",
                           config_dir=str(config_dir) if config_dir else None)
    defs = build_definitions(config, res)
    landing = Path(args.landing)
    days = sorted({d for n, s in config.sources.items() for d in landed_days(landing, n, s)})
    start = date.fromisoformat(args.start) if args.start else days[0]
    end = date.fromisoformat(args.end) if args.end else days[-1]
    instance = dg.DagsterInstance.ephemeral()
    sampler = RssSampler(Path(args.warehouse).parent)
    sampler.start()
    t0 = time.time()
    result = defs.resolve_job_def("refresh").execute_in_process(
        run_config={**raw_op_config(config, only_changed=args.only_changed),
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        instance=instance,
        tags=range_tags(start, end),
        raise_on_error=False,
    )
    wall = time.time() - t0
    sampler.stop()
    timings = {
        e.step_key: round(e.event_specific_data.duration_ms / 1000, 3)
        for e in result.all_events
        if e.step_key and e.event_type_value == "STEP_SUCCESS"
    }
    started: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}
    step_rss: dict[str, float] = {}
    for entry in instance.all_logs(result.run_id):
        ev = entry.dagster_event
        if ev is None or not ev.step_key:
            continue
        if ev.event_type_value == "STEP_START":
            started[ev.step_key] = entry.timestamp
        elif ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and ev.step_key in started:
            windows[ev.step_key] = (started[ev.step_key], entry.timestamp)
            if ev.event_type_value == "STEP_SUCCESS":
                step_rss[ev.step_key] = sampler.peak_mb(started[ev.step_key], entry.timestamp)
    # each model's own seconds (its materialization's metadata), without the step's overhead
    model_seconds = {}
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            mat = e.event_specific_data.materialization
            if "seconds" in mat.metadata:
                model_seconds["__".join(mat.asset_key.path)] = mat.metadata["seconds"].value
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    publish = {}  # what publish did (its materialization's metadata): which tables it rewrote whole
    for mat in result.asset_materializations_for_node("warehouse__published"):
        publish = {k: v.value for k, v in mat.metadata.items()
                   if k in ("summary", "mode", "reason", "seconds", "changed_tables", "rows_replaced_by_customer",
                            "rows_replaced_by_day", "phase_seconds", "compacted")}
    Path(args.out).write_text(json.dumps({
        "success": result.success,
        "failed_steps": failed,
        "wall_seconds": round(wall, 3),
        "steps": timings,
        "model_seconds": model_seconds,
        "step_peak_rss_mb": step_rss,
        "step_windows": windows,
        "engine": args.engine,
        "spark_master": args.spark_master if args.engine == "spark" else None,
        "spark_startup_seconds": spark_startup,
        "publish": publish,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_disk_mb": sampler.peak_disk_mb,
        "peak_spill_mb": sampler.peak_spill_mb,
        "files_mb": {p.name: round(p.stat().st_size / 1e6, 1)
                     for p in Path(args.warehouse).parent.glob("*.duckdb")},
    }, indent=2))
    if spark is not None:
        spark.stop()  # the event log is complete once the session stops
    if not result.success:
        sys.exit(1)  # Dagster has printed the step's error above; the timings so far are kept


def start_spark(warehouse_dir: Path, out_dir: Path, master: str, conf: dict[str, str]) -> tuple[float, object]:
    """Start the local Spark session the run will use (the engine's own `spark_session`, on the
    folder the engine uses: `<warehouse folder>/spark`), with Spark's event log kept in
    `out_dir/spark-events`; returns the seconds it took, and the session. The run's engine then
    finds the session started."""
    from transforms.engines.spark import spark_session

    events = out_dir / "spark-events"
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir(parents=True)
    # the builder's settings are the engine's own; the event log comes through spark-submit's arguments
    os.environ["PYSPARK_SUBMIT_ARGS"] = (f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={events.as_uri()} "
                                         "--conf spark.eventLog.compress=false pyspark-shell")
    t0 = time.monotonic()
    session = spark_session(warehouse_dir / "spark", master, conf)
    session.range(1).count()  # a first job: the executor is up
    return round(time.monotonic() - t0, 3), session


class RssSampler(threading.Thread):
    """Reads this process's resident memory (/proc/self/status) four times a second, so each
    step's peak can be told apart from the run's; once a second, the disk the warehouse folder
    takes (working file, analyst file, DuckDB's spill folder, publish's temp file), and the
    spill folder's part of it."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.folder = folder
        self.peak_disk_mb = self.peak_spill_mb = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        n = 0
        while not self._done.wait(0.25):
            self.samples.append((time.time(), _rss_mb()))
            if n % 4 == 0:
                self.sample_disk()
            n += 1

    def sample_disk(self) -> None:
        total = spill = 0
        for p in self.folder.rglob("*"):
            try:
                used = p.stat().st_blocks * 512  # what the file takes on disk, not its apparent size
            except OSError:
                continue  # removed while walking
            total += used
            if ".tmp" in p.parent.name:
                spill += used
        self.peak_disk_mb = max(self.peak_disk_mb, round(total / 1e6, 1))
        self.peak_spill_mb = max(self.peak_spill_mb, round(spill / 1e6, 1))

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample_disk()

    def peak_mb(self, start: float, end: float) -> float:
        inside = [mb for t, mb in self.samples if start <= t <= end + 0.25]
        return round(max(inside), 1) if inside else 0.0


def _rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    main()
