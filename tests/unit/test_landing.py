"""The landing zone as the pipeline sees it: which files each source reads, why every other
entry is not read, and that the two together account for every file under the root."""

import gzip
import os
from datetime import date
from pathlib import Path

import pytest
import yaml

from transforms.config import DEFAULTS_DIR, ConfigError, load_config
from transforms.landing import (
    EARLIEST_DAY,
    LandingError,
    count_landed_entries,
    days_to_load,
    glob_problems,
    landed_days,
    landed_files,
    survey_landing,
)

CONFIG = load_config()
LINE = b'{"messageId":"m1","type":"page","anonymousId":"a1","timestamp":"2025-03-03T10:00:00Z"}\n'


def put(root: Path, rel: str, data: bytes = LINE) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def config_with(tmp_path: Path, sources=None, settings=None):
    folder = tmp_path / "config"
    folder.mkdir(exist_ok=True)
    if sources is not None:
        (folder / "sources.yaml").write_text(yaml.safe_dump({"extends": "defaults", "sources": sources}))
    if settings is not None:
        data = yaml.safe_load((DEFAULTS_DIR / "settings.yaml").read_text())
        data.update(settings)
        (folder / "settings.yaml").write_text(yaml.safe_dump(data))
    return load_config(folder)


def read_files(root: Path, config) -> set[str]:
    return {p.relative_to(root).as_posix() for n, s in config.sources.items()
            for d in landed_days(root, n, s, config.settings) for p in landed_files(root, n, s, d)}


def accounted(root: Path, config) -> tuple[int, int, int]:
    unread = survey_landing(root, config)
    return count_landed_entries(root), len(read_files(root, config)), sum(u.n_files for u in unread)


@pytest.fixture
def messy(tmp_path) -> Path:
    """Every kind of entry a real landing zone collects, beside two good files."""
    root = tmp_path / "landing"
    put(root, "clickstream/2025-03-03/events.jsonl")
    put(root, "clickstream/2025-03-03/EVENTS-2.JSONL")                 # upper-case extension: read
    put(root, "clickstream/2025-03-03/notes.txt", b"hello")            # no glob takes it
    put(root, "clickstream/2025-03-03/.events.jsonl.swp")              # hidden
    put(root, "clickstream/2025-03-03/empty.jsonl", b"")               # zero bytes
    put(root, "clickstream/2025-03-03/empty.jsonl.gz", b"")            # zero-byte archive
    put(root, "clickstream/2025-03-03/nothing.jsonl.gz", gzip.compress(b""))  # a valid archive of nothing
    put(root, "clickstream/2025-03-03/old/events.jsonl")               # a folder in a day folder
    put(root, "clickstream/20250415/events.jsonl")                     # compact date
    put(root, "clickstream/2025-02-30/events.jsonl")                   # impossible date
    put(root, "clickstream/1969-12-31/events.jsonl")                   # before the first partition
    put(root, "clickstream/readme.md", b"x")                           # outside a day folder
    put(root, "whatsapp/2025-03-03/messages.jsonl")                    # no source reads the folder
    put(root, "whatsapp/2025-03-04/messages.jsonl")
    put(root, "manifest.json", b"{}")                                  # at the top
    outside = put(tmp_path, "secret.env", b"JOURNEYS_HASH_SECRET=do-not-leak\n")
    os.symlink(outside, root / "clickstream/2025-03-03/leak.jsonl")    # a link out of the landing zone
    os.symlink(root / "clickstream/2025-03-03", root / "clickstream/2025-03-05")  # a linked day folder
    os.mkfifo(root / "clickstream/2025-03-03/pipe.jsonl")             # would block a reader forever
    return root


