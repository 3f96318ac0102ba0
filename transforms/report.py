"""The journey-map report: one self-contained HTML file read from the published warehouse.

``build_report(warehouse, out_dir)`` opens the analyst DuckDB file read-only, runs a handful
of aggregate queries over the ``marts`` tables (every query returns a small, already
aggregated result, so the report costs the same at 10k or 100M events) and writes
``out_dir/journey-map.html``. Each query is a file, ``sql/report/<name>.sql``, run by name
(``Warehouse.rows(name)``) with the values of ``QUERY_PARAMS`` bound as ``$params``. The page needs no network: plotly.js is inlined once and the
journey-map grid and its emotion curve are plain HTML and static SVG.

Sections: a header (data period, customers, journeys, conversions, revenue, generation
time); per persona (and 'all') the classic journey map with phases as columns and as rows
the touchpoints used (a heat grid), the top customer actions, the emotion curve, drop-off
between phases, pain points and the opportunities they suggest; then a Sankey of touchpoint
paths from first touch to conversion or exit, the funnels with drop-off, the weekly funnel
trend, each funnel step by week (marts.funnel_step_trends), sessions (marts.sessions), the
designed journey beside the observed one with its top gaps (designs.yaml, marts.journey_conformance,
marts.design_gaps), a retention triangle and a lifecycle chart (marts.retention, marts.lifecycle),
attribution by model side by side and touchpoint health. A table that is missing or empty turns
its section into a "No data" note instead of an error. Labels of phases, touchpoints, designs and
pain kinds come from the config folder (``config_dir``, else JOURNEYS_CONFIG_DIR, else the defaults).

Adding a section is one SQL file and one template block: write ``sql/report/<name>.sql`` (a
query of ``marts`` tables; the tables it names decide its "not in this warehouse" note), then in ``templates/report.html.j2`` read its rows as
``data.<name>`` (None when there are none) and ``note("<name>")`` for why, format them with the
filters of ``environment`` (``|fmt_int``, ``|fmt_pct``, ``|touchpoint_label`` …) and draw a
time series with ``line_chart(data.<name>, x, y, series=…, id=…, title=…)``. Python is needed
only for a chart ``line_chart`` does not draw.
"""

from __future__ import annotations

import functools
import html
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup

from transforms.warehouse import SQL_DIR, run_sql, sql_file

REPORT_FILE = "journey-map.html"
TEMPLATES_DIR = Path(__file__).parent / "templates"
ALL = "all"

SANKEY_MAX_STEPS = 5  # touchpoint steps drawn per journey before its outcome
SANKEY_MAX_TOUCHPOINTS = 10  # touchpoints drawn by name; the rest become 'other'
SANKEY_MIN_SHARE = 0.005  # flows carrying fewer journeys than this share are left out
TOP_ACTIONS = 3
HEALTH_MAX_ROWS = 60
PAIN_POINTS_PER_PHASE = 3

REPORT_SQL = "report"
"""The report's queries: `sql/report/<name>.sql`, one small aggregate a file, run by name."""
TOP_GAPS = 5  # design gaps shown per design
PERSONA_PAINS = 6  # pain points of its own shown per persona
SESSION_ENTRIES = 12  # entry touchpoints in the sessions table
QUERY_PARAMS = {"max_steps": SANKEY_MAX_STEPS, "top": TOP_ACTIONS, "max_rows": HEALTH_MAX_ROWS,
                "top_gaps": TOP_GAPS, "persona": ALL, "top_pains": PERSONA_PAINS, "min_exits": 3,
                "min_lift": 1.5, "max_entries": SESSION_ENTRIES}
"""The values the report's queries bind; each file takes the $names it uses (the designed steps
of designs.yaml, `design_step_*`, are added from the config folder: `Labels.params`)."""
POST_CONVERSION_NOTE = "after the conversion phase: the journey ended after buying, not lost"

KIND_LABELS = {"exits": "Exits", "support contact after": "Support contact after",
               "negative sentiment": "Negative sentiment", "skipped_step": "Skipped step",
               "out_of_order": "Step out of order", "unplanned_touchpoint": "Unplanned touchpoint",
               "stall": "Stall beyond target"}
ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based",
                      "markov", "shapley")
OVERALL_BREAKDOWNS = ("all", "(all)", "none", "total", "overall", "")

# Colours: one per touchpoint, stable across every chart of the page.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#1f77b4", "#8cd17d", "#d37295", "#499894", "#86bcb6",
           "#f1ce63", "#a0cbe8", "#ffbe7d", "#d4a6c8", "#79706e", "#b6992d")
SPECIAL_COLOURS = {"(start)": "#6b7280", "(conversion)": "#16a34a", "(exit)": "#dc2626",
                   "unclassified": "#c4c4c4", "other": "#9ca3af"}
MODEL_COLOURS = dict(zip(ATTRIBUTION_MODELS, ("#1d4ed8", "#60a5fa", "#0d9488", "#5eead4",
                                              "#7c3aed", "#f59e0b", "#db2777"), strict=True))
FUNNEL_COLOURS = ("#2563eb", "#db2777", "#0d9488", "#f59e0b", "#7c3aed", "#65a30d")
SEGMENT_COLOURS = {"went on": "#3b82f6", "still in window": "#fbbf24", "dropped": "#ef4444",
                   "completed": "#16a34a"}
FONT = "Inter, 'Segoe UI', system-ui, -apple-system, 'Helvetica Neue', Arial, sans-serif"
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}


# --------------------------------------------------------------------------- formatting


def fmt_int(value: Any) -> str:
    return "–" if value is None else f"{round(float(value)):,}"


def fmt_pct(value: Any) -> str:
    """A ratio as a percentage: one decimal below 10 %, none above."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    pct = 100 * float(value)
    return f"{pct:.1f}%" if abs(pct) < 10 else f"{pct:.0f}%"


def fmt_money(value: Any) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def fmt_sentiment(value: Any) -> str:
    return "–" if value is None else f"{float(value):+.2f}"


def fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def fmt_date(value: Any) -> str:
    if value is None:
        return "–"
    return value.strftime("%-d %b %Y") if isinstance(value, date) else str(value)


def pretty(name: str) -> str:
    """'lead_created' -> 'Lead created'; Segment names ('Order Completed') stay as they are."""
    special = {"page": "Page viewed", "screen": "App screen viewed", "identify": "Signed in / identified",
               "(start)": "Start", "(conversion)": "Conversion", "(exit)": "Exit"}
    if name in special:
        return special[name]
    if name.startswith("(") or " " in name or any(c.isupper() for c in name):
        return name
    return name.replace("_", " ").capitalize()


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha:.3f})"


# --------------------------------------------------------------------------- reading


class Warehouse:
    """Read-only access to the published file: runs the report's queries (`sql/report/<name>.sql`,
    each reading `marts` tables) and turns a missing table, a missing column or no rows into a
    note instead of an error."""

    def __init__(self, con: duckdb.DuckDBPyConnection, params: Mapping[str, Any] | None = None) -> None:
        self.con = con
        self.params = {**QUERY_PARAMS, **(params or {})}
        self.tables = {r[0] for r in run_sql(con, "report/warehouse_tables").fetchall()}
        self.notes: dict[str, str] = {}
        self._rows: dict[str, list[dict[str, Any]] | None] = {}

    def has(self, relation: str) -> bool:
        return relation in self.tables

    def rows(self, name: str) -> list[dict[str, Any]] | None:
        """Rows of `sql/report/<name>.sql` as dicts (run once, then kept), or None with a note
        under `name` when a table it reads is missing, lacks a column it needs, or it returns
        no rows."""
        if name not in self._rows:
            self._rows[name] = self._run(name)
        return self._rows[name]

    def _run(self, name: str) -> list[dict[str, Any]] | None:
        relations = reads(name)
        missing = [r for r in relations if not self.has(r)]
        if missing:
            self.notes[name] = f"{missing[0]} is not in this warehouse."
            return None
        relation = relations[0] if relations else f"sql/{REPORT_SQL}/{name}.sql"
        try:
            cursor = run_sql(self.con, f"{REPORT_SQL}/{name}", self.params)
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except duckdb.Error as exc:
            self.notes[name] = f"{relation} could not be read: {str(exc).splitlines()[0]}"
            return None
        if not rows:
            self.notes[name] = f"{relation} has no rows."
            return None
        return rows

    def note(self, name: str) -> str:
        """Why `name` gave no rows ("No data." when it gave some)."""
        if name not in self._rows and (SQL_DIR / REPORT_SQL / f"{name}.sql").is_file():
            self.rows(name)
        return self.notes.get(name, "No data.")


class ReportData(Mapping[str, "list[dict[str, Any]] | None"]):
    """Every report query by name, for the template: `data.sessions` runs
    `sql/report/sessions.sql` (once) and gives its rows, or None; `note("sessions")` says why."""

    def __init__(self, wh: Warehouse) -> None:
        self.wh = wh

    def __getitem__(self, name: str) -> list[dict[str, Any]] | None:
        if name not in report_queries():
            raise KeyError(f"no report query sql/{REPORT_SQL}/{name}.sql")
        return self.wh.rows(name)

    def __iter__(self) -> Iterator[str]:
        return iter(report_queries())

    def __len__(self) -> int:
        return len(report_queries())


@functools.cache
def reads(name: str) -> tuple[str, ...]:
    """The `marts` relations `sql/report/<name>.sql` reads, in order of first mention."""
    from transforms.models import reads as relations_read  # sqlglot's reading, as for the models

    sql = sql_file(f"{REPORT_SQL}/{name}")
    text = re.sub(r"--[^\n]*", "", sql)
    found = [r for r in relations_read(sql, where=f"sql/{REPORT_SQL}/{name}.sql") if r.startswith("marts.")]
    return tuple(sorted(found, key=text.find))


@functools.cache
def report_queries() -> tuple[str, ...]:
    """The names of the report's queries: the files of sql/report/ that read a mart."""
    return tuple(sorted(p.stem for p in (SQL_DIR / REPORT_SQL).glob("*.sql") if reads(p.stem)))


