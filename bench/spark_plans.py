"""Which steps of a Spark run shuffle, by what key, and how many bytes: read off Spark's own
event log of the run (the physical plans Spark executed, after adaptive execution, and the
task metrics), not written by hand.

    python -m bench.spark_plans bench/.cache/wh-1000000-spark

reads the event log `make bench ENGINE=spark` keeps in `<work>/spark-events/` and the step
timings in `<work>/full.json`, and prints one row per Dagster step: each exchange of its plans
(kind and keys: `hash(customer_id)`, `range(...)`, `broadcast`, `single`), how many of its
queries had that exchange, the shuffle bytes written, the tasks' CPU seconds and the seconds
Spark jobs ran within the step (the rest of the step is the driver's: planning, the copy of
each table into DuckDB, the DuckDB steps).

How an event becomes a step's: a query's start, and a job's submission, fall inside exactly
one step's start and end (bench/child.py records them; Dagster runs the steps one at a time).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ID = re.compile(r"#\d+L?")
_PLAN_ID = re.compile(r",?\s*\[plan_id=\d+\]")
_WRAPPERS = ("BroadcastQueryStage", "ShuffleQueryStage", "TableCacheQueryStage", "AQEShuffleRead", "InputAdapter",
             "WholeStageCodegen")


@dataclass(frozen=True)
class Exchange:
    kind: str  # hash | range | broadcast | single | round robin | other
    keys: str  # the partitioning expressions, attribute ids removed; for a broadcast, the join keys

    def __str__(self) -> str:
        return f"{self.kind}({self.keys})" if self.keys else self.kind


@dataclass
class StepPlans:
    step: str
    queries: int = 0
    exchanges: Counter = field(default_factory=Counter)  # Exchange -> queries that had it
    shuffle_bytes: int = 0
    shuffle_records: int = 0
    input_bytes: int = 0
    output_bytes: int = 0
    cpu_seconds: float = 0.0  # executor (JVM) CPU of the step's tasks; a Python task's own CPU is not in it
    run_seconds: float = 0.0  # the tasks' wall seconds (summed over tasks running side by side)
    gc_seconds: float = 0.0  # of which in the JVM's garbage collection
    jobs: list[tuple[float, float]] = field(default_factory=list)  # each job's submission and completion, s
    tasks: int = 0

    @property
    def job_seconds(self) -> float:
        """Wall seconds some Spark job of the step was running (jobs side by side counted once)."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.jobs):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


def _inside(text: str, opening: str) -> str | None:
    """The text between `opening` (which ends with '(') and its matching ')'."""
    i = text.find(opening)
    if i < 0:
        return None
    depth, start = 1, i + len(opening)
    for j in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[j], 0)
        if depth == 0:
            return text[start:j]
    return text[start:]


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


_NULL_SAFE = re.compile(r"coalesce\(([^(),]+), [^()]*\), isnull\(\1\)")


def clean(expr: str) -> str:
    """An expression of a plan without Spark's attribute ids (`customer_id#123` -> `customer_id`);
    a null-safe key (Spark's `coalesce(k, ''), isnull(k)` pair for `k is not distinct from k'`) as `k`."""
    return _NULL_SAFE.sub(r"\1", _ID.sub("", expr)).strip()


def _join_keys(join: str) -> str:
    """The left keys of a join node's line: `BroadcastHashJoin [a#1, b#2], [c#3, d#4], Inner, ...` -> `a, b`."""
    m = re.search(r"\[([^\]]*)\]", join)
    return clean(", ".join(_split_top(m.group(1)))) if m else ""


def exchange_of(node: str, parent: str = "") -> Exchange | None:
    """The exchange a plan node's one-line description (`simpleString`) stands for, or None.
    `parent` is the line of the node above it (a broadcast's keys are its join's)."""
    line = _PLAN_ID.sub("", node).strip()
    if line.startswith("BroadcastExchange"):
        return Exchange("broadcast", _join_keys(parent) if "Join" in parent else "")
    if not line.startswith(("Exchange", "ShuffleExchange")):
        return None
    for opening, kind in (("hashpartitioning(", "hash"), ("rangepartitioning(", "range")):
        inner = _inside(line, opening)
        if inner is not None:
            keys = _split_top(inner)
            if keys and keys[-1].isdigit():
                keys = keys[:-1]
            return Exchange(kind, clean(", ".join(keys)))
    if "SinglePartition" in line:
        return Exchange("single", "")
    if "RoundRobinPartitioning" in line:
        return Exchange("round robin", "")
    return Exchange("other", clean(line.removeprefix("Exchange").strip()))


def exchanges_in(plan: dict[str, Any]) -> list[Exchange]:
    """Every exchange in a plan tree as the event log writes it (`sparkPlanInfo`: nodeName,
    simpleString, children), in tree order."""
    found: list[Exchange] = []

    def walk(node: dict[str, Any], parent: str) -> None:
        line = node.get("simpleString", "") or node.get("nodeName", "")
        ex = exchange_of(line, parent)
        if ex is not None:
            found.append(ex)
        # adaptive execution wraps an exchange in a query stage: its join is the node above that
        above = parent if line.startswith(_WRAPPERS) else line
        for child in node.get("children", []):
            walk(child, above)

    walk(plan, "")
    return found


def _step_at(windows: list[tuple[float, float, str]], ms: float) -> str:
    t = ms / 1000
    return next((step for start, end, step in windows if start <= t <= end), "(between steps)")