def test_every_entry_is_read_or_listed_with_its_reason(messy):
    unread = {u.path: u for u in survey_landing(messy, CONFIG)}
    reasons = {p: (u.kind, u.reason) for p, u in unread.items()}
    assert reasons == {
        "clickstream/1969-12-31": ("folder", "day 1969-12-31 is before 1970-01-01, the first day Journeys partitions"),
        "clickstream/2025-02-30": ("folder", "'2025-02-30' is not a real date, so it is not a day folder"),
        "clickstream/20250415": ("folder", "'20250415' is not a day folder name (YYYY-MM-DD): rename it 2025-04-15"),
        "clickstream/2025-03-03/.events.jsonl.swp": (
            "file", "hidden (the name starts with '.'): hidden files and folders are left alone"),
        "clickstream/2025-03-03/empty.jsonl": ("file", "the file is empty (0 bytes)"),
        "clickstream/2025-03-03/empty.jsonl.gz": ("file", "the file is empty (0 bytes), not a gzip archive"),
        "clickstream/2025-03-03/nothing.jsonl.gz": ("file", "the gzip archive holds no data (0 bytes once decompressed)"),
        "clickstream/2025-03-03/leak.jsonl": ("symlink", reasons["clickstream/2025-03-03/leak.jsonl"][1]),
        "clickstream/2025-03-03/notes.txt": (
            "file", "the name matches no source's files pattern (clickstream reads '*.jsonl', ignoring case)"),
        "clickstream/2025-03-03/old": (
            "folder", "a folder inside a day folder: only the files directly in the day folder are read"),
        "clickstream/2025-03-03/pipe.jsonl": (
            "special", "not a regular file but a named pipe (fifo): only regular files are read"),
        "clickstream/2025-03-05": ("symlink", reasons["clickstream/2025-03-05"][1]),
        "clickstream/readme.md": ("file", "a file outside any day folder: files are read from <source>/<YYYY-MM-DD>/"),
        "manifest.json": ("file", "a file outside any source folder: files are read from <source>/<YYYY-MM-DD>/"),
        "whatsapp": ("folder", reasons["whatsapp"][1]),
    }
    assert reasons["clickstream/2025-03-03/leak.jsonl"][1].startswith("a symbolic link: links are not followed")
    assert reasons["whatsapp"][1].startswith("no configured source reads the folder 'whatsapp' (source folders: clickstream, crm, support)")
    assert unread["whatsapp"].n_files == 2 and unread["whatsapp"].source is None
    assert unread["clickstream/2025-03-03/notes.txt"].source == "clickstream"
    assert unread["clickstream/2025-03-03/notes.txt"].day == date(2025, 3, 3)
    assert read_files(messy, CONFIG) == {"clickstream/2025-03-03/events.jsonl", "clickstream/2025-03-03/EVENTS-2.JSONL"}
    total, n_read, n_unread = accounted(messy, CONFIG)
    assert (total, n_read, n_unread) == (18, 2, 16)
    assert total == n_read + n_unread


def test_no_link_is_followed(tmp_path):
    root = tmp_path / "landing"
    put(root, "support/2025-03-03/tickets.jsonl")
    outside = put(tmp_path, "elsewhere/2025-03-03/events.jsonl")
    os.symlink(outside.parent.parent, root / "clickstream")            # a linked source folder
    os.symlink(root / "support/2025-03-03/tickets.jsonl", root / "support/2025-03-03/again.jsonl")  # inside the root
    assert landed_days(root, "clickstream", CONFIG.sources["clickstream"]) == []
    assert read_files(root, CONFIG) == {"support/2025-03-03/tickets.jsonl"}
    kinds = {u.path: u.kind for u in survey_landing(root, CONFIG)}
    assert kinds == {"clickstream": "symlink", "support/2025-03-03/again.jsonl": "symlink"}
    assert accounted(root, CONFIG) == (3, 1, 2)


def test_shared_folder_lists_files_no_source_reads(tmp_path):
    root = tmp_path / "landing"
    put(root, "crm/2025-03-03/activities.csv", b"a\n")
    put(root, "crm/2025-03-03/contacts.CSV", b"a\n")
    put(root, "crm/2025-03-03/deals.csv", b"a\n")
    unread = survey_landing(root, CONFIG)
    assert [(u.path, u.source, u.reason) for u in unread] == [(
        "crm/2025-03-03/deals.csv", "crm, crm_contacts",
        "the name matches no source's files pattern (crm reads 'activities*.csv', crm_contacts reads 'contacts*.csv', ignoring case)",
    )]
    assert glob_problems(root, CONFIG) == []  # each source reads its own file: deals.csv is not a glob mistake