@dataclass
class Labels:
    """Display labels and colours for phases and touchpoints (from taxonomy.yaml when it loads)."""

    phases: dict[str, str] = field(default_factory=dict)
    touchpoints: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    personas: dict[str, str] = field(default_factory=dict)
    designs: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @classmethod
    def load(cls, config_dir: Path | str | None = None) -> Labels:
        """Labels of the config folder: `config_dir`, else JOURNEYS_CONFIG_DIR, else the shipped
        defaults (the folder the pipeline ran with)."""
        labels = cls()
        config_dir = config_dir or os.environ.get("JOURNEYS_CONFIG_DIR") or None
        try:  # labels only: a report must not fail because the config folder is broken
            from transforms.config import load_config
            from transforms.designs import design_params

            config = load_config(config_dir)
            taxonomy = config.taxonomy
            labels.phases = {p.name: p.label or pretty(p.name) for p in taxonomy.phases}
            labels.touchpoints = {t.name: t.label or pretty(t.name) for t in taxonomy.touchpoints}
            labels.order = [t.name for t in taxonomy.touchpoints]
            labels.designs = {d.name: pretty(d.name) for d in config.designs}
            labels.params = design_params(config)
        except Exception as exc:  # noqa: BLE001
            labels.problem = f"config folder not read ({str(exc).splitlines()[0]}): names shown as they are"
        return labels

    def persona(self, name: str) -> str:
        return "All customers" if name == ALL else self.personas.get(name) or pretty(name)

    def design(self, name: str) -> str:
        return self.designs.get(name) or pretty(name)

    def kind(self, name: str) -> str:
        """A pain point's or a design gap's kind as words: 'skipped_step' -> 'Skipped step'."""
        return KIND_LABELS.get(str(name), pretty(str(name)))

    def step(self, name: str) -> str:
        """A funnel or design step: a phase or touchpoint name gets its label, an event name is prettified."""
        return self.phases.get(name) or self.touchpoints.get(name) or pretty(str(name))

    def phase(self, name: str) -> str:
        return self.phases.get(name) or pretty(name)

    def touchpoint(self, name: str) -> str:
        return self.touchpoints.get(name) or pretty(name)

    def colour(self, name: str) -> str:
        if name in SPECIAL_COLOURS:
            return SPECIAL_COLOURS[name]
        if name not in self.colours:
            known = [t for t in self.order if t not in SPECIAL_COLOURS]
            index = known.index(name) if name in known else len(known) + len(self.colours)
            self.colours[name] = PALETTE[index % len(PALETTE)]
        return self.colours[name]


# --------------------------------------------------------------------------- queries


def _summary(wh: Warehouse) -> dict[str, Any]:
    """Header numbers: data period, events, customers, journeys, conversions, revenue."""
    out: dict[str, Any] = {}
    events = wh.rows("summary_events")
    if events:
        out.update(events[0])
    customers = wh.rows("summary_customers")
    if customers:
        out.update(customers[0])
    journeys = wh.rows("summary_journeys")
    if journeys:
        out.update(journeys[0])
    out.setdefault("first_at", out.get("journeys_first_at"))
    out.setdefault("last_at", out.get("journeys_last_at"))
    return out


def _persona_kpis(wh: Warehouse) -> dict[str, dict[str, Any]]:
    """Per persona (and 'all'): customers, journeys, conversions, conversion rate, revenue."""
    kpis: dict[str, dict[str, Any]] = defaultdict(dict)
    rows = wh.rows("persona_customers") or []
    for r in rows:
        kpis[r["persona_key"]]["n_customers"] = r["n_customers"]
    rows = wh.rows("persona_journeys") or []
    for r in rows:
        key = r["persona_key"]
        kpis[key].update({k: v for k, v in r.items() if k != "persona_key"})
        kpis[key]["conversion_rate"] = r["n_conversions"] / r["n_journeys"] if r["n_journeys"] else None
    return dict(kpis)


def _phases(wh: Warehouse, labels: Labels) -> list[str]:
    """Classified phases present in the data, in their configured order."""
    rows = wh.rows("phases")
    if rows:
        return [r["phase"] for r in rows]
    rows = wh.rows("phases_health") or []
    order = list(labels.phases)
    return sorted((r["phase"] for r in rows), key=lambda p: (order.index(p) if p in order else 99, p))


def _grid(wh: Warehouse) -> list[dict[str, Any]]:
    """Touchpoint x phase cells per persona (and 'all'): events and distinct customers, with the
    distinct customers of the whole phase for the share."""
    rows = wh.rows("grid")
    if rows is not None:
        return rows
    # fallback for 'all': marts.touchpoint_health has no persona
    health = wh.rows("grid_health")
    return health or []


def _actions(wh: Warehouse) -> list[dict[str, Any]]:
    """The most frequent event names per persona (and 'all') and phase."""
    return wh.rows("actions") or []


def _emotion(wh: Warehouse) -> list[dict[str, Any]]:
    """Average sentiment per persona (and 'all') and phase, over the events that carry one."""
    return wh.rows("emotion") or []


def _funnel_rows(wh: Warehouse) -> list[dict[str, Any]]:
    return wh.rows("funnels") or []


