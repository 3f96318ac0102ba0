"""The journey-map report on a small synthetic warehouse: every section, its numbers, a page
that needs no network, and "No data" instead of a crash when marts are missing or empty."""

from __future__ import annotations

import ast
import random
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import jinja2
import pytest

from transforms.report import (
    REPORT_FILE,
    Labels,
    ReportData,
    Warehouse,
    build_report,
    environment,
    fmt_int,
    fmt_money,
    opportunity,
    reads,
    report_queries,
)
from transforms.warehouse import run_sql

PHASES = ["awareness", "interest", "comparison", "purchase", "usage"]
PHASE_TOUCHPOINTS = {
    "awareness": ["paid_search", "organic_social", "referral", "display"],
    "interest": ["website", "email", "mobile_app", "crm"],
    "comparison": ["website", "mobile_app", "live_chat"],
    "purchase": ["website", "mobile_app", "in_store"],
    "usage": ["support_email", "call_center", "email"],
}
PHASE_EVENTS = {
    "awareness": ["page", "Ad Clicked"],
    "interest": ["Product Viewed", "page", "email_opened", "lead_created"],
    "comparison": ["Product Added", "Checkout Started", "chat_started"],
    "purchase": ["Payment Info Entered", "Order Completed"],
    "usage": ["ticket_created", "comment", "satisfaction_rated"],
}
PERSONAS = ["consumer", "small_business", "enterprise_buyer", "unknown"]
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley"]
START = datetime(2025, 3, 1)

PAIN_LABEL = "Mobile app in Purchase: 48% of customers leave here, 3.1x the 15% baseline"


def _collapse(steps: list[str]) -> list[str]:
    return [s for i, s in enumerate(steps) if i == 0 or s != steps[i - 1]]