def test_days_before_partitions_start_or_a_source_start_date(tmp_path):
    root = tmp_path / "landing"
    for day in ("2024-12-31", "2025-01-01", "2025-03-01"):
        put(root, f"clickstream/{day}/events.jsonl")
        put(root, f"support/{day}/tickets.jsonl")
    config = config_with(tmp_path, sources={"support": {**yaml.safe_load((DEFAULTS_DIR / "sources.yaml").read_text())["sources"]["support"],
                                                        "start_date": "2025-03-01"}},
                         settings={"partitions_start": "2025-01-01"})
    reasons = {u.path: u.reason for u in survey_landing(root, config)}
    assert reasons == {
        "clickstream/2024-12-31": "day 2024-12-31 is before partitions_start (2025-01-01) in settings.yaml: remove it to load every day",
        "support/2024-12-31": "day 2024-12-31 is before sources.support.start_date (2025-03-01) in sources.yaml",
        "support/2025-01-01": "day 2025-01-01 is before sources.support.start_date (2025-03-01) in sources.yaml",
    }
    assert days_to_load(root, config) == [date(2025, 1, 1), date(2025, 3, 1)]
    assert accounted(root, config) == (6, 3, 3)


def test_any_year_loads_with_the_shipped_defaults(tmp_path):
    root = tmp_path / "landing"
    for day in ("2015-06-01", "2024-02-29", "1970-01-01"):
        put(root, f"clickstream/{day}/events.jsonl")
    assert CONFIG.settings.partitions_start is None
    assert days_to_load(root, CONFIG) == [EARLIEST_DAY, date(2015, 6, 1), date(2024, 2, 29)]
    assert survey_landing(root, CONFIG) == []


def test_no_day_in_range_names_the_range_and_the_fix(tmp_path):
    root = tmp_path / "landing"
    put(root, "clickstream/2024-05-01/events.jsonl")
    put(root, "clickstream/2024-05-03/events.jsonl")
    with pytest.raises(LandingError) as e:
        days_to_load(root, CONFIG, date(2025, 1, 1), date(2025, 1, 31))
    assert str(e.value) == (
        f"no landing day folders from 2025-01-01 to 2025-01-31 under {root}; the landed days run from 2024-05-01 to "
        "2024-05-03. Pick dates in that range (--date, --start, --end), or leave them out to load every day."
    )
    with pytest.raises(LandingError, match="no landing day folders on 2024-05-02 under"):
        days_to_load(root, CONFIG, date(2024, 5, 2), date(2024, 5, 2))
    empty = tmp_path / "empty"
    put(empty, "clickstream/20240501/events.jsonl")
    with pytest.raises(LandingError) as e:
        days_to_load(empty, CONFIG)
    assert "Journeys reads <source folder>/<YYYY-MM-DD>/<file>" in str(e.value)
    assert "not read: clickstream/20240501: '20240501' is not a day folder name (YYYY-MM-DD): rename it 2024-05-01" in str(e.value)


def test_a_glob_that_matches_none_of_the_files_is_a_config_error(tmp_path):
    root = tmp_path / "landing"
    put(root, "clickstream/2025-03-03/events.jsonl")
    put(root, "clickstream/2025-03-04/events.jsonl.gz", gzip.compress(LINE))
    put(root, "support/2025-03-03/tickets.jsonl")
    config = config_with(tmp_path, sources={"clickstream": {**yaml.safe_load((DEFAULTS_DIR / "sources.yaml").read_text())["sources"]["clickstream"],
                                                            "files": "*.json"}})
    assert glob_problems(root, config) == [
        f"{tmp_path / 'config' / 'sources.yaml'}: sources.clickstream.files: '*.json' matches none of the 2 file(s) in "
        "clickstream/<YYYY-MM-DD>/, e.g. events.jsonl, events.jsonl.gz. Change the pattern to match them."
    ]
    assert glob_problems(root, CONFIG) == []


@pytest.mark.parametrize(("files", "message"), [
    ("[*.jsonl", "'[*.jsonl' is not a valid glob: the '[' at position 1 has no closing ']' (for a literal '[' write '[[]')"),
    ("2025/*.jsonl", "'2025/*.jsonl' holds a folder separator"),
    (" ", "the files pattern is empty"),
])
def test_a_broken_glob_names_the_file_and_the_key(tmp_path, files, message):
    with pytest.raises(ConfigError) as e:
        config_with(tmp_path, sources={"clickstream": {**yaml.safe_load((DEFAULTS_DIR / "sources.yaml").read_text())["sources"]["clickstream"],
                                                       "files": files}})
    assert f"{tmp_path / 'config' / 'sources.yaml'}: sources.clickstream.files: {message}" in str(e.value)