def _overall(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The overall rows of one funnel: breakdown 'all' (or null), else breakdown_value 'all'."""
    overall = [r for r in rows if (r["breakdown"] or "").lower() in OVERALL_BREAKDOWNS]
    if not overall:
        overall = [r for r in rows if str(r["breakdown_value"]).lower() == ALL]
    seen: dict[int, dict[str, Any]] = {}
    for r in overall:
        seen.setdefault(r["step_index"], r)
    return [seen[k] for k in sorted(seen)]


def conversion_phase(wh: Warehouse) -> str | None:
    """The phase where most conversions happen (sql/report/conversion_phase.sql)."""
    return (wh.rows("conversion_phase") or [{}])[0].get("phase")


def _persona_pains(wh: Warehouse, labels: Labels) -> dict[str, list[dict[str, Any]]]:
    """Each persona's own pain points (sql/report/persona_pain_points.sql), in the map's shape."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in wh.rows("persona_pain_points") or []:
        place = f"{labels.touchpoint(r['touchpoint'])} · {labels.phase(r['phase'])}"
        label = (f"{place}: {fmt_pct(r['rate'])} of this persona's journeys here end without converting, "
                 f"{float(r['lift'] or 0):.1f}× its average cell ({fmt_int(r['n_exits'])} of "
                 f"{fmt_int(r['n_journeys'])} journeys).")
        pain = {**r, "kind": labels.kind(r["kind"]), "label": label,
                "n_customers": r["n_journeys"], "n_affected": r["n_exits"]}
        out[r["persona"]].append({**pain, "opportunity": opportunity(pain | {"kind": r["kind"]}, labels,
                                                                      conversion_phase(wh))})
    return dict(out)


def _pain_points(wh: Warehouse, labels: Labels) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ranked pain points, each with its opportunity, and apart the exits in phases after the
    conversion phase: a journey that ends after buying (in use, loyalty, advocacy) is not lost."""
    conversion = (wh.rows("conversion_phase") or [{}])[0].get("phase_order")
    order = {p: i for i, p in enumerate(labels.phases, start=1)}
    for r in wh.rows("phases") or []:
        order.setdefault(r["phase"], r["phase_order"])
    kept, after = [], []
    for r in wh.rows("pain_points") or []:
        is_exit = "exit" in str(r.get("kind")).lower() or "drop" in str(r.get("kind")).lower()
        late = conversion is not None and order.get(r["phase"], 0) > conversion
        phase = str(r["phase"])  # the mart's sentence names the phase as configured: use its label
        label = str(r.get("label") or "").replace(f" · {phase}:", f" · {labels.phase(phase)}:", 1)
        (after if is_exit and late else kept).append(
            {**r, "label": label, "opportunity": opportunity(r, labels, conversion_phase(wh))})
    return kept, after


def opportunity(pain: dict[str, Any], labels: Labels | None = None, conversion_phase: str | None = None) -> str:
    """One sentence that turns a pain point into something to do, from its own numbers: where,
    how many customers, how far above the baseline, and the action its kind calls for."""
    labels = labels or Labels()
    kind = str(pain.get("kind") or "").lower().replace("_", " ").replace("-", " ")
    touchpoint, phase = str(pain.get("touchpoint")), str(pain.get("phase"))
    place = f"{labels.touchpoint(touchpoint)} in {labels.phase(phase)}"
    rate, base = pain.get("rate"), pain.get("baseline_rate")
    n = pain.get("n_customers") or pain.get("n_journeys")
    affected = pain.get("n_affected") or pain.get("n_exits")
    if affected is None and n is not None and rate is not None:
        affected = round(float(n) * float(rate))
    who = f"{fmt_int(affected)} of {fmt_int(n)} customers" if affected is not None and n else "customers"
    versus = f" ({fmt_pct(rate)} vs {fmt_pct(base)} across all touchpoints)" if rate is not None and base is not None else ""
    lift = (float(rate) / float(base)) if rate is not None and base else None
    times = f", {lift:.1f}× the baseline" if lift else ""
    digital = touchpoint in ("website", "mobile_app", "direct", "email", "sms", "messaging")
    if "exit" in kind or "drop" in kind:
        if touchpoint in ("website", "mobile_app", "direct") and phase == conversion_phase:
            fix = "watch recordings of the last screens, remove a step or field and retry a failed payment in place"
        elif touchpoint in ("website", "mobile_app", "direct"):
            fix = "make the next step obvious on the pages where they stop and remind those who left"
        elif touchpoint in ("email", "sms", "messaging"):
            fix = "give each message one call to action that leads to the next step, and resend to those who did not act"
        elif touchpoint in ("paid_search", "paid_social", "display", "organic_search", "organic_social", "referral"):
            fix = "check that the ad or link lands on a page that keeps its promise, and retarget those who left"
        else:
            fix = "find where the conversation stalls and give the next step a date"
        return (f"Simplify {place}: {who} end their journey here without converting{versus}{times}. "
                f"On {labels.touchpoint(touchpoint)}: {fix}; follow up within a day with those who left.")
    if "sentiment" in kind or "negative" in kind:
        return (f"Fix what upsets customers at {place}{versus}: {who} are affected{times}. "
                "Read their negative comments, solve the top complaint and close the loop with them.")
    if "support" in kind or "contact" in kind:
        fix = "fix the defect behind them or add help on that screen" if digital else "brief the team with an answer to the common question"
        return (f"Prevent the support contacts that follow {place}{versus}: {who} contact support{times}; "
                f"{fix}, so customers need not ask.")
    if "csat" in kind or "satisfaction" in kind:
        return f"Raise satisfaction at {place}{versus}: review the low ratings of {who} and fix their common cause."
    return f"Investigate {place}{versus}: {who}{times}; it stands out against the rest of the journey."


# --------------------------------------------------------------------------- journey map


def _emotion_svg(phases: list[str], emotion: dict[str, dict[str, Any]], steps: list[dict[str, Any]],
                 labels: Labels) -> Markup:
    """The emotion curve as static SVG: a smooth curve through the scored touchpoints of each phase
    (inside its column, in the order customers meet them), or the phase's average where only that
    is known; equal-width columns, so the uniformly scaled SVG lines up with the grid above."""
    col, height, top = 160, 150, 22
    width = col * len(phases)
    by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in steps:
        by_phase[r["phase"]].append(r)
    raw: list[tuple[float, float, str]] = []  # x, sentiment, tooltip
    for i, p in enumerate(phases):
        members = sorted(by_phase.get(p, []), key=lambda r: (float(r.get("median_step") or 0), r["touchpoint"]))
        if members:
            for k, r in enumerate(members):
                raw.append(((i + (k + 1) / (len(members) + 1)) * col, float(r["avg_sentiment"]),
                            f"{labels.touchpoint(r['touchpoint'])} in {labels.phase(p)}: average sentiment "
                            f"{float(r['avg_sentiment']):+.2f} over {int(r['n_scored']):,} scored events"))
        elif emotion.get(p, {}).get("avg_sentiment") is not None:
            e = emotion[p]
            raw.append(((i + 0.5) * col, float(e["avg_sentiment"]),
                        f"{labels.phase(p)}: average sentiment {float(e['avg_sentiment']):+.2f} over "
                        f"{int(e.get('n_scored') or 0):,} scored events"))
    if not raw:
        return Markup(f'<svg class="emotion" viewBox="0 0 {width} 60" role="img" aria-label="No sentiment">'
                      f'<text x="{width / 2}" y="34" text-anchor="middle" class="muted">'
                      "No sentiment scored in these phases</text></svg>")
    limit = max(0.25, math.ceil(max(abs(v) for _, v, _ in raw) / 0.25) * 0.25)
    mid = height / 2

    def y(v: float) -> float:
        return mid - v / limit * (mid - top)

    parts = [f'<svg class="emotion" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Emotion curve: average sentiment of scored touchpoints, phase by phase">',
             f'<rect x="0" y="{top - 10}" width="{width}" height="{mid - top + 10}" fill="#ecfdf5"/>',
             f'<rect x="0" y="{mid}" width="{width}" height="{mid - top + 10}" fill="#fef2f2"/>',
             f'<line x1="0" x2="{width}" y1="{mid}" y2="{mid}" stroke="#9ca3af" stroke-dasharray="4 4"/>',
             f'<text x="4" y="{top - 1}" class="axis">+{limit:.2f} positive</text>',
             f'<text x="4" y="{height - 4}" class="axis">−{limit:.2f} negative</text>']
    for i in range(1, len(phases)):
        parts.append(f'<line x1="{i * col}" x2="{i * col}" y1="{top - 10}" y2="{height - 2}" stroke="#e5e7eb"/>')
    pts = [(x, y(v)) for x, v, _ in raw]
    if len(pts) > 1:  # Catmull-Rom through the points, as cubic Béziers: a curve, not a polyline
        d = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
        for j in range(len(pts) - 1):
            p0, p1, p2 = pts[max(j - 1, 0)], pts[j], pts[j + 1]
            p3 = pts[min(j + 2, len(pts) - 1)]
            c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
            c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
            d.append(f"C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {p2[0]:.1f},{p2[1]:.1f}")
        parts.append(f'<path class="curve-line" d="{" ".join(d)}" fill="none" stroke="#334155" '
                     'stroke-width="3" stroke-linecap="round"/>')
    labelled = {max(range(len(raw)), key=lambda j: (int(raw[j][0] // col) == i, abs(raw[j][1])))
                for i in {int(x // col) for x, _, _ in raw}}  # the strongest point of each phase
    for j, ((x, v, tip), (_, yy)) in enumerate(zip(raw, pts, strict=True)):
        colour = "#16a34a" if v > 0.05 else "#dc2626" if v < -0.05 else "#6b7280"
        label_y = yy - 10 if v >= 0 else yy + 18
        parts.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="6" fill="{colour}" stroke="#fff" stroke-width="2">'
                     f"<title>{html.escape(tip)}</title></circle>")
        if j in labelled:
            parts.append(f'<text x="{x:.1f}" y="{label_y:.1f}" text-anchor="middle" class="value" '
                         f'fill="{colour}">{v:+.2f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _journey_map(persona: str, phases: list[str], grid: list[dict], actions: list[dict],
                 emotion: list[dict], phase_funnel: list[dict], pains: list[dict],
                 labels: Labels, emotion_steps: list[dict] | None = None) -> dict[str, Any]:
    """Everything one persona's journey-map grid shows, keyed by phase."""
    cells = [c for c in grid if c["persona_key"] == persona]
    totals: dict[str, dict[str, Any]] = {}
    for c in cells:
        t = totals.setdefault(c["touchpoint"], {"n_customers": 0, "stage": c["stage"]})
        t["n_customers"] += c["n_customers"]
        t["stage"] = t["stage"] or c["stage"]
    front = sorted((t for t in totals if totals[t]["stage"] != "back"),
                   key=lambda t: (-totals[t]["n_customers"], t))
    back = sorted((t for t in totals if totals[t]["stage"] == "back"),
                  key=lambda t: (-totals[t]["n_customers"], t))
    by_cell = {(c["touchpoint"], c["phase"]): c for c in cells}
    phase_customers = {c["phase"]: c["phase_customers"] for c in cells}

    def row(touchpoint: str) -> dict[str, Any]:
        colour = labels.colour(touchpoint)
        out = []
        for p in phases:
            c = by_cell.get((touchpoint, p))
            if c is None:
                out.append(None)
                continue
            share = float(c["share"] or 0)
            alpha = 0.07 + 0.88 * share
            out.append({
                "share": fmt_pct(share), "customers": fmt_int(c["n_customers"]),
                "style": f"background:{_rgba(colour, alpha)};color:{'#fff' if alpha > 0.55 else '#111827'}",
                "title": (f"{labels.touchpoint(touchpoint)} in {labels.phase(p)}: "
                          f"{c['n_customers']:,} customers ({fmt_pct(share)} of the phase's customers), "
                          f"{c['n_events']:,} events"),
            })
        return {"name": touchpoint, "label": labels.touchpoint(touchpoint), "colour": colour, "cells": out}

    top_actions: dict[str, list[dict[str, str]]] = defaultdict(list)
    for a in sorted((a for a in actions if a["persona_key"] == persona), key=lambda a: a["action_rank"]):
        top_actions[a["phase"]].append({"name": pretty(a["event_name"]), "share": fmt_pct(a["share"]),
                                        "n": fmt_int(a["n_events"])})

    emotion_by_phase = {e["phase"]: e for e in emotion if e["persona_key"] == persona}

    funnel_by_phase: dict[str, dict[str, Any]] = {}
    unmatched = []
    keys = {p.lower(): p for p in phases} | {labels.phase(p).lower(): p for p in phases}
    last_step = max((r["step_index"] for r in phase_funnel), default=0)
    for r in phase_funnel:
        entry = {
            "entered": fmt_int(r["entered"]),
            "went_on": fmt_pct(r["reached_next"] / r["entered"]
                               if r["entered"] and r["reached_next"] is not None else None),
            "dropped": fmt_int(r["dropped"]),
            "dropoff_rate": fmt_pct(r["dropoff_rate"]),
            "in_window": fmt_int(r["in_window"]) if r["in_window"] else None,
            "from_start": fmt_pct(r["conversion_from_start"]),
            "is_last": r["step_index"] == last_step,
            "step": f"{r['step_index']}. {labels.step(str(r['step_name']))}",
        }
        phase = keys.get(str(r["step_name"]).lower())
        if phase:
            funnel_by_phase[phase] = entry
        else:
            unmatched.append(entry)

    pains_by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in pains:
        if p.get("persona", ALL) in (persona, ALL, None) and len(pains_by_phase[p["phase"]]) < PAIN_POINTS_PER_PHASE:
            pains_by_phase[p["phase"]].append(p)

    return {
        "phases": [{"name": p, "label": labels.phase(p), "customers": fmt_int(phase_customers.get(p))}
                   for p in phases],
        "front": [row(t) for t in front],
        "back": [row(t) for t in back],
        "actions": [top_actions.get(p, []) for p in phases],
        "emotion_svg": _emotion_svg(phases, emotion_by_phase,
                                    [r for r in emotion_steps or [] if r["persona_key"] == persona], labels),
        "emotion_notes": [
            (f"{fmt_int(emotion_by_phase[p]['n_scored'])} scored · {fmt_pct(emotion_by_phase[p]['negative_share'])} negative"
             if emotion_by_phase.get(p, {}).get("n_scored") else "not scored")
            for p in phases],
        "funnel": [funnel_by_phase.get(p) for p in phases],
        "funnel_unmatched": unmatched,
        "has_funnel": bool(phase_funnel),
        "pains": [pains_by_phase.get(p, []) for p in phases],
        "has_pains": any(pains_by_phase.values()),
        "has_data": bool(cells),
    }


# --------------------------------------------------------------------------- charts


def _layout(fig: go.Figure, title: str, height: int, **kwargs: Any) -> go.Figure:
    settings: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 16}},
        "template": "plotly_white",
        "font": {"family": FONT, "size": 12, "color": "#1f2937"},
        "height": height,
        "margin": {"l": 60, "r": 30, "t": 60, "b": 60},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    }
    fig.update_layout(**(settings | kwargs))
    return fig