def build_synthetic_warehouse(path: Path, n_customers: int = 60, seed: int = 7) -> dict:
    """Write a DuckDB file with every marts table of DESIGN.md filled with plausible rows;
    returns the headline numbers the report must show."""
    rng = random.Random(seed)
    events, journeys, customers = [], [], []
    for c in range(n_customers):
        customer_id = f"c{c:04d}"
        persona = PERSONAS[c % len(PERSONAS)]
        at = START + timedelta(hours=rng.randint(0, 24 * 40))
        n_journeys = 1 + (c % 3 == 0)
        stats = {"n_events": 0, "n_conversions": 0, "revenue": 0.0, "first": at, "last": at}
        for j in range(1, n_journeys + 1):
            journey_id = f"{customer_id}-{j:03d}"
            last_phase = rng.choice([1, 2, 2, 3, 3, 4, 4, 4, 5])
            rows = []
            for phase_order, phase in enumerate(PHASES[:last_phase], start=1):
                for _ in range(rng.randint(1, 3)):
                    touchpoint = rng.choice(PHASE_TOUCHPOINTS[phase])
                    name = rng.choice(PHASE_EVENTS[phase])
                    if phase == "purchase":
                        name = "Payment Info Entered"
                    sentiment = None
                    if phase == "usage":
                        sentiment = round(rng.uniform(-0.9, 0.3), 3)
                    elif phase == "comparison" and touchpoint == "live_chat":
                        sentiment = round(rng.uniform(-0.2, 0.8), 3)
                    at += timedelta(minutes=rng.randint(5, 600))
                    rows.append([phase, phase_order, touchpoint, name, sentiment, at, False, None])
            if rng.random() < 0.1:  # an unclassified event
                at += timedelta(minutes=1)
                rows.append(["unclassified", None, "unclassified", "identify", None, at, False, None])
            converted = last_phase >= 4 and rng.random() < 0.6
            if converted:  # the conversion ends the journey
                at += timedelta(minutes=3)
                revenue = float(rng.choice([49, 99, 250, 1200]))
                rows.append(["purchase", 4, "website", "Order Completed", None, at, True, revenue])
            for step, (phase, order, tp, name, sent, when, conv, rev) in enumerate(rows, start=1):
                events.append({
                    "event_id": f"clickstream:{customer_id}-{j}-{step}", "customer_id": customer_id,
                    "occurred_at": when, "source": "clickstream", "source_rank": 1, "event_name": name,
                    "touchpoint": tp, "channel_group": None if tp == "unclassified" else "owned",
                    "stage": None if tp == "unclassified" else ("back" if tp == "crm" else "front"),
                    "phase": phase, "phase_order": order,
                    "rule_id": None if tp == "unclassified" else "synthetic", "is_conversion": conv,
                    "revenue": rev, "sentiment": sent, "persona": persona, "journey_id": journey_id,
                    "journey_number": j, "step_index": step,
                })
            classified = [r for r in rows if r[2] != "unclassified"]
            tp_path = _collapse([r[2] for r in classified]) or ["unclassified"]
            ph_path = _collapse([r[0] for r in classified]) or ["unclassified"]
            journeys.append({
                "journey_id": journey_id, "customer_id": customer_id, "persona": persona,
                "journey_number": j, "started_at": rows[0][5], "ended_at": rows[-1][5],
                "converted": converted, "converted_at": rows[-1][5] if converted else None,
                "revenue": rows[-1][7] if converted else None, "n_events": len(rows),
                "phase_path": " > ".join(ph_path), "touchpoint_path": " > ".join(tp_path),
                "first_touchpoint": tp_path[0], "last_touchpoint": tp_path[-1],
                "duration_seconds": (rows[-1][5] - rows[0][5]).total_seconds(),
            })
            stats["n_events"] += len(rows)
            stats["n_conversions"] += converted
            stats["revenue"] += rows[-1][7] if converted else 0.0
            stats["last"] = at
            at += timedelta(days=rng.randint(1, 10))
        customers.append({
            "customer_id": customer_id, "persona": persona, "first_seen_at": stats["first"],
            "last_seen_at": stats["last"], "n_events": stats["n_events"], "n_journeys": n_journeys,
            "n_conversions": stats["n_conversions"], "revenue": stats["revenue"],
        })

    # touchpoint transitions from the collapsed paths
    transitions: Counter = Counter()
    for jr in journeys:
        steps = ["(start)", *jr["touchpoint_path"].split(" > "),
                "(conversion)" if jr["converted"] else "(exit)"]
        transitions.update(zip(steps, steps[1:], strict=False))
    out_of: Counter = Counter()
    for (a, _), n in transitions.items():
        out_of[a] += n
    transition_rows = [{"from_touchpoint": a, "to_touchpoint": b, "n": n, "probability": n / out_of[a],
                        "median_seconds": None if a == "(start)" or b == "(exit)" else 3600.0 * (1 + n % 5)}
                       for (a, b), n in transitions.items()]

    # phase funnel: furthest phase per customer, overall and by persona
    furthest: dict[str, int] = defaultdict(int)
    persona_of = {c["customer_id"]: c["persona"] for c in customers}
    for e in events:
        if e["phase_order"] and e["phase_order"] <= 4:
            furthest[e["customer_id"]] = max(furthest[e["customer_id"]], e["phase_order"])
    funnel_rows = []

    def add_funnel(funnel: str, step_names: list[str], breakdown: str, value: str, reach: list[int]) -> None:
        for i, name in enumerate(step_names, start=1):
            entered = sum(1 for r in reach if r >= i)
            nxt = sum(1 for r in reach if r >= i + 1) if i < len(step_names) else None
            in_window = 0 if nxt is None else min(1, entered - nxt)
            dropped = 0 if nxt is None else entered - nxt - in_window
            start = sum(1 for r in reach if r >= 1)
            funnel_rows.append({
                "funnel": funnel, "breakdown": breakdown, "breakdown_value": value, "step_index": i,
                "step_name": name, "entered": entered, "reached_next": nxt, "dropped": dropped,
                "in_window": in_window, "dropoff_rate": None if nxt is None or not entered else dropped / entered,
                "conversion_from_start": entered / start if start else None,
                "median_seconds_to_next": None if nxt is None else 7200.0 * i, "p90_seconds_to_next": None,
            })

    add_funnel("phase_funnel", PHASES[:4], "all", "all", list(furthest.values()))
    for persona in PERSONAS:
        add_funnel("phase_funnel", PHASES[:4], "persona", persona,
                   [v for k, v in furthest.items() if persona_of[k] == persona])
    checkout = ["Product Viewed", "Product Added", "Checkout Started", "Payment Info Entered", "Order Completed"]
    add_funnel("checkout", checkout, "all", "all", [5] * 12 + [4] * 10 + [3] * 8 + [2] * 6 + [1] * 9)
    add_funnel("checkout", checkout, "device", "web", [5] * 10 + [4] * 2 + [3] * 3 + [1] * 5)
    add_funnel("checkout", checkout, "device", "ios", [5] * 2 + [4] * 8 + [3] * 5 + [2] * 6 + [1] * 4)

    trend_rows = []
    for f, base in (("phase_funnel", 0.35), ("checkout", 0.27)):
        for w in range(9):
            entered = 20 + 3 * w
            rate = base * (0.5 if w == 3 else 1.0) * (0.6 if w == 8 else 1.0)
            trend_rows.append({"funnel": f, "period_start": (START + timedelta(weeks=w)).date(),
                               "entered": entered, "converted": round(entered * rate),
                               "conversion_rate": round(entered * rate) / entered,
                               "period_complete": w < 7})

    attribution_rows = []
    tps = ["paid_search", "referral", "website", "email", "mobile_app", "organic_social"]
    n_conv = sum(j["converted"] for j in journeys)
    total_rev = sum(j["revenue"] or 0 for j in journeys)
    for m_i, model in enumerate(MODELS):
        weights = [(k + 1 + m_i) % 5 + 1 for k in range(len(tps))]
        total = sum(weights)
        for tp, w in zip(tps, weights, strict=True):
            attribution_rows.append({"model": model, "touchpoint": tp, "conversions": n_conv * w / total,
                                     "revenue": total_rev * w / total, "share": w / total})

    health = defaultdict(lambda: {"n_events": 0, "customers": set(), "sent": []})
    for e in events:
        h = health[(e["touchpoint"], e["phase"])]
        h["n_events"] += 1
        h["customers"].add(e["customer_id"])
        if e["sentiment"] is not None:
            h["sent"].append(e["sentiment"])
    health_rows = [{"touchpoint": tp, "phase": ph, "n_events": h["n_events"], "n_customers": len(h["customers"]),
                    "exit_rate": (len(tp) * 7 + len(ph)) % 40 / 100, "avg_sentiment": (sum(h["sent"]) / len(h["sent"])) if h["sent"] else None,
                    "negative_share": (sum(s < 0 for s in h["sent"]) / len(h["sent"])) if h["sent"] else None,
                    "avg_csat": 2.4 if ph == "usage" else None}
                   for (tp, ph), h in health.items()]
    pain_rows = [
        {"rank": 1, "touchpoint": "mobile_app", "phase": "purchase", "kind": "exits", "n_customers": 24,
         "rate": 0.48, "baseline_rate": 0.15, "label": PAIN_LABEL},
        {"rank": 2, "touchpoint": "support_email", "phase": "usage", "kind": "negative sentiment", "n_customers": 17,
         "rate": 0.62, "baseline_rate": 0.2, "label": "Support email in Usage: 62% of scored events are negative"},
        {"rank": 3, "touchpoint": "mobile_app", "phase": "comparison", "kind": "support contact after",
         "n_customers": 11, "rate": 0.3, "baseline_rate": 0.08,
         "label": "Mobile app in Comparison: 30% contact support within 2 days"},
    ]

    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for table, rows in (("journey_events", events), ("journeys", journeys), ("customers", customers),
                        ("touchpoint_transitions", transition_rows), ("funnel_dropoff", funnel_rows),
                        ("funnel_trends", trend_rows), ("attribution", attribution_rows),
                        ("touchpoint_health", health_rows), ("pain_points", pain_rows)):
        _write(con, f"marts.{table}", rows)
    con.close()
    return {
        "n_customers": len(customers), "n_journeys": len(journeys), "n_conversions": n_conv,
        "revenue": total_rev, "first_at": min(e["occurred_at"] for e in events),
        "last_at": max(e["occurred_at"] for e in events),
    }