def read_event_log(lines: list[str], windows: dict[str, tuple[float, float]]) -> dict[str, StepPlans]:
    """The event log's lines (JSON, one event each) summed per step of `windows` (step -> its
    start and end, epoch seconds)."""
    spans = sorted((s, e, k) for k, (s, e) in windows.items())
    plans: dict[int, dict[str, Any]] = {}  # SQL execution id -> its last (final) plan
    query_at: dict[int, float] = {}
    job_step: dict[int, str] = {}
    job_start: dict[int, float] = {}
    stage_step: dict[int, str] = {}
    out: dict[str, StepPlans] = {}

    def of(step: str) -> StepPlans:
        return out.setdefault(step, StepPlans(step))

    for line in lines:
        if not line.strip():
            continue
        ev = json.loads(line)
        kind = ev.get("Event", "")
        if kind.endswith("SparkListenerSQLExecutionStart"):
            query_at[ev["executionId"]] = ev["time"]
            plans[ev["executionId"]] = ev["sparkPlanInfo"]
        elif kind.endswith("SparkListenerSQLAdaptiveExecutionUpdate"):
            plans[ev["executionId"]] = ev["sparkPlanInfo"]
        elif kind == "SparkListenerJobStart":
            step = _step_at(spans, ev["Submission Time"])
            job_step[ev["Job ID"]], job_start[ev["Job ID"]] = step, ev["Submission Time"]
            for stage in ev.get("Stage IDs", []):
                stage_step[stage] = step
        elif kind == "SparkListenerJobEnd" and ev["Job ID"] in job_step:
            of(job_step[ev["Job ID"]]).jobs.append((job_start[ev["Job ID"]] / 1000, ev["Completion Time"] / 1000))
        elif kind == "SparkListenerTaskEnd":
            m = ev.get("Task Metrics") or {}
            s = of(stage_step.get(ev["Stage ID"], "(between steps)"))
            s.tasks += 1
            s.cpu_seconds += m.get("Executor CPU Time", 0) / 1e9
            s.run_seconds += m.get("Executor Run Time", 0) / 1000
            s.gc_seconds += m.get("JVM GC Time", 0) / 1000
            w = m.get("Shuffle Write Metrics") or {}
            s.shuffle_bytes += w.get("Shuffle Bytes Written", 0)
            s.shuffle_records += w.get("Shuffle Records Written", 0)
            s.input_bytes += (m.get("Input Metrics") or {}).get("Bytes Read", 0)
            s.output_bytes += (m.get("Output Metrics") or {}).get("Bytes Written", 0)
    for ex_id, plan in plans.items():
        s = of(_step_at(spans, query_at[ex_id]))
        s.queries += 1
        for ex in set(exchanges_in(plan)):
            s.exchanges[ex] += 1
    return out


def event_log(work: Path) -> list[Path]:
    """The files of the run's event log, in order: one file, or (Spark's rolling log) the
    `events_<n>_<app>` files of its `eventlog_v2_<app>` folder."""
    root = work / "spark-events"
    logs = sorted((p for p in root.rglob("*") if p.is_file() and not p.name.startswith((".", "appstatus"))),
                  key=lambda p: (str(p.parent), int(m.group(1)) if (m := re.match(r"events_(\d+)_", p.name)) else 0))
    if not logs:
        raise FileNotFoundError(f"no Spark event log in {root}: run `make bench ENGINE=spark` first")
    return logs


def step_windows(timings: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {k: (v[0], v[1]) for k, v in timings.get("step_windows", {}).items()}


def summarize(work: Path, timings_file: str = "full.json") -> dict[str, StepPlans]:
    timings = json.loads((work / timings_file).read_text())
    lines = [line for log in event_log(work) for line in log.read_text(encoding="utf-8").splitlines()]
    return read_event_log(lines, step_windows(timings))


def as_rows(steps: dict[str, StepPlans], seconds: dict[str, float]) -> list[dict[str, Any]]:
    """One row per step that ran a Spark job or query, in the order the steps ran."""
    rows = []
    for name, s in steps.items():
        rows.append({
            "step": name,
            "seconds": seconds.get(name),
            "job_seconds": round(s.job_seconds, 2),
            "cpu_seconds": round(s.cpu_seconds, 2),
            "task_seconds": round(s.run_seconds, 2),
            "gc_seconds": round(s.gc_seconds, 2),
            "queries": s.queries,
            "tasks": s.tasks,
            "shuffle_bytes": s.shuffle_bytes,
            "shuffle_records": s.shuffle_records,
            "input_bytes": s.input_bytes,
            "output_bytes": s.output_bytes,
            "exchanges": [{"kind": e.kind, "keys": e.keys, "queries": n}
                          for e, n in sorted(s.exchanges.items(), key=lambda kv: (-kv[1], str(kv[0])))],
        })
    return rows


def _short(keys: str, width: int = 60) -> str:
    return keys if len(keys) <= width else keys[:width - 1] + "…"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Shuffles per step of a Spark bench run, from Spark's event log.")
    ap.add_argument("work", type=Path, help="the run's folder, e.g. bench/.cache/wh-1000000-spark")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args(argv)
    try:
        steps = summarize(args.work)
    except FileNotFoundError as e:
        print(e, file=sys.stderr)
        return 2
    seconds = json.loads((args.work / "full.json").read_text())["steps"]
    rows = [r for r in as_rows(steps, seconds) if r["queries"] or r["tasks"]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'step':<44} {'s':>7} {'jobs s':>7} {'cpu s':>7} {'shuffle MB':>10}  exchanges (queries)")
    for r in rows:
        ex = "; ".join(f"{e['kind']}({_short(e['keys'])}) ×{e['queries']}" if e["keys"] else f"{e['kind']} ×{e['queries']}"
                       for e in r["exchanges"]) or "none"
        secs = f"{r['seconds']:.2f}" if r["seconds"] is not None else ""
        print(f"{r['step']:<44} {secs:>7} {r['job_seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
              f"{_mb(r['shuffle_bytes']):>10}  {ex}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