def _chart(fig: go.Figure, div_id: str) -> Markup:
    height = fig.layout.height or 450
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config=PLOTLY_CONFIG, default_height=f"{height}px",
                              default_width="100%"))


def _sankey(wh: Warehouse, labels: Labels) -> Markup | None:
    """Touchpoint paths from '(start)' through the first steps to '(conversion)' / '(exit)'.
    Nodes are layered by step number, so the repeated visits that make a touchpoint graph
    cyclic draw as separate nodes and the Sankey stays acyclic."""
    edges = wh.rows("sankey")
    if edges is None:
        return None
    volume: dict[str, int] = defaultdict(int)
    for e in edges:
        if not e["to_outcome"]:
            volume[e["target"]] += e["n"]
    keep = {t for t, _ in sorted(volume.items(), key=lambda kv: -kv[1])[:SANKEY_MAX_TOUCHPOINTS]}
    keep |= {"(start)", "(conversion)", "(exit)"}

    def node_key(layer: int, name: str) -> tuple[int, str]:
        name = name if name in keep else "other"
        return (99, name) if name in ("(conversion)", "(exit)") else (layer, name)

    links: dict[tuple[tuple[int, str], tuple[int, str]], int] = defaultdict(int)
    for e in edges:
        src = node_key(e["layer"], e["source"])
        dst = node_key(99 if e["to_outcome"] else e["layer"] + 1, e["target"])
        links[(src, dst)] += e["n"]
    n_journeys = sum(e["n"] for e in edges if e["layer"] == 0)
    outcomes: dict[str, int] = defaultdict(int)  # before small flows are dropped: true totals
    for e in edges:
        if e["to_outcome"]:
            outcomes[e["target"]] += e["n"]
    links = {k: v for k, v in links.items() if v >= SANKEY_MIN_SHARE * n_journeys}
    nodes = sorted({k for pair in links for k in pair})
    index = {k: i for i, k in enumerate(nodes)}
    inflow: dict[tuple[int, str], int] = defaultdict(int)
    outflow: dict[tuple[int, str], int] = defaultdict(int)
    for (src, dst), v in links.items():
        inflow[dst] += v
        outflow[src] += v
    size = {k: max(inflow[k], outflow[k]) for k in nodes}

    # fixed positions: one column per step, outcomes at the right, bigger nodes on top
    layers = sorted({k[0] for k in nodes if k[0] != 99})
    column = {layer: i for i, layer in enumerate(layers)}
    n_columns = len(layers) + 1
    x, y = {}, {}
    for layer in [*layers, 99]:
        members = sorted((k for k in nodes if k[0] == layer),
                         key=lambda k: (k[1] == "(exit)", k[1] == "other", -size[k], k[1]))
        total = sum(size[k] for k in members) or 1
        gap = 0.04 if len(members) > 1 else 0
        scale = (1 - gap * (len(members) - 1)) / max(total, n_journeys)
        offset = 0.0
        for k in members:
            x[k] = 0.001 + 0.998 * (column.get(layer, n_columns - 1) / (n_columns - 1))
            y[k] = min(0.999, max(0.001, offset + size[k] * scale / 2))
            offset += size[k] * scale + gap

    def node_label(key: tuple[int, str]) -> str:
        name = key[1]
        if name == "(start)":
            return f"Start · {size[key]:,}"
        return "" if name.startswith("(") else labels.touchpoint(name)

    def node_hover(key: tuple[int, str]) -> str:
        layer, name = key
        if name == "(start)":
            return "Start of the journey"
        if name.startswith("("):
            return f"{pretty(name)} (journey outcome)"
        return f"{labels.touchpoint(name)} at step {layer}"

    fig = go.Figure(go.Sankey(
        arrangement="snap",
        valueformat=",d",
        valuesuffix=" journeys",
        node={"label": [node_label(k) for k in nodes], "pad": 12, "thickness": 16,
              "x": [x[k] for k in nodes], "y": [y[k] for k in nodes],
              "customdata": [node_hover(k) for k in nodes],
              "hovertemplate": "%{customdata}<br>%{value:,} journeys<extra></extra>",
              "color": [labels.colour(k[1]) for k in nodes], "line": {"width": 0}},
        link={"source": [index[s] for s, _ in links], "target": [index[t] for _, t in links],
              "value": list(links.values()),
              "color": [_rgba(labels.colour(s[1] if s[1] != "(start)" else t[1]), 0.35) for s, t in links]},
    ))
    # column captions under the node centres (a node's left edge sits at x * (width - thickness))
    captions = [(column[layer] / (n_columns - 1), "start" if layer == 0 else f"step {layer}") for layer in layers]
    for cx, text in [*captions, (1.0, "outcome")]:
        fig.add_annotation(x=cx, y=-0.04, xref="paper", yref="paper", xanchor="center", showarrow=False,
                           xshift=8 - 16 * cx, text=text, font={"color": "#6b7280"})
    for key in nodes:  # outcome labels to the right of their nodes, clear of the last step's labels
        if key[0] == 99:
            fig.add_annotation(x=1, y=1 - y[key], xref="paper", yref="paper", xanchor="left", xshift=6,
                               showarrow=False, align="left", font={"color": labels.colour(key[1])},
                               text=f"<b>{pretty(key[1])}</b><br>{outcomes[key[1]]:,} journeys<br>"
                                    f"{fmt_pct(outcomes[key[1]] / n_journeys)}")
    return _chart(_layout(fig, f"Touchpoint paths of {n_journeys:,} journeys (first {SANKEY_MAX_STEPS} steps)",
                          620, margin={"l": 20, "r": 110, "t": 60, "b": 40}), "chart-sankey")