def _write(con: duckdb.DuckDBPyConnection, relation: str, rows: list[dict]) -> None:
    import pyarrow as pa

    con.register("incoming_rows", pa.Table.from_pylist(rows))
    con.execute(f"create table {relation} as select * from incoming_rows")
    con.unregister("incoming_rows")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("report_wh") / "journeys.duckdb"
    return path, build_synthetic_warehouse(path)


@pytest.fixture(scope="module")
def page(synthetic, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = build_report(synthetic[0], tmp_path_factory.mktemp("report_out"))
    assert out.name == REPORT_FILE
    return out.read_text(encoding="utf-8")


def _text(html_page: str) -> str:
    """The visible text, roughly: the body without scripts and tags."""
    body = html_page.split("<body>", 1)[1]
    body = re.sub(r"<script>.*?</script>", " ", body, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_every_section_is_present(page: str) -> None:
    for section in ("summary", "journey-map", "pain-points", "paths", "funnels", "trends",
                    "attribution", "health"):
        assert f'data-section="{section}"' in page, section
    text = _text(page)
    for heading in ("Customer journey map", "Journey map by persona", "Pain points, ranked",
                    "Touchpoint paths", "Funnels and drop-off", "Funnel trend by week",
                    "Attribution by model", "Touchpoint health"):
        assert heading in text, heading
    assert text.count("How to read this:") >= 7
    assert "No data" not in text


def test_header_shows_period_and_counts(page: str, synthetic) -> None:
    _, numbers = synthetic
    text = _text(page)
    assert numbers["first_at"].strftime("%-d %b %Y") in text
    assert numbers["last_at"].strftime("%-d %b %Y") in text
    for value, key in ((fmt_int(numbers["n_customers"]), "customers"),
                       (fmt_int(numbers["n_journeys"]), "journeys"),
                       (fmt_int(numbers["n_conversions"]), "conversions"),
                       (fmt_money(numbers["revenue"]), "revenue")):
        assert f"{value} {key}" in text, (value, key)
    assert "Generated " in text and " UTC" in text


def test_journey_map_has_personas_phases_and_rows(page: str) -> None:
    text = _text(page)
    for label in ("All customers", "Consumer", "Small business", "Enterprise buyer", "Unknown"):
        assert f">{label}</button>" in page, label
    assert page.count('role="tabpanel"') == 5
    for phase in ("Awareness", "Interest", "Comparison", "Purchase", "Usage"):
        assert phase in text
    assert "Paid search" in text and "Mobile app" in text  # taxonomy labels of touchpoints
    assert "line of visibility" in text  # crm is a back-stage touchpoint
    assert "Payment Info Entered" in text and "Lead created" in text  # top actions, prettified
    assert page.count('<svg class="emotion"') == 5  # one emotion curve per persona
    assert "went on" in text and "dropped (" in text  # phase-funnel drop-off row
    assert "Support email" in text


def test_pain_points_and_opportunities(page: str) -> None:
    text = _text(page)
    assert PAIN_LABEL in text
    assert "Simplify Mobile app in Purchase" in text
    assert "Fix what upsets customers at Support email in Usage" in text
    assert "Prevent the support contacts that follow Mobile app in Comparison" in text
    assert "48% vs 15%" in text
    assert "#1 · exits" in text  # the top pain point in the map's grid
    assert "#1 exits" in text  # and tagged in the touchpoint health table


def test_charts_are_embedded(page: str) -> None:
    for div in ("chart-sankey", "chart-funnel-0", "chart-funnel-1", "chart-trends", "chart-attribution"):
        assert f'id="{div}"' in page, div
    assert '"type":"sankey"' in page
    assert "(conversion)" not in _text(page)  # outcome nodes carry readable labels
    for outcome in ("Conversion", "Exit"):  # outcome nodes get readable labels (JSON escapes < and >)
        assert re.search(r"(<|\\u003c)b(>|\\u003e)" + outcome, page), outcome
    assert "step 1" in page  # Sankey nodes are layered by step
    assert "incomplete: window still open" in page
    for model in ("First touch", "Last touch", "Linear", "Time decay", "Position based", "Markov", "Shapley"):
        assert f'"name":"{model}"' in page, model
    text = _text(page)
    assert "Checkout" in text and "ios" in text and "web" in text  # breakdown table


def test_page_is_self_contained(page: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, flags=re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page, flags=re.I)
    assert not re.search(r"<(img|iframe)[^>]*\bsrc\s*=\s*[\"']?https?:", page, flags=re.I)
    css = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert not re.search(r"@import|url\(", css)
    assert "Plotly.newPlot" in page and len(page) > 3_000_000  # plotly.js is inlined


def test_missing_marts_say_no_data(tmp_path: Path) -> None:
    wh = tmp_path / "journeys.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute("create table marts.customers (customer_id varchar, persona varchar)")
    con.execute("insert into marts.customers values ('c1', 'consumer')")
    con.close()
    text = _text(build_report(wh, tmp_path / "out").read_text(encoding="utf-8"))
    assert "marts.journey_events is not in this warehouse" in text
    assert "marts.pain_points is not in this warehouse" in text
    assert "marts.attribution is not in this warehouse" in text
    assert "marts.funnel_trends is not in this warehouse" in text
    assert "1 customers" in text


def test_empty_marts_say_no_rows(synthetic, tmp_path: Path) -> None:
    wh = tmp_path / "journeys.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("attach $p as src (read_only)", {"p": str(synthetic[0])})
    con.execute("create schema marts")
    for (table,) in con.execute("select table_name from duckdb_tables() where database_name = 'src'").fetchall():
        con.execute(f"create table marts.{table} as select * from src.marts.{table} limit 0")
    con.close()
    text = _text(build_report(wh, tmp_path / "out").read_text(encoding="utf-8"))
    assert "marts.attribution has no rows" in text
    assert "marts.funnel_dropoff has no rows" in text
    assert "marts.journey_events has no rows" in text


def test_a_column_missing_is_reported_not_raised(synthetic, tmp_path: Path) -> None:
    wh = tmp_path / "journeys.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("attach $p as src (read_only)", {"p": str(synthetic[0])})
    con.execute("create schema marts")
    con.execute("create table marts.attribution as select model, touchpoint from src.marts.attribution")
    con.close()
    text = _text(build_report(wh, tmp_path / "out").read_text(encoding="utf-8"))
    assert "marts.attribution could not be read" in text


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="journeys run"):
        build_report(tmp_path / "nope.duckdb", tmp_path / "out")


@pytest.mark.parametrize(("kind", "start"), [
    ("exits", "Simplify"),
    ("negative sentiment", "Fix what upsets"),
    ("negative_sentiment", "Fix what upsets"),
    ("support contact after", "Prevent the support contacts"),
    ("something new", "Investigate"),
])
def test_opportunity_sentence_per_kind(kind: str, start: str) -> None:
    sentence = opportunity({"kind": kind, "touchpoint": "mobile_app", "phase": "purchase",
                            "rate": 0.5, "baseline_rate": 0.1})
    assert sentence.startswith(start)
    assert "Mobile app in Purchase" in sentence and "50% vs 10%" in sentence


# --------------------------------------------------------------------------- queries as files

ROOT = Path(__file__).resolve().parents[2]
SQL_START = re.compile(r"^\s*(select|with|create|insert|delete|update|set|attach|copy|drop)\b", re.I)


def _open(path: Path) -> tuple[duckdb.DuckDBPyConnection, Warehouse]:
    con = duckdb.connect(str(path), read_only=True)
    run_sql(con, "report/session")
    return con, Warehouse(con)


def test_every_report_query_runs_on_a_complete_warehouse(synthetic) -> None:
    con, wh = _open(synthetic[0])
    try:
        assert len(report_queries()) >= 18
        # issue 18's queries (designs, retention, lifecycle) have their own tests until the
        # report shows them and this synthetic warehouse holds their marts
        pending = ("design_", "retention_", "lifecycle_")
        for name in report_queries():
            if not name.startswith(pending):
                assert wh.rows(name), (name, wh.note(name))
        assert wh.notes == {}
        assert con.execute("select current_setting('TimeZone')").fetchone()[0] == "UTC"
    finally:
        con.close()


def test_a_query_names_the_marts_it_reads_in_its_own_sql() -> None:
    assert reads("grid") == ("marts.journey_events",)
    assert reads("summary_customers") == ("marts.customers",)
    assert reads("grid_health") == ("marts.touchpoint_health",)
    assert "warehouse_tables" not in report_queries() and "session" not in report_queries()
    assert reads("warehouse_tables") == ()


def test_a_missing_mart_is_named_in_the_note_of_every_query_reading_it(tmp_path: Path) -> None:
    wh_path = tmp_path / "journeys.duckdb"
    con = duckdb.connect(str(wh_path))
    con.execute("create schema marts")
    con.execute("create table marts.customers (customer_id varchar, persona varchar)")
    con.execute("create table marts.touchpoint_transitions (from_touchpoint varchar, to_touchpoint varchar, "
                "n bigint, probability double, median_seconds double)")
    con.close()
    con, wh = _open(wh_path)
    try:
        assert wh.rows("sankey") is None
        assert wh.note("sankey") == "marts.journeys is not in this warehouse."
        assert wh.note("trends") == "marts.funnel_trends is not in this warehouse."  # runs it first
        assert wh.rows("transitions") is None
        assert wh.note("transitions") == "marts.touchpoint_transitions has no rows."
        assert wh.rows("summary_customers") == [{"n_customers": 0}]
        assert wh.note("summary_customers") == "No data."
    finally:
        con.close()


def test_a_section_is_one_sql_file_and_one_template_block(synthetic) -> None:
    """What a new section's template block does: read a query's rows by name, format them with
    the report's filters and draw them with line_chart, with no Python of its own."""
    block = (
        "{% set rows = data.transitions %}"
        "{% for r in rows %}{{ r.from_touchpoint | touchpoint_label }} to "
        "{{ r.to_touchpoint | touchpoint_label }}: {{ r.n | fmt_int }} ({{ r.probability | fmt_pct }});"
        "{% endfor %}"
        "{{ line_chart(data.trends, 'period_start', 'conversion_rate', series='funnel', "
        "id='chart-new-section', title='A new section', percent=True) }}"
        "{{ line_chart(data.trends[:0], 'period_start', 'conversion_rate', id='chart-empty', title='x') "
        "or note('trends') }}"
    )
    con, wh = _open(synthetic[0])
    try:
        out = environment(Labels()).from_string(block).render(data=ReportData(wh), note=wh.note)
        with pytest.raises(jinja2.UndefinedError):
            environment(Labels()).from_string("{{ data.no_such_query }}").render(data=ReportData(wh))
    finally:
        con.close()
    table = out.split("<div", 1)[0].split(";")[:-1]
    assert len(table) == 12  # the query's limit
    assert all(re.fullmatch(r"[A-Z][\w ]* to [A-Z][\w ]*: \d+ \(\d+(\.\d)?%\)", t) for t in table), table
    assert any(t.startswith("Start to ") for t in table)  # '(start)' through the touchpoint labels
    assert 'id="chart-new-section"' in out and '"type":"scatter"' in out
    assert '"name":"Phase funnel"' in out and '"name":"Checkout"' in out
    assert out.endswith("No data.")  # no rows: the chart gives None, the block shows the note


@pytest.mark.parametrize("path", ["transforms/report.py", "bench/reference.py"])
def test_no_sql_is_written_in_python(path: str) -> None:
    strings = [n.value for n in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8")))
               if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert [s for s in strings if SQL_START.match(s) and " " in s.strip()] == []
