"""What the landing zone holds: which files each source reads, and why every other entry is not read.

The landing zone is `<landing>/<source folder>/<YYYY-MM-DD>/<file>`. Everything here looks at
entries with `lstat` (`os.scandir` without following links): a symbolic link or a special
file (fifo, socket, device) is never read, whatever it points to, so the landing zone cannot
reach outside itself. Links are refused rather than resolved and checked against the root:
a link inside the root would read the same records twice, and a check on the target races
with whoever can change the link.

`landed_files` (what a source reads) and `survey_landing` (what nothing reads, with the
reason) apply the same rules, so every entry under the landing root is one or the other.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from transforms.config import Config, SettingsFile, SourceConfig, glob_matches
from transforms.warehouse import apply_comments, mark_changed, run_sql, transaction

# The first day Dagster partitions when settings.partitions_start is unset: every landing day
# folder from 1970 on is loaded; earlier folders are listed as not read, with this reason.
# 20,000 daily partitions cost a run about 0.2 s for each unpartitioned asset that depends on
# every day of a raw asset, per raw asset (Dagster lists every partition to version the
# inputs): none does (staging depends on each raw asset's last day, quarantine.unread_files
# follows the ledger, publish follows staging).
EARLIEST_DAY = date(1970, 1, 1)

_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_DAY_RE = re.compile(r"^(\d{4})[_.]?(\d{2})[_.]?(\d{2})$")


class LandingError(Exception):
    """The landing zone cannot be read as configured. The message names the path and the fix."""


@dataclass(frozen=True)
class Unread:
    """One landing entry (file or folder) that no source reads, and why."""

    path: str  # relative to the landing root, with '/'
    kind: str  # file, folder, symlink or special
    reason: str
    source: str | None = None  # the source(s) whose folder it is in, comma-separated when they share it
    day: date | None = None  # the landing day, when it is in (or is) a day folder
    n_files: int = 1  # entries that are not folders: 1, or how many a folder holds


# --------------------------------------------------------------------------- days


def first_day(settings: SettingsFile, cfg: SourceConfig | None = None) -> date:
    """The first landing day loaded: settings.partitions_start (the Dagster partitions' start),
    else 1970-01-01; a source's own start_date can only move its first day later."""
    floor = settings.partitions_start or EARLIEST_DAY
    if cfg is not None and cfg.start_date is not None:
        return max(floor, cfg.start_date)
    return floor


def last_day() -> date:
    """The last day partitioned: today in UTC (the daily partitions end one day after the last
    complete day)."""
    return datetime.now(UTC).date()


def _window(settings: SettingsFile, cfg: SourceConfig) -> tuple[date, date]:
    return first_day(settings, cfg), last_day()


def parse_day(name: str) -> date | None:
    """A day folder's date: its name must be YYYY-MM-DD and a real date."""
    if not _DAY_RE.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def real_dir(path: Path) -> bool:
    """A real folder, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def source_folder(landing_dir: Path, name: str, cfg: SourceConfig) -> Path:
    return landing_dir / (cfg.folder or name)


def landed_days(landing_dir: Path, name: str, cfg: SourceConfig, settings: SettingsFile | None = None) -> list[date]:
    """The day folders (real folders named YYYY-MM-DD with a real date) of a source; with
    `settings`, only those in the source's window (first_day .. today)."""
    folder = source_folder(landing_dir, name, cfg)
    if not real_dir(folder):
        return []
    lo, hi = _window(settings, cfg) if settings is not None else (date.min, date.max)
    out = []
    for entry in _scandir(folder):
        day = parse_day(entry.name)
        if day is not None and lo <= day <= hi and entry.is_dir(follow_symlinks=False):
            out.append(day)
    return sorted(out)


def days_to_load(landing_dir: Path, config: Config, lo: date | None = None, hi: date | None = None) -> list[date]:
    """Every landing day some source loads, within [lo, hi] when given. Raises LandingError,
    naming the range asked for and the fix, when there is none."""
    landed = sorted({d for n, s in config.sources.items() for d in landed_days(landing_dir, n, s, config.settings)})
    days = [d for d in landed if (lo is None or d >= lo) and (hi is None or d <= hi)]
    if days:
        return days
    if landed:
        asked = f"on {lo}" if lo is not None and lo == hi else f"from {lo or 'the first day'} to {hi or 'the last day'}"
        raise LandingError(
            f"no landing day folders {asked} under {landing_dir}; the landed days run from {landed[0]} to "
            f"{landed[-1]}. Pick dates in that range (--date, --start, --end), or leave them out to load every day."
        )
    folders = sorted({s.folder or n for n, s in config.sources.items()})
    unread = survey_landing(landing_dir, config)
    seen = "".join(f"\n  not read: {u.path}: {u.reason}" for u in unread[:5])
    raise LandingError(
        f"no landing day folders under {landing_dir}. Journeys reads <source folder>/<YYYY-MM-DD>/<file>, "
        f"with source folders {', '.join(folders)} (see sources.yaml).{seen}"
    )


# --------------------------------------------------------------------------- files


def _scandir(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError:
        return []


def _kind(entry: os.DirEntry) -> str:
    if entry.is_symlink():
        return "symlink"
    if entry.is_dir(follow_symlinks=False):
        return "folder"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "special"


def _special_name(entry: os.DirEntry) -> str:
    mode = entry.stat(follow_symlinks=False).st_mode
    if stat.S_ISFIFO(mode):
        return "a named pipe (fifo)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _entry_problem(entry: os.DirEntry) -> str | None:
    """Why an entry is never read, whatever the configuration, or None for a visible regular file."""
    kind = _kind(entry)
    if entry.name.startswith("."):
        return "hidden (the name starts with '.'): hidden files and folders are left alone"
    if kind == "symlink":
        return "a symbolic link: links are not followed, so the landing zone cannot reach outside itself; copy the file in instead"
    if kind == "special":
        return f"not a regular file but {_special_name(entry)}: only regular files are read"
    return None


def _file_problem(entry: os.DirEntry) -> str | None:
    """Why a regular file matched by a source's glob is still not read, or None."""
    if entry.stat(follow_symlinks=False).st_size == 0:
        return "the file is empty (0 bytes)" + (", not a gzip archive" if entry.name.lower().endswith(".gz") else "")
    if not os.access(entry.path, os.R_OK, follow_symlinks=False):
        return "the file cannot be read (permission denied): give the pipeline's user read access"
    if entry.name.lower().endswith(".gz") and _empty_gzip(entry):
        return "the gzip archive holds no data (0 bytes once decompressed)"
    return None


def _empty_gzip(entry: os.DirEntry) -> bool:
    """A well-formed gzip archive with nothing in it (an empty one is about 20 bytes; only
    small files are opened). A damaged archive is left to the reader, which rejects it."""
    if entry.stat(follow_symlinks=False).st_size > 256:
        return False
    try:
        with open(entry.path, "rb", opener=lambda path, flags: os.open(path, flags | os.O_NOFOLLOW)) as fh:
            return gzip.decompress(fh.read()) == b""
    except (OSError, EOFError, zlib.error):
        return False


def matches(cfg: SourceConfig, file_name: str) -> bool:
    """Whether a source's `files` glob takes a file name, ignoring case; text formats also take
    the gzip-compressed form `<match>.gz`."""
    if glob_matches(cfg.files, file_name):
        return True
    return cfg.format != "parquet" and file_name.lower().endswith(".gz") and glob_matches(cfg.files, file_name[:-3])


def landed_files(landing_dir: Path, name: str, cfg: SourceConfig, day: date) -> list[Path]:
    """The files of one day folder that the source reads: regular, visible, non-empty files
    matching its glob (see `matches`). Links and special files are never read."""
    folder = source_folder(landing_dir, name, cfg) / day.isoformat()
    if not real_dir(folder):
        return []
    return [
        Path(e.path) for e in _scandir(folder)
        if _kind(e) == "file" and _entry_problem(e) is None and matches(cfg, e.name) and _file_problem(e) is None
    ]


def _count_files(entry: os.DirEntry) -> int:
    """Entries that are not folders under `entry` (itself, when it is not a folder), links not followed."""
    if not entry.is_dir(follow_symlinks=False):
        return 1
    return sum(_count_files(e) for e in _scandir(Path(entry.path)))


def count_landed_entries(landing_dir: Path) -> int:
    """Every entry under the landing root that is not a folder (files, links, fifos …)."""
    return sum(_count_files(e) for e in _scandir(landing_dir))


# --------------------------------------------------------------------------- survey


def survey_landing(landing_dir: Path, config: Config) -> list[Unread]:
    """Every entry under the landing root that no source reads, with the reason; an unread
    folder is one row (its `n_files` counts the entries inside). Together with the files the
    sources read (`landed_files` of each day of `landed_days`), this accounts for every entry."""
    groups: dict[str, list[tuple[str, SourceConfig]]] = {}
    for name, cfg in config.sources.items():
        groups.setdefault(cfg.folder or name, []).append((name, cfg))
    out: list[Unread] = []
    for entry in _scandir(landing_dir):
        kind = _kind(entry)
        problem = _entry_problem(entry)
        group = groups.get(entry.name)
        source = ", ".join(n for n, _ in group) if group else None
        if problem:
            out.append(Unread(entry.name, kind, problem, source, n_files=_count_files(entry)))
        elif kind != "folder":
            out.append(Unread(entry.name, kind, "a file outside any source folder: files are read from <source>/<YYYY-MM-DD>/"))
        elif group is None:
            out.append(Unread(
                entry.name, kind,
                f"no configured source reads the folder '{entry.name}' (source folders: {', '.join(sorted(groups))}); "
                "add a source for it to sources.yaml, or move its files into a source's folder",
                n_files=_count_files(entry),
            ))
        else:
            out += _survey_source_folder(Path(entry.path), entry.name, group, config.settings)
    return out


def _day_name_problem(name: str) -> str:
    m = _COMPACT_DAY_RE.match(name)
    if m:
        try:
            fixed = date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            return f"'{name}' is not a day folder name (YYYY-MM-DD): rename it {fixed}"
        except ValueError:
            pass
    if _DAY_RE.match(name):
        return f"'{name}' is not a real date, so it is not a day folder"
    return f"'{name}' is not a day folder (YYYY-MM-DD)"


def _outside_window(day: date, settings: SettingsFile, name: str, cfg: SourceConfig) -> str | None:
    if day > last_day():
        return f"day {day} is after today ({last_day()}, UTC): it is loaded once that day has come"
    if cfg.start_date is not None and day < cfg.start_date and (settings.partitions_start or EARLIEST_DAY) <= cfg.start_date:
        return f"day {day} is before sources.{name}.start_date ({cfg.start_date}) in sources.yaml"
    if settings.partitions_start is not None and day < settings.partitions_start:
        return f"day {day} is before partitions_start ({settings.partitions_start}) in settings.yaml: remove it to load every day"
    if day < EARLIEST_DAY:
        return f"day {day} is before {EARLIEST_DAY}, the first day Journeys partitions"
    return None


def _survey_source_folder(folder: Path, rel: str, group: list[tuple[str, SourceConfig]],
                          settings: SettingsFile) -> Iterator[Unread]:
    source = ", ".join(n for n, _ in group)
    for entry in _scandir(folder):
        path = f"{rel}/{entry.name}"
        kind = _kind(entry)
        problem = _entry_problem(entry)
        if problem:
            yield Unread(path, kind, problem, source, n_files=_count_files(entry))
            continue
        if kind != "folder":
            yield Unread(path, kind, "a file outside any day folder: files are read from <source>/<YYYY-MM-DD>/", source)
            continue
        day = parse_day(entry.name)
        if day is None:
            yield Unread(path, kind, _day_name_problem(entry.name), source, n_files=_count_files(entry))
            continue
        windows = {n: _outside_window(day, settings, n, c) for n, c in group}
        if all(windows.values()):
            yield Unread(path, kind, next(iter(windows.values())) or "", source, day, n_files=_count_files(entry))
            continue
        yield from _survey_day_folder(Path(entry.path), path, day, group, windows, source)


def _survey_day_folder(folder: Path, rel: str, day: date, group: list[tuple[str, SourceConfig]],
                       windows: dict[str, str | None], source: str) -> Iterator[Unread]:
    for entry in _scandir(folder):
        path = f"{rel}/{entry.name}"
        kind = _kind(entry)
        problem = _entry_problem(entry)
        if problem:
            yield Unread(path, kind, problem, source, day, n_files=_count_files(entry))
            continue
        if kind == "folder":
            yield Unread(path, kind, "a folder inside a day folder: only the files directly in the day folder are read",
                         source, day, n_files=_count_files(entry))
            continue
        readers = [n for n, c in group if matches(c, entry.name)]
        if not readers:
            globs = ", ".join(f"{n} reads '{c.files}'" for n, c in group)
            yield Unread(path, kind, f"the name matches no source's files pattern ({globs}, ignoring case)", source, day)
            continue
        if all(windows[n] for n in readers):
            yield Unread(path, kind, windows[readers[0]] or "", source, day)
            continue
        problem = _file_problem(entry)
        if problem:
            yield Unread(path, kind, problem, source, day)


# --------------------------------------------------------------------------- globs


def glob_problems(landing_dir: Path, config: Config) -> list[str]:
    """A configuration error for each source whose `files` glob matches none of the files in its
    day folders while some of those files are read by no source: the glob is wrong, not the
    data missing. Each message names the file, the key, the glob and files it saw. Meant for
    `journeys run` (exit 2) and `journeys check`."""
    return [p for p in (glob_problem(landing_dir, config, name) for name in config.sources) if p]


def glob_problem(landing_dir: Path, config: Config, name: str) -> str | None:
    """See glob_problems; one source."""
    cfg = config.sources[name]
    siblings = [c for n, c in config.sources.items() if (c.folder or n) == (cfg.folder or name)]
    unmatched: list[str] = []
    for day in landed_days(landing_dir, name, cfg, config.settings):
        for entry in _scandir(source_folder(landing_dir, name, cfg) / day.isoformat()):
            if _kind(entry) != "file" or _entry_problem(entry) is not None:
                continue
            if matches(cfg, entry.name):
                return None
            if not any(matches(c, entry.name) for c in siblings):
                unmatched.append(entry.name)
    if not unmatched:
        return None
    names = sorted(set(unmatched))
    exts = sorted({n.lower().rsplit(".", 1)[-1] for n in names if "." in n.lstrip(".")})
    hint = f" (these files would be read by files: \"*.{exts[0]}\")" if len(exts) == 1 else ""
    return (
        f"{config.files.get('sources', 'sources.yaml')}: sources.{name}.files: '{cfg.files}' matches none of the "
        f"{len(unmatched)} file(s) in {cfg.folder or name}/<YYYY-MM-DD>/, e.g. {', '.join(names[:3])}. "
        f"Change the pattern to match them{hint}."
    )


def unread_warning(landing_dir: Path, config: Config) -> str | None:
    """A line for `journeys run` and `journeys status` when some landing entries are not read."""
    unread = survey_landing(landing_dir, config)
    if not unread:
        return None
    n = sum(u.n_files for u in unread)
    first = unread[0]
    return (
        f"{len(unread)} landing entr{'y' if len(unread) == 1 else 'ies'} ({n} file(s)) not read, e.g. {first.path}: "
        f"{first.reason}. All are listed with their reason in quarantine.unread_files "
        "(journeys sql \"select path, reason from quarantine.unread_files\")."
    )


# --------------------------------------------------------------------------- the table

def record_unread(con: duckdb.DuckDBPyConnection, unread: list[Unread], run_id: str | None, found_at: datetime) -> int:
    """Replace quarantine.unread_files (one row per landing entry not read) with `unread`."""
    with transaction(con):
        run_sql(con, "ingest/record_unread", {
            "source": [u.source for u in unread], "path": [u.path for u in unread], "kind": [u.kind for u in unread],
            "day": [u.day for u in unread], "n": [u.n_files for u in unread], "reason": [u.reason for u in unread],
            "run": run_id, "at": found_at})
        apply_comments(con, "quarantine.unread_files")
        mark_changed(con, "quarantine.unread_files")
    return len(unread)