def _transitions(wh: Warehouse, labels: Labels) -> list[dict[str, str]] | None:
    rows = wh.rows("transitions")
    if rows is None:
        return None
    return [{"from": labels.touchpoint(r["from_touchpoint"]), "to": labels.touchpoint(r["to_touchpoint"]),
             "from_colour": labels.colour(r["from_touchpoint"]), "to_colour": labels.colour(r["to_touchpoint"]),
             "n": fmt_int(r["n"]), "probability": fmt_pct(r["probability"]),
             "median": fmt_duration(r["median_seconds"])} for r in rows]


def _funnel_charts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One stacked bar chart per funnel (overall rows) and a table of its breakdowns."""
    out = []
    by_funnel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_funnel[r["funnel"]].append(r)
    for number, (funnel, funnel_rows) in enumerate(by_funnel.items()):
        steps = _overall(funnel_rows)
        if not steps:
            out.append({"name": funnel, "chart": None, "breakdowns": []})
            continue
        last = steps[-1]["step_index"]
        x = [f"{s['step_index']}. {pretty(str(s['step_name']))}" for s in steps]
        segments = {"went on": [], "still in window": [], "dropped": [], "completed": []}
        for s in steps:
            done = s["step_index"] == last
            entered = s["entered"] or 0
            dropped = 0 if done else (s["dropped"] or 0)
            waiting = 0 if done else (s["in_window"] or 0)
            segments["completed"].append(entered if done else 0)
            segments["dropped"].append(dropped)
            segments["still in window"].append(waiting)
            segments["went on"].append(0 if done else (s["reached_next"] if s["reached_next"] is not None
                                                        else entered - dropped - waiting))
        fig = go.Figure()
        for name, values in segments.items():
            fig.add_bar(x=x, y=values, name=name, marker_color=SEGMENT_COLOURS[name],
                        hovertemplate="%{x}<br>" + name + ": %{y:,} customers<extra></extra>")
        for s, label in zip(steps, x, strict=True):
            fig.add_annotation(x=label, y=s["entered"] or 0, yshift=14, showarrow=False,
                               text=f"<b>{fmt_int(s['entered'])}</b> · {fmt_pct(s['conversion_from_start'])} of start",
                               font={"size": 11})
        _layout(fig, f"{pretty(funnel)}: customers per step", 380, barmode="stack",
                yaxis={"title": "customers"}, showlegend=True)
        out.append({"name": funnel, "label": pretty(funnel),
                    "chart": _chart(fig, f"chart-funnel-{number}"),
                    "breakdowns": _funnel_breakdowns(funnel_rows, last)})
    return out


def _funnel_breakdowns(rows: list[dict[str, Any]], last: int) -> list[dict[str, Any]]:
    """Per breakdown value: starters, completers, overall conversion and the worst step."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if (r["breakdown"] or "").lower() in OVERALL_BREAKDOWNS or str(r["breakdown_value"]).lower() == ALL:
            continue
        groups[(r["breakdown"], str(r["breakdown_value"]))].append(r)
    table = []
    for (breakdown, value), steps in groups.items():
        first = min(steps, key=lambda s: s["step_index"])
        final = [s for s in steps if s["step_index"] == last]
        completed = final[0]["entered"] if final else 0
        inner = [s for s in steps if s["step_index"] < last and s["dropoff_rate"] is not None]
        worst = max(inner, key=lambda s: s["dropoff_rate"], default=None)
        table.append({
            "breakdown": pretty(str(breakdown)), "entered_n": first["entered"] or 0,
            "value": pretty(value) if breakdown == "persona" else value,
            "entered": fmt_int(first["entered"]), "completed": fmt_int(completed),
            "rate": (completed / first["entered"]) if first["entered"] else None,
            "worst": (f"{pretty(str(worst['step_name']))} ({fmt_pct(worst['dropoff_rate'])} drop)"
                      if worst else "–"),
        })
    table.sort(key=lambda t: (t["breakdown"], -t["entered_n"]))
    kept, per_breakdown = [], defaultdict(int)
    for t in table:
        per_breakdown[t["breakdown"]] += 1
        if per_breakdown[t["breakdown"]] <= 8:
            kept.append(t)
    rates = [t["rate"] for t in kept if t["rate"] is not None]
    low = min(rates, default=None)
    for t in kept:
        t["is_low"] = t["rate"] is not None and t["rate"] == low and len(rates) > 1
        t["rate"] = fmt_pct(t["rate"])
    return kept


def _first_day(wh: Warehouse) -> date | None:
    rows = wh.rows("data_period")
    return rows[0]["first_day"] if rows else None


def _partial_first_week(points: list[dict[str, Any]], first_day: date | None) -> list[dict[str, Any]]:
    """The weeks to draw: a first week that starts before the data does (a partial week, a few
    entrants and a spike) is left out; the chart says so."""
    if first_day is None:
        return points
    return [p for p in points if p["period_start"] >= first_day]


