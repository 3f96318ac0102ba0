"""Nothing new, nothing done (issue 16, point 7): `journeys run` with no new or changed landing
file, the same configuration and a finished last run says so and rewrites nothing; a touched
landing file or another configuration does work again."""

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_LANDING
from tests.e2e.test_cli import journeys


@pytest.fixture
def landing(tmp_path) -> Path:
    """The first two days of the demo fixtures."""
    root = tmp_path / "landing"
    for day in FIXTURE_LANDING.glob("*/*"):
        if day.is_dir() and day.name <= "2025-03-02":
            shutil.copytree(day, root / day.parent.name / day.name)
    return root


def state(folder: Path) -> dict[str, tuple[int, str]]:
    """Each DuckDB file of the warehouse folder: its modification time and a digest of its bytes."""
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.glob("*.duckdb"))}


def test_a_run_with_nothing_new_does_nothing_and_says_since_when(tmp_path, landing):
    wh = tmp_path / "wh"
    first = journeys(["run", "--landing", str(landing)], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Nothing new" not in first.stdout
    before = state(wh)
    assert {"journeys.duckdb", ".journeys.work.duckdb"} <= before.keys()

    second = journeys(["run", "--landing", str(landing)], tmp_path, PYTHONPROFILEIMPORTTIME="1")
    assert second.returncode == 0, second.stderr
    assert "Nothing new since " in second.stdout and "Nothing was done." in second.stdout
    # decided before anything heavy is imported (the import log goes to stderr)
    heavy = re.findall(r"\|\s+(dagster|polars|plotly|sqlglot)$", second.stderr, flags=re.MULTILINE)
    assert "import time:" in second.stderr and heavy == []
    assert "Done in" not in second.stdout
    assert state(wh) == before  # neither file was opened for writing

    # a file of an old day is rewritten (same bytes, newer time): the run does work again
    f = next((landing / "clickstream").glob("*/*"))
    os.utime(f, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = journeys(["run", "--landing", str(landing)], tmp_path)
    assert third.returncode == 0, third.stderr
    assert "Nothing new" not in third.stdout and "Done in" in third.stdout
    assert state(wh)["journeys.duckdb"] != before["journeys.duckdb"]


def test_another_configuration_or_force_is_never_nothing_new(tmp_path, landing):
    assert journeys(["run", "--landing", str(landing)], tmp_path).returncode == 0
    config = tmp_path / "config"
    config.mkdir()
    (config / "funnels.yaml").write_text(
        "funnels:\n  - name: buy\n    steps: [{phase: awareness}, {phase: purchase}]\n")
    changed = journeys(["run", "--landing", str(landing), "--config", str(config)], tmp_path)
    assert changed.returncode == 0, changed.stderr
    assert "Nothing new" not in changed.stdout and "Done in" in changed.stdout
    again = journeys(["run", "--landing", str(landing), "--config", str(config)], tmp_path)
    assert "Nothing new since " in again.stdout, again.stdout
    forced = journeys(["run", "--landing", str(landing), "--config", str(config), "--force"], tmp_path)
    assert forced.returncode == 0 and "Done in" in forced.stdout


def test_nothing_new_still_warns_about_unread_files(tmp_path, landing):
    (landing / "clickstream" / "2025-03-02" / "notes.txt").write_text("not an event file\n")
    assert journeys(["run", "--landing", str(landing)], tmp_path).returncode == 0
    second = journeys(["run", "--landing", str(landing)], tmp_path)
    assert second.returncode == 0, second.stderr
    assert "Nothing new since " in second.stdout
    assert "not read, e.g. clickstream/2025-03-02/notes.txt" in second.stderr
