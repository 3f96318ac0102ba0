"""Foreign landing zones through real Dagster runs and the `journeys` command: history from any
year loads with the shipped defaults, every landed file is read or listed with its reason,
nothing outside the landing zone is read, and a glob that matches nothing stops the run."""

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from pipelines import cli as cli_module
from pipelines.cli import app
from tests.conftest import FIXTURE_LANDING, TEST_SECRET, run_pipeline
from transforms.config import DEFAULTS_DIR
from transforms.landing import count_landed_entries

FIRST_DAYS = ("2025-03-01", "2025-03-02", "2025-03-03")
SECRET_MARK = b"JOURNEYS_HASH_SECRET=hunter2-do-not-leak"


def history(root: Path, year: int) -> Path:
    """The first three fixture days of every source, moved to `year` (folders and timestamps)."""
    for src in FIXTURE_LANDING.iterdir():
        for day in FIRST_DAYS:
            if not (src / day).is_dir():
                continue
            target = root / src.name / day.replace("2025", str(year))
            target.mkdir(parents=True)
            for f in (src / day).iterdir():
                (target / f.name).write_bytes(f.read_bytes().replace(b"2025-", f"{year}-".encode()))
    return root


def cli(monkeypatch, *args: str):
    """`journeys …` in this process, with its settings restored afterwards."""
    for name in ("JOURNEYS_LANDING_DIR", "JOURNEYS_WAREHOUSE", "JOURNEYS_CONFIG_DIR"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("JOURNEYS_HASH_SECRET", TEST_SECRET)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # wide consoles: rich would fold long tmp_path paths at 80 columns
    monkeypatch.setattr(cli_module, "out", Console(width=1000))
    monkeypatch.setattr(cli_module, "err", Console(stderr=True, width=1000))
    result = CliRunner().invoke(app, list(args))
    result.text = " ".join(result.output.split())
    return result


def query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def assert_counts_add_up(published: Path, landing: Path) -> None:
    """Records: read = accepted + rejected + duplicates. Files: read + listed as not read = every file landed."""
    bad = query(published, "select * from marts.pipeline_runs where n_read <> n_accepted + n_rejected + n_duplicates")
    assert bad == []
    (files_read,) = query(published, "select sum(n_files) from raw._partitions")[0]
    (files_unread,) = query(published, "select coalesce(sum(n_files), 0) from quarantine.unread_files")[0]
    assert files_read + files_unread == count_landed_entries(landing)


@pytest.mark.parametrize("year", [2024, 2015])
def test_history_from_any_year_runs_with_the_shipped_defaults(tmp_path, monkeypatch, year):
    landing = history(tmp_path / "landing", year)
    days = [date(year, 3, d) for d in (1, 2, 3)]

    # one run, as a person starts it (`journeys run`, which runs the Dagster job): every check on its files
    wh = tmp_path / "b" / "journeys.duckdb"
    result = cli(monkeypatch, "run", "--landing", str(landing), "--warehouse", str(wh))
    assert result.exit_code == 0, result.output
    assert "Done in" in result.text and "not read" not in result.text
    assert sorted({d for (d,) in query(wh, "select _partition from raw._partitions")}) == days
    (n_events,) = query(wh, "select count(*) from staging.events where year(occurred_at) = $y".replace("$y", str(year)))[0]
    assert n_events > 100
    assert query(wh, "select count(*) from quarantine.unread_files") == [(0,)]
    assert_counts_add_up(wh, landing)


def test_no_day_in_the_range_asked_for_names_it_and_the_fix(tmp_path, monkeypatch):
    landing = history(tmp_path / "landing", 2024)
    result = cli(monkeypatch, "run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb"),
                 "--start", "2025-01-01", "--end", "2025-01-31")
    assert result.exit_code == 2
    assert "no landing day folders from 2025-01-01 to 2025-01-31" in result.text
    assert "the landed days run from 2024-03-01 to 2024-03-03" in result.text
    assert "Pick dates in that range (--date, --start, --end), or leave them out to load every day." in result.text
    assert not (tmp_path / "w.duckdb").exists()


def messy(root: Path, outside: Path) -> Path:
    """One good fixture day plus every kind of entry that must not be read (or must be, once)."""
    for src in ("clickstream", "crm"):
        shutil.copytree(FIXTURE_LANDING / src / "2025-03-01", root / src / "2025-03-01")
    day = root / "clickstream" / "2025-03-01"
    (day / "late.JSONL").write_text(  # upper-case extension: read
        '{"messageId":"upper-1","type":"page","anonymousId":"anon-upper","timestamp":"2025-03-01T12:00:00Z"}\n')
    bom_csv = (  # a BOM, CRLF and a quoted line break: valid, read whole
        "\ufeffactivity_id,contact_id,email,activity_type,occurred_at,channel,amount\r\n"
        'X1,C9,x1@example.com,"call\r\nback",2025-03-01 10:00:00,phone,\r\n'
    )
    (root / "crm" / "2025-03-01" / "activities-export.csv").write_bytes(bom_csv.encode())
    (day / "notes.txt").write_text("not an export")
    (day / ".DS_Store").write_bytes(b"\0")
    (day / "empty.jsonl.gz").write_bytes(b"")
    os.mkfifo(day / "stream.jsonl")
    outside.write_bytes(SECRET_MARK + b"\n")
    os.symlink(outside, day / "environ.jsonl")
    for name in ("20250302", "2025-02-30", "1969-12-31"):
        (root / "clickstream" / name).mkdir()
        shutil.copy(day / "events-s00.jsonl", root / "clickstream" / name / "events-s00.jsonl")
    (root / "whatsapp" / "2025-03-01").mkdir(parents=True)
    (root / "whatsapp" / "2025-03-01" / "messages.jsonl").write_text("{}\n")
    return root