def _weekly_axes(fig: go.Figure, weeks: list[date], incomplete: list[date], first_day: date | None,
                 dropped_partial: bool) -> None:
    """Monday ticks, one a week (every other on long ranges); the shaded band covers the
    incomplete weeks only, from the first incomplete Monday to the end of the last week."""
    if weeks:
        first = min(weeks)
        monday = first - timedelta(days=first.weekday())
        step = 7 if len(set(weeks)) <= 14 else 14
        fig.update_xaxes(tick0=monday.isoformat(), dtick=step * 86_400_000, tickformat="%-d %b",
                         range=[(min(weeks) - timedelta(days=3)).isoformat(),
                                (max(weeks) + timedelta(days=4)).isoformat()])
    if incomplete:
        fig.add_vrect(x0=(min(incomplete) - timedelta(days=0.5)).isoformat(),
                      x1=(max(incomplete) + timedelta(days=4)).isoformat(),
                      fillcolor="#fde68a", opacity=0.35, line_width=0,
                      annotation_text="incomplete: window still open", annotation_position="top right")
    if dropped_partial and first_day is not None:
        fig.add_annotation(x=0, y=-0.22, xref="paper", yref="paper", xanchor="left", showarrow=False,
                           font={"color": "#6b7280", "size": 11},
                           text=f"The first week is left out: the data starts on {fmt_date(first_day)}, "
                                "after its Monday (a partial week).")


def _trend_chart(wh: Warehouse) -> Markup | None:
    """Conversion rate by week of entry per funnel; weeks whose window is still open are drawn
    hollow and dotted, inside a shaded band that covers those weeks only."""
    rows = wh.rows("trends")
    if rows is None:
        return None
    if "breakdown_value" in rows[0]:
        rows = [r for r in rows if str(r["breakdown_value"]).lower() == ALL] or rows
    first_day = _first_day(wh)
    kept = _partial_first_week(rows, first_day)
    dropped_partial = len(kept) < len(rows)
    rows = kept or rows
    fig = go.Figure()
    by_funnel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_funnel[r["funnel"]].append(r)
    # the band: weeks still open in every funnel drawn; a funnel with a longer window shows
    # its own open weeks as a dotted line, so the band never spans the whole chart for it
    open_sets = [{p["period_start"] for p in points if not p["period_complete"]} for points in by_funnel.values()]
    incomplete = sorted(set.intersection(*open_sets)) if open_sets else []
    for i, (funnel, points) in enumerate(by_funnel.items()):
        colour = FUNNEL_COLOURS[i % len(FUNNEL_COLOURS)]
        complete = [p for p in points if p["period_complete"]]
        open_ = [p for p in points if not p["period_complete"]]
        bridge = complete[-1:] + open_ if open_ else []
        hover = ("week of %{x|%-d %b %Y}: %{y:.1f}% converted<br>%{customdata[0]:,} entered, "
                 "%{customdata[1]:,} converted%{customdata[2]}<extra>" + pretty(funnel) + "</extra>")
        for part, dash, symbol, show in ((complete, "solid", "circle", True),
                                         (bridge, "dot", "circle-open", not complete)):
            if not part:
                continue
            fig.add_scatter(
                x=[p["period_start"] for p in part],
                y=[100 * (p["conversion_rate"] or 0) for p in part],
                customdata=[[p["entered"], p["converted"],
                             "" if p["period_complete"] else " (incomplete week)"] for p in part],
                mode="lines+markers", name=pretty(funnel), legendgroup=funnel, showlegend=show,
                line={"color": colour, "dash": dash, "width": 2.5},
                marker={"symbol": symbol, "size": 8, "color": colour}, hovertemplate=hover,
            )
    _layout(fig, "Funnel conversion rate by week of entry", 420,
            yaxis={"title": "converted (% of entrants)", "rangemode": "tozero", "ticksuffix": "%"},
            xaxis={"title": "week of entry (ticks on Mondays, UTC)"}, margin={"l": 60, "r": 30, "t": 60, "b": 90})
    _weekly_axes(fig, [r["period_start"] for r in rows], incomplete, first_day, dropped_partial)
    return _chart(fig, "chart-trends")


def _step_trend_charts(wh: Warehouse, labels: Labels) -> list[dict[str, Any]]:
    """Per funnel, a line per step-to-step conversion by week (marts.funnel_step_trends, breakdown
    value 'all'), so a change in one step shows where the whole-funnel trend hides it."""
    rows = wh.rows("step_trends") or []
    first_day = _first_day(wh)
    by_funnel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_funnel[r["funnel"]].append(r)
    out = []
    for number, (funnel, points) in enumerate(by_funnel.items()):
        kept = _partial_first_week(points, first_day)
        dropped_partial = len(kept) < len(points)
        points = kept or points
        fig = go.Figure()
        lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in points:
            lines[r["step_index"]].append(r)
        for i, (_step, line) in enumerate(sorted(lines.items())):
            colour = FUNNEL_COLOURS[i % len(FUNNEL_COLOURS)]
            name = f"{labels.step(str(line[0]['from_step']))} → {labels.step(str(line[0]['to_step']))}"
            fig.add_scatter(
                x=[p["period_start"] for p in line],
                y=[None if p["rate"] is None else 100 * float(p["rate"]) for p in line],
                customdata=[[p["entered_from"], p["entered_to"], "" if p["period_complete"] else " (incomplete week)"]
                            for p in line],
                mode="lines+markers", name=name, line={"color": colour, "width": 2.5},
                marker={"size": 7, "color": colour,
                        "symbol": ["circle" if p["period_complete"] else "circle-open" for p in line]},
                hovertemplate=("week of %{x|%-d %b %Y}: %{y:.1f}% went on<br>%{customdata[1]:,} of "
                               "%{customdata[0]:,}%{customdata[2]}<extra>" + name + "</extra>"))
        _layout(fig, f"{pretty(funnel)}: share going on to the next step, by week", 400, showlegend=True,
                yaxis={"title": "went on (% of the step)", "rangemode": "tozero", "ticksuffix": "%"},
                xaxis={"title": "week the attempt started (ticks on Mondays, UTC)"}, margin={"l": 60, "r": 30, "t": 60, "b": 90})
        _weekly_axes(fig, [p["period_start"] for p in points],
                     [p["period_start"] for p in points if not p["period_complete"]], first_day, dropped_partial)
        out.append({"name": funnel, "label": pretty(funnel), "chart": _chart(fig, f"chart-step-trend-{number}")})
    return out


def _sessions_chart(wh: Warehouse) -> Markup | None:
    rows = wh.rows("sessions_weeks")
    if rows is None:
        return None
    first_day = _first_day(wh)
    kept = _partial_first_week(rows, first_day)
    fig = go.Figure()
    fig.add_bar(x=[r["period_start"] for r in kept], y=[r["n_sessions"] for r in kept], name="sessions",
                marker_color="#93c5fd", hovertemplate="week of %{x|%-d %b %Y}: %{y:,} sessions<extra></extra>")
    fig.add_scatter(x=[r["period_start"] for r in kept], y=[100 * float(r["conversion_rate"] or 0) for r in kept],
                    yaxis="y2", mode="lines+markers", name="converted", line={"color": "#16a34a", "width": 2.5},
                    hovertemplate="week of %{x|%-d %b %Y}: %{y:.1f}% of sessions converted<extra></extra>")
    _layout(fig, "Sessions per week and the share that converted", 360, showlegend=True,
            yaxis={"title": "sessions"}, margin={"l": 60, "r": 30, "t": 60, "b": 90},
            yaxis2={"title": "converted", "overlaying": "y", "side": "right", "ticksuffix": "%", "tickformat": ".0f",
                    "rangemode": "tozero", "showgrid": False})
    _weekly_axes(fig, [r["period_start"] for r in kept], [], first_day, len(kept) < len(rows))
    return _chart(fig, "chart-sessions")


def _sessions_entries(wh: Warehouse, labels: Labels) -> list[dict[str, Any]] | None:
    rows = wh.rows("sessions_entry")
    if rows is None:
        return None
    return [{"label": labels.touchpoint(str(r["entry_touchpoint"])), "colour": labels.colour(str(r["entry_touchpoint"])),
             "sessions": fmt_int(r["n_sessions"]), "customers": fmt_int(r["n_customers"]),
             "events": f"{float(r['avg_events'] or 0):.1f}", "duration": fmt_duration(r["median_seconds"]),
             "bounce": fmt_pct(r["bounce_rate"]), "converted": fmt_pct(r["conversion_rate"]),
             "landing": r["top_landing_page"] or "–"} for r in rows]


