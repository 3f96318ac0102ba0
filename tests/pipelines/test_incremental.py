"""Incremental equals full (issue 16): after each day's nightly run, every published table is
identical to a full rebuild over the same landing zone.

Hypothesis generates short sequences of daily landings over a small cast of people: new events,
late events (a file added to an earlier day's folder, and events dated days back), duplicates
across days (an event id landed again on a later day), an identifier that links two existing
customers on a later day, an anonymous id that crosses the shared-identifier threshold on a later
day, and a profile change. A funnel with a one-day window makes as_of (the newest event) move past
open attempts of customers a day does not touch. Each day is loaded by a real Dagster run that
loads only the changed day folders (the nightly path: only_changed) into one warehouse; a second
warehouse is built from scratch over the same landing zone; bench.golden compares every
published table.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bench.golden import compare
from tests.conftest import run_pipeline
from transforms.config import DEFAULTS_DIR

START = date(2025, 3, 1)
PEOPLE = 4  # person i: anon-i, u-i, person<i>@example.com, crm contact 500+i
EVENTS = ("Product Viewed", "Product Added", "Order Completed", "Signed In")

op = st.one_of(
    st.tuples(st.just("event"), st.integers(0, PEOPLE - 1), st.sampled_from(EVENTS)),
    st.tuples(st.just("late"), st.integers(0, PEOPLE - 1), st.integers(1, 2)),
    st.tuples(st.just("late_file"), st.integers(0, PEOPLE - 1), st.integers(1, 2)),
    st.tuples(st.just("duplicate"), st.integers(0, 50)),
    st.tuples(st.just("link"), st.integers(0, PEOPLE - 1), st.integers(0, PEOPLE - 1)),
    st.tuples(st.just("kiosk"), st.integers(0, PEOPLE - 1)),
    st.tuples(st.just("profile"), st.integers(0, PEOPLE - 1), st.sampled_from(["lead", "customer", "churned"])),
)
days_strategy = st.lists(st.lists(op, min_size=1, max_size=4), min_size=2, max_size=3)


def small_config(root: Path) -> Path:
    """The default configuration with a shared-identifier threshold of 2, so that a third user
    signing in on the kiosk browser makes it shared."""
    cfg = root / "config"
    shutil.copytree(DEFAULTS_DIR, cfg)
    settings_file = cfg / "settings.yaml"
    data = yaml.safe_load(settings_file.read_text())
    data["identity"]["max_linked_identifiers"] = 2
    settings_file.write_text(yaml.safe_dump(data, sort_keys=False))
    return cfg


class Landing:
    """Writes each day's files; remembers the events landed, for duplicates."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.landed: list[dict] = []
        self.n = 0

    def event(self, person: int, when: datetime, name: str, *, anon: str | None = None,
              user: str | None = None) -> dict:
        self.n += 1
        out = {"messageId": f"m{self.n}", "type": "track", "event": name,
               "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "anonymousId": anon or f"anon-{person}",
               "context": {"page": {"url": "https://shop.example.com/p/SKU-1", "referrer": ""},
                           "device": {"type": "desktop"}},
               "properties": {"order_id": f"O{self.n}", "revenue": 10.0 + person} if name == "Order Completed" else {}}
        if user:
            out["userId"] = user
            out["traits"] = {"email": f"person{user[2:]}@example.com"}
        return out

    def write(self, folder: str, day: date, name: str, text: str) -> None:
        d = self.root / folder / day.isoformat()
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)

    def land_day(self, k: int, ops: list[tuple]) -> None:
        day = START + timedelta(days=k)
        base = datetime(day.year, day.month, day.day, 9)
        rows: list[dict] = []
        late_files: dict[date, list[dict]] = {}
        contacts: list[str] = []
        for i, o in enumerate(ops):
            at = base + timedelta(minutes=7 * i)
            kind = o[0]
            if kind == "event":
                rows.append(self.event(o[1], at, o[2], user=f"u-{o[1]}" if o[2] == "Signed In" else None))
            elif kind == "late":  # dated days back, landed today
                rows.append(self.event(o[1], at - timedelta(days=o[2]), "Product Viewed"))
            elif kind == "late_file":  # a file added to an earlier day's folder
                earlier = max(START, day - timedelta(days=o[2]))
                late_files.setdefault(earlier, []).append(self.event(o[1], at - (day - earlier), "Product Added"))
            elif kind == "duplicate" and self.landed:
                rows.append(dict(self.landed[o[1] % len(self.landed)]))
            elif kind == "link":  # person a's browser signs in as person b: links two customers
                rows.append(self.event(o[1], at, "Signed In", user=f"u-{o[2]}"))
            elif kind == "kiosk":  # one more user on the kiosk browser: shared past 2
                rows.append(self.event(o[1], at, "Signed In", anon="kiosk", user=f"u-{o[1]}"))
            elif kind == "profile":
                contacts.append(f"{500 + o[1]},person{o[1]}@example.com,Acme,Retail,11-50,smb,{o[2]},"
                                f"{at:%Y-%m-%d %H:%M:%S}")
        if rows:
            self.write("clickstream", day, "events.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
        for earlier, late in late_files.items():
            self.write("clickstream", earlier, f"late-{k}.jsonl", "\n".join(json.dumps(r) for r in late) + "\n")
        if contacts:
            self.write("crm", day, "contacts.csv",
                       "contact_id,email,company,industry,company_size,segment,lifecycle_stage,created_at\n"
                       + "\n".join(contacts) + "\n")
        self.landed += rows + [r for late in late_files.values() for r in late]


def differing(full: Path, incremental: Path) -> list[str]:
    return [f"{d.relation}: {d.verdict} ({d.only_before} only in full, {d.only_after} only in incremental)"
            for d in compare(full, incremental) if d.verdict != "identical"]


# every kind of change at least once: day 1 makes the kiosk browser shared (a third user, past
# the threshold of 2), links persons 2 and 3 (person 2's browser signs in as person 3), changes
# person 3's profile, lands a late event and a duplicate; day 2 adds a late file to day 1's folder;
# day 3 touches person 3 only, and its newest event (09:14) closes the one-day window of person 0's
# view of day 2 (09:07): person 0's status changes without any event of theirs
COVERING = [
    [("kiosk", 0), ("kiosk", 1), ("event", 2, "Signed In"), ("profile", 3, "lead"), ("event", 3, "Signed In"),
     ("event", 1, "Product Viewed")],
    [("kiosk", 2), ("link", 2, 3), ("late", 1, 1), ("duplicate", 4), ("profile", 3, "customer"),
     ("event", 2, "Order Completed")],
    [("late_file", 1, 1), ("event", 0, "Product Viewed")],
    [("event", 3, "Product Added"), ("event", 3, "Product Added"), ("event", 3, "Product Added")],
]


# `make test` runs the covering example only (deterministic); JOURNEYS_HYPOTHESIS=thorough adds
# random sequences (derandomized, so a failure reproduces), for a run of the property itself.
THOROUGH = os.environ.get("JOURNEYS_HYPOTHESIS") == "thorough"
PROFILE = settings(max_examples=int(os.environ.get("JOURNEYS_HYPOTHESIS_EXAMPLES", "5")), derandomize=True,
                   deadline=None, suppress_health_check=list(HealthCheck),
                   phases=tuple(Phase) if THOROUGH else (Phase.explicit,))


@PROFILE
@example(days=COVERING)
@given(days=days_strategy)
def test_incremental_equals_full(tmp_path_factory, days):
    incremental_equals_full(tmp_path_factory.mktemp("incremental"), days)


def with_a_one_day_funnel(cfg: Path) -> None:
    """Add a funnel with a one-day window to the configuration in `cfg`: a landing day later,
    as_of (the newest event) moves past attempts of customers the nightly run does not rebuild,
    whose status then changes without any event of theirs."""
    path = cfg / "funnels.yaml"
    data = yaml.safe_load(path.read_text())
    steps = [{"event": {"event_name": n}} for n in ("Product Viewed", "Product Added", "Order Completed")]
    data["funnels"].append({"name": "one_day", "steps": steps, "window": "1d"})
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def incremental_equals_full(root: Path, days: list[list[tuple]]) -> None:
    """Land `days` one at a time; after each day's nightly run, compare with a full build."""
    cfg = small_config(root)
    with_a_one_day_funnel(cfg)
    landing = Landing(root / "landing")
    nightly = root / "nightly" / "journeys.duckdb"
    for k, ops in enumerate(days):
        landing.land_day(k, ops)
        if not any((root / "landing").rglob("*.json*")):
            continue
        end = START + timedelta(days=k)
        run = run_pipeline(root / "landing", nightly, config_dir=cfg, start=START, end=end, only_changed=True)
        assert run.result.success
        full = root / f"full-{k}" / "journeys.duckdb"
        assert run_pipeline(root / "landing", full, config_dir=cfg, start=START, end=end).result.success
        assert differing(full, nightly) == [], f"day {k}: {days[:k + 1]}"
        shutil.rmtree(full.parent)
