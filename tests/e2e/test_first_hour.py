"""The first hour: the commands the README and `journeys run` print run as printed, from a
folder laid out like a fresh clone after `make install` (no `journeys` on the PATH, no DuckDB
command-line shell)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end if end > 0 else None]


def sh_blocks(text: str) -> list[str]:
    """The ```sh blocks of a README section, each line as a person would paste it."""
    return ["\n".join(line.strip() for line in b.splitlines()) for b in re.findall(r"```sh\n(.*?)```", text, re.S)]


@pytest.fixture
def clone(tmp_path) -> Path:
    """A folder shaped like the project after `make install`: the files the commands read."""
    root = tmp_path / "clone"
    root.mkdir()
    for name in ("fixtures", ".venv", "pyproject.toml", "sql"):
        (root / name).symlink_to(PROJECT / name)
    return root


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOURNEYS_", "DAGSTER_HOME"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not (Path(p) / "journeys").exists() and not (Path(p) / "duckdb").exists())
    env.update(PYTHONWARNINGS="ignore", COLUMNS="100", **extra)
    return env


def bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=900)


def test_sms_walkthrough_as_written_stitches_every_sms_customer(clone):
    blocks = sh_blocks(section("## Adding a channel"))
    assert len(blocks) == 1 and "journeys backfill --source sms" in blocks[0]
    assert shutil.which("journeys", path=clean_env()["PATH"]) is None
    r = bash(blocks[0], clone, clean_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"│\s+60\s+│", r.stdout.split("sms_customers")[-1]), r.stdout[-2000:]

    # the run printed how to query the warehouse: that line runs as printed
    printed = [line.split("Query it:", 1)[1].strip() for line in r.stdout.splitlines() if line.startswith("Query it:")]
    assert printed and printed[-1].startswith(".venv/bin/journeys sql ")
    q = bash(printed[-1], clone, clean_env())
    assert q.returncode == 0, q.stderr
    assert "journey_id" in q.stdout


def test_after_make_demo_commands_run_as_printed(clone, demo_run):
    (block,) = sh_blocks(section("## Two commands").split("After `make demo`")[1])
    assert "duckdb -readonly" not in README  # the DuckDB 1.x shell cannot open a DuckDB 2.0 file
    r = bash(block, clone, clean_env(JOURNEYS_WAREHOUSE=str(demo_run.published)))
    assert r.returncode == 0, r.stderr
    assert "source" in r.stdout and (clone / "customers.csv").read_text().startswith("customer_id,")


def test_schedule_and_sensor_turn_on_as_the_readme_says(clone):
    (block,) = sh_blocks(section("### The nightly schedule and the landing sensor"))
    lines = [line for line in block.splitlines() if line]
    assert lines[-1].startswith(".venv/bin/dagster-daemon run")  # runs until stopped: not run here
    (clone / ".dagster_home").mkdir()
    shutil.copyfile(PROJECT / "dagster.yaml", clone / ".dagster_home" / "dagster.yaml")
    script = "\n".join(lines[:-1]) + "\n.venv/bin/dagster schedule list\n.venv/bin/dagster sensor list\n"
    r = bash(script, clone, clean_env())
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Schedule: nightly [RUNNING]" in r.stdout and "Sensor: landing_sensor [RUNNING]" in r.stdout