def _lifecycle_chart(wh: Warehouse) -> Markup | None:
    """PostHog's lifecycle: new, returning and resurrecting customers stacked above the axis,
    dormant below, per week (persona 'all')."""
    rows = wh.rows("lifecycle_weeks")
    if rows is None:
        return None
    fig = go.Figure()
    for key, name, colour in (("n_new", "new", "#2563eb"), ("n_returning", "returning", "#16a34a"),
                              ("n_resurrecting", "resurrecting", "#f59e0b"), ("n_dormant", "dormant", "#dc2626")):
        fig.add_bar(x=[r["period_start"] for r in rows], y=[r[key] or 0 for r in rows], name=name,
                    marker_color=colour, hovertemplate="week of %{x|%-d %b %Y}: %{y:,} " + name + "<extra></extra>")
    _layout(fig, "Customers per week by lifecycle status (dormant below the axis)", 380, barmode="relative",
            showlegend=True, yaxis={"title": "customers"})
    _weekly_axes(fig, [r["period_start"] for r in rows], [], None, False)
    return _chart(fig, "chart-lifecycle")


def _retention_table(wh: Warehouse) -> dict[str, Any] | None:
    """The retention triangle: a row per cohort week, a column per week since, each cell the
    share of the cohort that came back, shaded by it (incomplete cells marked)."""
    rows = wh.rows("retention_triangle")
    if rows is None:
        return None
    periods = sorted({r["period"] for r in rows})
    cohorts: dict[date, dict[int, dict[str, Any]]] = defaultdict(dict)
    sizes: dict[date, int] = {}
    for r in rows:
        cohorts[r["cohort"]][r["period"]] = r
        sizes[r["cohort"]] = max(sizes.get(r["cohort"], 0), r["n_customers"] or 0)
    table = []
    for cohort in sorted(cohorts):
        cells = []
        for period in periods:
            r = cohorts[cohort].get(period)
            if r is None:
                cells.append(None)
                continue
            rate = float(r["rate"] or 0)
            cells.append({"rate": fmt_pct(rate), "n": fmt_int(r["n_retained"]), "complete": r["period_complete"],
                          "style": f"background:{_rgba('#2563eb', 0.06 + 0.8 * rate)};"
                                   f"color:{'#fff' if rate > 0.55 else '#111827'}"})
        table.append({"cohort": fmt_date(cohort), "size": fmt_int(sizes[cohort]), "cells": cells})
    return {"periods": periods, "rows": table}


def _design_maps(wh: Warehouse, labels: Labels, phases: list[str]) -> list[dict[str, Any]]:
    """Per design, the designed steps (future state) beside what the design's journeys do
    (current state), and its top gaps with their sentences."""
    steps = wh.rows("design_map") or []
    gaps = wh.rows("design_top_gaps") or []
    out: dict[str, dict[str, Any]] = {}
    for r in steps:
        d = out.setdefault(r["design"], {
            "name": r["design"], "label": labels.design(r["design"]), "persona": labels.persona(str(r["persona"])),
            "description": r["description"], "journeys": fmt_int(r["n_journeys"]),
            "customers": fmt_int(r["n_customers"]), "fitness": fmt_pct(r["avg_fitness"]),
            "fitting": fmt_pct(r["share_fitting"]), "conversion": fmt_pct(r["conversion_rate"]),
            "steps": [], "gaps": []})
        reach = r["share_reaching"]
        d["steps"].append({
            "index": r["step"], "name": labels.step(str(r["step_name"])), "optional": r["is_optional"],
            "repeatable": r["is_repeatable"], "target": fmt_duration(r["target_seconds"]) if r["target_seconds"] else None,
            "reaching": "optional" if reach is None else fmt_pct(reach),
            "reach_class": "" if reach is None else "bad" if reach < 0.6 else "warn" if reach < 0.85 else "good",
            "skipping": fmt_int(r["n_journeys_skipping"]), "stalling": fmt_int(r["n_journeys_stalling"]),
            "has_skips": bool(r["n_journeys_skipping"]), "has_stalls": bool(r["n_journeys_stalling"])})
    for g in gaps:
        d = out.get(g["design"])
        if d is None:
            continue
        location = str(g["location"])
        place = labels.touchpoint(location) if g["kind"] == "unplanned_touchpoint" else labels.step(location)
        d["gaps"].append({
            "rank": g["rank"], "kind": labels.kind(g["kind"]), "where": place,
            "customers": fmt_int(g["n_customers"]), "share": fmt_pct(g["share_of_customers"]),
            "deviating": fmt_pct(g["conversion_rate_deviating"]), "following": fmt_pct(g["conversion_rate_following"]),
            "time_deviating": fmt_duration(g["median_seconds_to_convert_deviating"]),
            "time_following": fmt_duration(g["median_seconds_to_convert_following"]),
            "sentence": str(g["label"]).replace(f"{g['design']}:", f"{labels.design(g['design'])}:", 1)
                        .replace(f"'{location}'", f"'{place}'").replace(f" {location},", f" {place},")})
    return list(out.values())


def _attribution_chart(wh: Warehouse, labels: Labels) -> Markup | None:
    """Share of conversion credit per touchpoint under each model, side by side."""
    rows = wh.rows("attribution")
    if rows is None:
        return None
    models = [m for m in ATTRIBUTION_MODELS if any(r["model"] == m for r in rows)]
    models += sorted({r["model"] for r in rows} - set(models))
    mean_share: dict[str, float] = defaultdict(float)
    for r in rows:
        mean_share[r["touchpoint"]] += float(r["share"] or 0) / len(models)
    touchpoints = [t for t, s in sorted(mean_share.items(), key=lambda kv: -kv[1]) if s > 0] or list(mean_share)
    cell = {(r["model"], r["touchpoint"]): r for r in rows}
    fig = go.Figure()
    for i, model in enumerate(models):
        data = [cell.get((model, t), {}) for t in touchpoints]
        fig.add_bar(
            x=[labels.touchpoint(t) for t in touchpoints],
            y=[100 * float(d.get("share") or 0) for d in data],
            customdata=[[float(d.get("conversions") or 0), float(d.get("revenue") or 0)] for d in data],
            name=pretty(model), marker_color=MODEL_COLOURS.get(model, PALETTE[i % len(PALETTE)]),
            hovertemplate=("%{x} · " + pretty(model) + ": %{y:.1f}% of conversions<br>"
                           "%{customdata[0]:,.1f} conversions, %{customdata[1]:,.0f} revenue<extra></extra>"),
        )
    _layout(fig, "Share of conversions credited to each touchpoint, by attribution model", 440,
            barmode="group", yaxis={"title": "share of conversions (%)", "ticksuffix": "%"},
            bargap=0.2, bargroupgap=0.05)
    return _chart(fig, "chart-attribution")


def _health(wh: Warehouse, labels: Labels, phases: list[str], pains: list[dict[str, Any]]
            ) -> list[dict[str, Any]] | None:
    """Every touchpoint x phase cell in phase order (busiest first), pain points tagged."""
    rows = wh.rows("health")
    if rows is None:
        return None
    order = {p: i for i, p in enumerate(phases)}
    rows = sorted(rows, key=lambda r: (order.get(r["phase"], len(order)), -(r["n_customers"] or 0), r["touchpoint"]))
    flagged: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in pains:
        flagged[(p["touchpoint"], p["phase"])].append(f"#{p['rank']} {labels.kind(str(p['kind']))}")
    worst_exit = max((r["exit_rate"] or 0 for r in rows), default=0)
    return [{"touchpoint": labels.touchpoint(r["touchpoint"]), "colour": labels.colour(r["touchpoint"]),
             "phase": labels.phase(r["phase"]), "events": fmt_int(r["n_events"]),
             "customers": fmt_int(r["n_customers"]), "exit_rate": fmt_pct(r["exit_rate"]),
             "exit_bar": round(100 * (r["exit_rate"] or 0) / worst_exit) if worst_exit else 0,
             "sentiment": fmt_sentiment(r["avg_sentiment"]),
             "sentiment_class": ("neg" if (r["avg_sentiment"] or 0) < -0.05 else
                                 "pos" if (r["avg_sentiment"] or 0) > 0.05 else ""),
             "negative_share": fmt_pct(r["negative_share"]),
             "csat": "–" if r["avg_csat"] is None else f"{float(r['avg_csat']):.1f} / 5",
             "pains": flagged.get((r["touchpoint"], r["phase"]), [])} for r in rows]


# --------------------------------------------------------------------------- page


TEMPLATE = "report.html.j2"


