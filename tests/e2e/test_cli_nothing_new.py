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

# one xdist worker runs the whole module: the first run (`first_run`) is built once, not per worker
pytestmark = pytest.mark.xdist_group("cli_nothing_new")


def two_days(root: Path) -> Path:
    """The first two days of the demo fixtures, under root/landing."""
    for day in FIXTURE_LANDING.glob("*/*"):
        if day.is_dir() and day.name <= "2025-03-02":
            shutil.copytree(day, root / "landing" / day.parent.name / day.name)
    return root / "landing"


@pytest.fixture
def landing(tmp_path) -> Path:
    return two_days(tmp_path)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[Path, str]:
    """`journeys run` over the first two days into root/wh, once: its root and its output."""
    root = tmp_path_factory.mktemp("nothing-new-first")
    first = journeys(["run", "--landing", str(two_days(root))], root)
    assert first.returncode == 0, first.stderr
    return root, first.stdout


@pytest.fixture
def after_first_run(first_run, tmp_path) -> tuple[Path, str]:
    """A copy of `first_run`'s landing zone and warehouse in tmp_path (file times kept, so the
    copy is as the first run left it), for this test alone: its landing folder and the first
    run's output."""
    root, stdout = first_run
    for folder in ("landing", "wh"):
        shutil.copytree(root / folder, tmp_path / folder)
    return tmp_path / "landing", stdout


def state(folder: Path) -> dict[str, tuple[int, str]]:
    """Each DuckDB file of the warehouse folder: its modification time and a digest of its bytes."""
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.glob("*.duckdb"))}


def test_a_run_with_nothing_new_does_nothing_and_says_since_when(tmp_path, after_first_run):
    wh = tmp_path / "wh"
    landing, first_stdout = after_first_run
    assert "Nothing new" not in first_stdout
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


def test_another_configuration_or_force_is_never_nothing_new(tmp_path, after_first_run):
    landing, _ = after_first_run
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