def test_every_landed_file_is_read_or_listed_and_nothing_outside_is_read(tmp_path, monkeypatch):
    landing = messy(tmp_path / "landing", tmp_path / "secret.env")
    wh = tmp_path / "wh" / "journeys.duckdb"
    result = cli(monkeypatch, "run", "--landing", str(landing), "--warehouse", str(wh))
    assert result.exit_code == 0, result.output
    assert "Warning: 9 landing entries (9 file(s)) not read" in result.text
    assert 'journeys sql "select path, reason from quarantine.unread_files"' in result.text

    listed = dict(query(wh, "select path, kind || ': ' || reason from quarantine.unread_files"))
    assert sorted(listed) == [
        "clickstream/1969-12-31", "clickstream/2025-02-30", "clickstream/2025-03-01/.DS_Store",
        "clickstream/2025-03-01/empty.jsonl.gz", "clickstream/2025-03-01/environ.jsonl",
        "clickstream/2025-03-01/notes.txt", "clickstream/2025-03-01/stream.jsonl", "clickstream/20250302", "whatsapp",
    ]
    assert listed["clickstream/2025-03-01/environ.jsonl"].startswith("symlink: a symbolic link: links are not followed")
    assert listed["clickstream/2025-03-01/stream.jsonl"] == "special: not a regular file but a named pipe (fifo): only regular files are read"
    assert listed["clickstream/20250302"] == "folder: '20250302' is not a day folder name (YYYY-MM-DD): rename it 2025-03-02"
    assert listed["clickstream/2025-03-01/empty.jsonl.gz"] == "file: the file is empty (0 bytes), not a gzip archive"
    assert query(wh, "select count(*) from quarantine.unread_files where run_id is null or found_at is null") == [(0,)]
    assert_counts_add_up(wh, landing)

    # the upper-case file and the BOM/CRLF/quoted-newline CSV are read, nothing of them rejected
    assert query(wh, "select event_name from staging.events where event_id in ('clickstream:upper-1', 'crm:X1') order by 1") == [
        ("call\nback",), ("page",)]
    assert query(wh, "select count(*) from quarantine.rejected where _source_file like '%late.JSONL' or _source_file like '%export.csv'") == [(0,)]
    # the linked file's bytes reached no file the run wrote
    for path in (wh, wh.with_name(".journeys.work.duckdb")):
        assert SECRET_MARK not in path.read_bytes()

    status = cli(monkeypatch, "status", "--landing", str(landing), "--warehouse", str(wh))
    assert status.exit_code == 0, status.output
    assert "Warning: 9 landing entries (9 file(s)) not read" in status.text


def sources_with(tmp_path: Path, **clickstream) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    src = yaml.safe_load((DEFAULTS_DIR / "sources.yaml").read_text())["sources"]["clickstream"]
    (folder / "sources.yaml").write_text(yaml.safe_dump({"extends": "defaults", "sources": {"clickstream": {**src, **clickstream}}}))
    return folder


def test_a_glob_that_matches_nothing_stops_the_run(tmp_path, monkeypatch):
    landing = history(tmp_path / "landing", 2025)
    config = sources_with(tmp_path, files="*.json")
    wh = tmp_path / "wh" / "journeys.duckdb"
    expected = (f"{config / 'sources.yaml'}: sources.clickstream.files: '*.json' matches none of the 4 file(s) in "
                "clickstream/<YYYY-MM-DD>/, e.g. broken.jsonl, events-s00.jsonl. Change the pattern to match them "
                "(these files would be read by files: \"*.jsonl\").")

    result = cli(monkeypatch, "run", "--landing", str(landing), "--warehouse", str(wh), "--config", str(config))
    assert result.exit_code == 2
    assert expected in result.text
    assert not wh.exists()

    # a scheduled run (no CLI) fails on the same message instead of loading empty days
    run = run_pipeline(landing, wh, config_dir=config, raise_on_error=False)
    assert not run.result.success
    failures = [e for e in run.result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["raw__clickstream"]
    assert expected in failures[0].event_specific_data.error.message  # type: ignore[union-attr]
    assert not wh.exists()


def test_a_malformed_glob_is_a_config_error(tmp_path, monkeypatch):
    landing = history(tmp_path / "landing", 2025)
    config = sources_with(tmp_path, files="[*.jsonl")
    result = cli(monkeypatch, "run", "--landing", str(landing), "--warehouse", str(tmp_path / "w.duckdb"), "--config", str(config))
    assert result.exit_code == 2
    assert f"{config / 'sources.yaml'}: sources.clickstream.files: '[*.jsonl' is not a valid glob" in result.text