def environment(labels: Labels) -> jinja2.Environment:
    """The report's Jinja environment: the formatting functions as filters (`|fmt_int`,
    `|fmt_pct`, `|fmt_money`, `|fmt_sentiment`, `|fmt_duration`, `|fmt_date`, `|pretty`, and the
    configured labels `|touchpoint_label`, `|phase_label`, `|colour`) and `line_chart` as a
    global, so a template block can lay out a query's rows without Python of its own."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt_int=fmt_int, fmt_pct=fmt_pct, fmt_money=fmt_money, fmt_sentiment=fmt_sentiment,
                       fmt_duration=fmt_duration, fmt_date=fmt_date, pretty=pretty,
                       touchpoint_label=labels.touchpoint, phase_label=labels.phase, colour=labels.colour,
                       persona_label=labels.persona, design_label=labels.design, kind_label=labels.kind,
                       step_label=labels.step)
    env.globals["line_chart"] = line_chart
    return env


def line_chart(rows: list[dict[str, Any]] | None, x: str, y: str, *, id: str, title: str,  # noqa: A002
               series: str | None = None, y_title: str = "", percent: bool = False,
               height: int = 400) -> Markup | None:
    """A line per value of `series` (one line without it) of `y` against `x`, from a query's
    rows; `percent` draws ratios as percentages. None when there are no rows, so a template
    shows its note instead: `{{ line_chart(data.step_trends, "period_start", "rate", ...) }}`."""
    if not rows:
        return None
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        lines[str(r[series]) if series else y].append(r)
    fig = go.Figure()
    scale = 100 if percent else 1
    for i, (name, points) in enumerate(lines.items()):
        colour = FUNNEL_COLOURS[i % len(FUNNEL_COLOURS)]
        fig.add_scatter(x=[p[x] for p in points],
                        y=[None if p[y] is None else scale * float(p[y]) for p in points],
                        mode="lines+markers", name=pretty(name), line={"color": colour, "width": 2.5},
                        marker={"size": 7, "color": colour})
    _layout(fig, title, height, showlegend=series is not None,
            yaxis={"title": y_title, "rangemode": "tozero", "ticksuffix": "%" if percent else ""})
    return _chart(fig, id)



def build_report(warehouse: Path, out_dir: Path, config_dir: Path | str | None = None) -> Path:
    """Read the published warehouse (read-only) and write ``out_dir/journey-map.html``.

    Input: the analyst DuckDB file with the ``marts`` tables (any of them may be missing or
    empty: the section then says "No data"). Labels (phases, touchpoints, designs) come from the
    config folder `config_dir`, else JOURNEYS_CONFIG_DIR, else the shipped defaults. Output: the
    path of the self-contained HTML page.
    """
    warehouse, out_dir = Path(warehouse), Path(out_dir)
    if not warehouse.exists():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run `journeys run` first")
    labels = Labels.load(config_dir)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:  # the template may run a query too (`data.<name>`): render while the file is open
        run_sql(con, f"{REPORT_SQL}/session")
        wh = Warehouse(con, labels.params)
        context = _collect(wh, labels) | {
            "data": ReportData(wh),
            "note": wh.note,
            "warehouse": str(warehouse),
            "generated_at": datetime.now(UTC).strftime("%-d %b %Y %H:%M UTC"),
            "plotly_js": Markup(plotly.offline.get_plotlyjs()),
        }
        page = environment(labels).get_template(TEMPLATE).render(**context)
    finally:
        con.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / REPORT_FILE
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def _collect(wh: Warehouse, labels: Labels) -> dict[str, Any]:
    summary = _summary(wh)
    kpis = _persona_kpis(wh)
    phases = _phases(wh, labels)
    grid, actions, emotion = _grid(wh), _actions(wh), _emotion(wh)
    funnel_rows = _funnel_rows(wh)
    pains, late_exits = _pain_points(wh, labels)
    own_pains = _persona_pains(wh, labels)
    emotion_steps = wh.rows("emotion_steps") or []

    personas = [ALL] + sorted((p for p in {*kpis, *(c["persona_key"] for c in grid)} if p != ALL),
                              key=lambda p: (p == "unknown", -(kpis.get(p, {}).get("n_customers") or 0), p))
    phase_funnel = [r for r in funnel_rows if r["funnel"] == "phase_funnel"]
    panels = []
    for persona in personas:
        if persona == ALL:
            persona_funnel = _overall(phase_funnel)
        else:
            persona_funnel = sorted((r for r in phase_funnel if r["breakdown"] == "persona"
                                     and str(r["breakdown_value"]) == persona), key=lambda r: r["step_index"])
        k = kpis.get(persona, {})
        panels.append({
            "key": persona, "id": "persona-" + "".join(c if c.isalnum() else "-" for c in persona),
            "label": labels.persona(persona),
            "kpis": [("customers", fmt_int(k.get("n_customers"))), ("journeys", fmt_int(k.get("n_journeys"))),
                     ("conversions", fmt_int(k.get("n_conversions"))),
                     ("journeys converted", fmt_pct(k.get("conversion_rate"))),
                     ("revenue", fmt_money(k.get("revenue")))],
            "map": _journey_map(persona, phases, grid, actions, emotion, persona_funnel,
                                pains if persona == ALL else own_pains.get(persona, []),
                                labels, emotion_steps),
            "own_pains": persona != ALL,
        })

    n_events = summary.get("n_events") or 0
    return {
        "summary": {
            "period": f"{fmt_date(summary.get('first_at'))} – {fmt_date(summary.get('last_at'))}",
            "days": ((summary["last_at"] - summary["first_at"]).days + 1
                     if summary.get("first_at") and summary.get("last_at") else None),
            "kpis": [("customers", fmt_int(summary.get("n_customers"))),
                     ("journeys", fmt_int(summary.get("n_journeys"))),
                     ("conversions", fmt_int(summary.get("n_conversions"))),
                     ("revenue", fmt_money(summary.get("revenue"))),
                     ("events", fmt_int(summary.get("n_events")))],
            "unclassified": (fmt_pct(summary["n_unclassified"] / n_events)
                             if n_events and summary.get("n_unclassified") else None),
        },
        "panels": panels,
        "limits": {"top_actions": TOP_ACTIONS, "sankey_touchpoints": SANKEY_MAX_TOUCHPOINTS,
                   "sankey_steps": SANKEY_MAX_STEPS, "sankey_min_share": fmt_pct(SANKEY_MIN_SHARE)},
        "phases_note": None if phases else wh.note("phases"),
        "pain_points": [{**p, "touchpoint_label": labels.touchpoint(str(p["touchpoint"])),
                         "phase_label": labels.phase(str(p["phase"])),
                         "colour": labels.colour(str(p["touchpoint"])),
                         "kind_label": labels.kind(str(p["kind"])),
                         "n_customers_fmt": fmt_int(p.get("n_customers")),
                         "rate_fmt": fmt_pct(p.get("rate")), "baseline_fmt": fmt_pct(p.get("baseline_rate"))}
                        for p in pains],
        "pain_note": wh.note("pain_points"),
        "late_exits": [{"where": f"{labels.touchpoint(str(p['touchpoint']))} · {labels.phase(str(p['phase']))}",
                        "rate": fmt_pct(p.get("rate")), "customers": fmt_int(p.get("n_customers"))}
                       for p in late_exits],
        "post_conversion_note": POST_CONVERSION_NOTE,
        "config_problem": labels.problem,
        "sankey": _sankey(wh, labels), "sankey_note": wh.note("sankey"),
        "transitions": _transitions(wh, labels), "transitions_note": wh.note("transitions"),
        "funnels": _funnel_charts(funnel_rows), "funnels_note": wh.note("funnels"),
        "trends": _trend_chart(wh), "trends_note": wh.note("trends"),
        "step_trends": _step_trend_charts(wh, labels), "step_trends_note": wh.note("step_trends"),
        "sessions_chart": _sessions_chart(wh), "sessions_entries": _sessions_entries(wh, labels),
        "lifecycle": _lifecycle_chart(wh), "retention": _retention_table(wh),
        "designs": _design_maps(wh, labels, phases),
        "attribution": _attribution_chart(wh, labels), "attribution_note": wh.note("attribution"),
        "health": _health(wh, labels, phases, pains), "health_note": wh.note("health"),
    }
