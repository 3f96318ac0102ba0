"""The `journeys` command as a person uses it (the installed script, in a real process): config
mistakes caught by `check` and refused by `run` before any work, failures that say their cause
in a line or two, and `journeys sql` read-only in effect."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURE_LANDING, PROJECT, TEST_SECRET

JOURNEYS = str(Path(sys.executable).parent / "journeys")


def journeys(args: list[str], tmp: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "DAGSTER_HOME"))}
    full.update(JOURNEYS_HASH_SECRET=TEST_SECRET, PYTHONWARNINGS="ignore", COLUMNS="100")
    full.update(env)
    full.setdefault("JOURNEYS_WAREHOUSE", str(tmp / "wh" / "journeys.duckdb"))
    return subprocess.run([JOURNEYS, *args], env=full, cwd=PROJECT, capture_output=True, text=True, timeout=600)


def error_lines(r: subprocess.CompletedProcess) -> list[str]:
    """stderr without the progress lines of the steps that ran."""
    return [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("  · ")]


@pytest.fixture
def small_landing(tmp_path) -> Path:
    """The first three days of the demo fixtures."""
    root = tmp_path / "landing"
    for day in FIXTURE_LANDING.glob("*/*"):
        if day.is_dir() and day.name <= "2025-03-03":
            shutil.copytree(day, root / day.parent.name / day.name)
    return root


# --------------------------------------------------------------------------- check


def test_breakdown_typo_fails_check_and_run_refuses_it_before_any_work(tmp_path, small_landing):
    config = tmp_path / "config"
    config.mkdir()
    (config / "funnels.yaml").write_text(
        "funnels:\n  - name: buy\n    steps: [{phase: awareness}, {phase: purchase}]\n    breakdowns: [devise]\n")
    check = journeys(["check", "--config", str(config)], tmp_path)
    assert check.returncode == 2, check.stderr
    assert f"{config / 'funnels.yaml'}: funnels[0] (buy).breakdowns: unknown breakdown 'devise'. Did you mean 'device'?" in check.stderr

    run = journeys(["run", "--config", str(config), "--landing", str(small_landing)], tmp_path)
    assert run.returncode == 2, run.stderr
    assert "unknown breakdown 'devise'" in run.stderr
    assert "Dependencies" not in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "wh").exists()  # refused before any work


def test_sources_without_extends_is_refused_with_the_fix(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.yaml").write_text(
        "sources:\n  sms:\n    format: csv\n    files: 'messages*.csv'\n    id: message_id\n"
        "    timestamp: {field: sent_at}\n    event_name: direction\n    identifiers: {phone: phone}\n")
    r = journeys(["check", "--config", str(config)], tmp_path)
    assert r.returncode == 2
    assert f"{config / 'sources.yaml'}: does not define source 'clickstream'" in r.stderr
    assert "Put `extends: defaults` at the top of sources.yaml to keep the shipped sources" in r.stderr


def copy_warehouse(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for f in src.parent.glob("*journeys*.duckdb"):
        shutil.copyfile(f, dst_dir / f.name)
    return dst_dir / src.name


def test_check_warns_about_event_names_never_seen(tmp_path, demo_run):
    wh = copy_warehouse(demo_run.published, tmp_path / "wh")
    config = tmp_path / "config"
    config.mkdir()
    (config / "funnels.yaml").write_text(
        "funnels:\n  - name: buy\n    steps:\n"
        "      - {event: {source: clickstream, event_name: Product Viewed}}\n"
        "      - {event: {source: clickstream, event_name: Order Complted}}\n")
    r = journeys(["check", "--config", str(config), "--warehouse", str(wh)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert (f"Warning: {config / 'funnels.yaml'}: funnels[0] (buy).steps[1]: event name 'Order Complted' "
            "(closest seen: 'Order Completed') occurs in no landed event: the step counts nobody.") in r.stderr
    assert "steps[0]" not in r.stderr


# --------------------------------------------------------------------------- failures


@contextlib.contextmanager
def tmpfs(folder: Path, size: str, read_only: bool = False):
    folder.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here (mount said: {r.stderr.strip()}); needs root")
    try:
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_read_only_folder_says_which_folder_and_what_to_do(tmp_path, small_landing):
    with tmpfs(tmp_path / "ro", "4m", read_only=True) as ro:
        with pytest.raises(OSError):
            (ro / "probe").write_text("x")  # root cannot write either: a real read-only folder
        r = journeys(["run", "--landing", str(small_landing), "--warehouse", str(ro / "journeys.duckdb")], tmp_path)
    assert r.returncode == 1
    lines = error_lines(r)
    assert lines == [f"Error: Cannot write in {ro}: it is on a read-only file system.",
                     "Make it writable, or point --warehouse (or JOURNEYS_WAREHOUSE) at a writable folder."]


def test_disk_full_says_the_path_and_the_free_space_and_status_counts_its_own_failures(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(PROJECT / "dagster.yaml", home / "dagster.yaml")
    with tmpfs(tmp_path / "small", "8m") as small:
        wh = small / "journeys.duckdb"
        r = journeys(["run", "--landing", str(FIXTURE_LANDING), "--warehouse", str(wh)], tmp_path, DAGSTER_HOME=str(home))
        assert r.returncode == 1
        lines = error_lines(r)
        assert lines[0] == "The run failed after " + lines[0].split("after ")[1]
        assert "the published warehouse was left as it was" in lines[0]
        assert re.fullmatch(rf"The disk is full: no space left to write {small}/\S+ \([0-9.]+ [KM]?B free of 8\.0 MB in {small}\)\.", lines[1])
        assert lines[2].startswith("Free some space there, or point --warehouse")
        assert lines[3].startswith("Run again with --verbose for Dagster's detail")
        assert len(lines) == 4
        assert not wh.exists()

        verbose = journeys(["run", "--verbose", "--landing", str(FIXTURE_LANDING), "--warehouse", str(wh)], tmp_path,
                           DAGSTER_HOME=str(home))
        assert verbose.returncode == 1
        assert "The disk is full" in verbose.stderr
        assert "were not executed" in verbose.stderr and "No space left on device" in verbose.stderr

    mine = journeys(["status", "--warehouse", str(wh)], tmp_path, DAGSTER_HOME=str(home))
    assert "2 failed run(s)" in mine.stdout, mine.stdout
    other = journeys(["status", "--warehouse", str(tmp_path / "other" / "journeys.duckdb")], tmp_path, DAGSTER_HOME=str(home))
    assert other.returncode == 0 and "failed run" not in other.stdout


HOLD_LOCK = """
import fcntl, os, sys, time
fh = open(sys.argv[1], "a+")
fcntl.flock(fh, fcntl.LOCK_EX)
fh.seek(0); fh.truncate(); fh.write(str(os.getpid())); fh.flush()
print("held", flush=True)
time.sleep(120)
"""


def test_lock_held_by_another_run_names_its_pid(tmp_path, small_landing):
    wh = tmp_path / "wh" / "journeys.duckdb"
    wh.parent.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(wh.parent / ".journeys.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        r = journeys(["run", "--landing", str(small_landing), "--warehouse", str(wh)], tmp_path)
        assert time.monotonic() - t0 < 120  # refused at once, not after waiting out the lock
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 3
    assert error_lines(r) == [f"Error: Another Journeys run (pid {holder.pid}) is writing {wh}. Wait for it to finish, then run again."]


# --------------------------------------------------------------------------- journeys sql


def sql(args: list[str], tmp: Path, warehouse: Path, columns: int = 100) -> subprocess.CompletedProcess:
    return journeys(["sql", "--warehouse", str(warehouse), *args], tmp, COLUMNS=str(columns))


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("copy (select 1 as a) to '{tmp}/out.csv'", "reaches a file outside the warehouse ({tmp}/out.csv)"),
        ("select * from read_csv('/etc/passwd')", "reaches a file outside the warehouse (/etc/passwd)"),
        ("attach '{work}' as w", "reaches a file outside the warehouse ({work})"),
        ("set threads = 1", "changes a setting"),
        ("pragma threads = 1", "changes a setting"),
        ("set enable_external_access = true", "changes a setting"),
    ],
)
def test_sql_refuses_what_reaches_outside_the_warehouse(tmp_path, demo_run, query, says):
    fill = {"tmp": str(tmp_path), "work": str(demo_run.work)}
    r = sql([query.format(**fill)], tmp_path, demo_run.published)
    assert r.returncode == 1
    assert error_lines(r) == [f"Error: refused: the query {says.format(**fill)}" + error_lines(r)[0].split(says.format(**fill))[1]]
    assert len(error_lines(r)) == 1
    assert not (tmp_path / "out.csv").exists()


def test_sql_still_queries_the_warehouse(tmp_path, demo_run):
    r = sql(["select count(*) as n from marts.journeys", "--format", "csv"], tmp_path, demo_run.published)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("n\n") and int(r.stdout.split("\n")[1]) > 0


def test_sql_shows_every_statement_and_stops_at_the_first_error(tmp_path, demo_run):
    r = sql(["select 1 as first_col; select 2 as second_col"], tmp_path, demo_run.published)
    assert r.returncode == 0, r.stderr
    assert "first_col" in r.stdout and "second_col" in r.stdout
    r = sql(["select 1 as first_col; select * from no_such_table; select 3 as third_col"], tmp_path, demo_run.published)
    assert r.returncode == 1
    assert "first_col" in r.stdout and "third_col" not in r.stdout
    assert error_lines(r)[0].startswith("Error: statement 2 of 3 (select * from no_such_table) failed: Catalog Error:")


def test_sql_csv_ends_lines_with_newline_only(tmp_path, demo_run):
    r = subprocess.run([JOURNEYS, "sql", "--warehouse", str(demo_run.published), "--format", "csv",
                        "select customer_id, revenue from marts.customers order by customer_id limit 3"],
                       capture_output=True, cwd=PROJECT, env={**os.environ, "JOURNEYS_HASH_SECRET": TEST_SECRET})
    assert r.returncode == 0
    assert b"\r" not in r.stdout and r.stdout.count(b"\n") == 4


def test_sql_table_fits_80_columns_and_says_how_to_see_all(tmp_path, demo_run):
    r = sql(["select * from marts.customers order by customer_id limit 5"], tmp_path, demo_run.published, columns=80)
    assert r.returncode == 0, r.stderr
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    assert "customer_id" in r.stdout
    assert "See all with --format csv, or select fewer columns." in " ".join(r.stdout.split())


def test_sql_money_has_two_decimals_and_no_float_is_scientific(tmp_path, demo_run):
    r = sql(["select revenue, 26880.0::double as amount, 1e20::double as big, 0.125::double as share "
             "from marts.customers where revenue > 0 order by revenue desc limit 1"], tmp_path, demo_run.published, columns=200)
    assert r.returncode == 0, r.stderr
    assert "26,880.00" in r.stdout and "100,000,000,000,000,000,000" in r.stdout and "0.125" in r.stdout
    assert re.search(r"│\s+\d{1,3}(,\d{3})*\.\d\d\s+│", r.stdout)
    assert not re.search(r"\de[+-]\d", r.stdout)
    csv = sql(["select 26880.0::double as amount, 1e20::double as big", "--format", "csv"], tmp_path, demo_run.published)
    assert csv.stdout == "amount,big\n26880.00,100000000000000000000\n"


def test_check_refuses_an_unknown_engine_with_exit_2(tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("engine: snowflake\n")
    r = journeys(["check", "--config", str(config)], tmp_path)
    assert r.returncode == 2
    assert f"{config / 'settings.yaml'}: engine: Input should be 'duckdb' or 'spark' (use one of the allowed values)." in r.stderr
    assert "Traceback" not in r.stderr
