"""Landing: read one source's day folders, every line accounted for, for one parse.

The landing files are the raw layer: they are read as they are, each time a day is loaded or
replayed, and the ledger ``raw._partitions`` records what was read (files, fingerprint,
records). Each landed line (JSON Lines), row (CSV) or record (Parquet) becomes one row of the
temp table ``landing_rows`` with its lineage (`_source_file`, `_line`, `_partition`,
`_loaded_at`), which transforms.staging parses once, straight into the staged tables.
Nothing is parsed leniently here: a line DuckDB's JSON or CSV readers would skip or null out
is kept with a `_load_error` that staging turns into a quarantine reason.

Reading is set-based in DuckDB: files are read whole (`read_text`) and split on newlines.
A file that is not valid UTF-8 is read through a copy with its bad lines blanked, and those
lines are put back as escaped text with a `_load_error`, so only they are flagged. CSV rows
are split into fields with one regular expression per row (a plain split when the row has
no quote), with the quoting checked by reassembling the row.

Text files may land gzip-compressed (`<name>.gz`, matched by the source's `files` glob with
or without the suffix). They are decompressed into the same scratch folder; a truncated or
corrupt archive keeps the lines before the damage and gets one rejected row saying where the
rest was lost.
"""

from __future__ import annotations

import codecs
import hashlib
import shutil
import tempfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from transforms.config import SourceConfig
from transforms.landing import landed_days, landed_files, real_dir, source_folder
from transforms.staging import ensure_staged_tables
from transforms.warehouse import mark_changed, memory_limit_bytes, run_sql, transaction


@dataclass
class FileLoad:
    path: str
    lines: int
    bytes: int
    error: str | None = None


@dataclass
class PartitionLoad:
    source: str
    partition: date
    files: list[FileLoad] = field(default_factory=list)
    skipped: bool = False  # no landing folder: existing rows kept
    fingerprint: str = ""

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)


def _is_gzip(path: Path | str) -> bool:
    return str(path).lower().endswith(".gz")


def _text_bytes(path: Path) -> int:
    """Roughly how many bytes of text a file holds: its size, or for gzip the uncompressed
    size its trailer records (that of the last member only, so a concatenated archive
    counts low; this sizes read batches, nothing else)."""
    size = path.stat().st_size
    if not _is_gzip(path) or size < 18:
        return size
    with open(path, "rb") as fh:
        fh.seek(-4, 2)
        return max(size, int.from_bytes(fh.read(4), "little"))


def _gunzip(data: bytes) -> tuple[bytes, str | None]:
    """The text of a gzip archive (all members), and a reason if it is damaged. A damaged
    archive keeps the complete lines decoded before the damage."""
    out: list[bytes] = []
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            out.append(d.decompress(rest))
            if not d.eof:
                raise EOFError
            rest = d.unused_data.lstrip(b"\0")
        return b"".join(out), None
    except (zlib.error, EOFError):
        text = b"".join(out)
        text = text[: text.rfind(b"\n") + 1]
        kept = text.count(b"\n")
        return text, f"the gzip file is cut short or damaged, so the lines after line {kept} could not be read"


LOADER_FORMAT = "one-pass-1"
"""The shape of what a load writes. It is part of every day's fingerprint, so a warehouse
loaded by an earlier loader (other staging tables) reloads its days once, instead of checking
counts against tables that loader never wrote."""


def fingerprint(files: list[Path]) -> str:
    """Name, size and modification time of each file, and the loader's format: changes when a
    file is added or rewritten, or when the loader writes its tables differently."""
    h = hashlib.sha256(LOADER_FORMAT.encode() + b"\n")
    for p in files:
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _hex_escape(err: UnicodeDecodeError) -> tuple[str, int]:
    return "".join(f"\\x{b:02X}" for b in err.object[err.start:err.end]), err.end


codecs.register_error("journeys-hex", _hex_escape)


_UTF8_CHUNK = 1 << 20
"""Bytes checked per decoder call: a decoding error copies the input it was given into the
exception, so a file with many bad lines is checked in windows, not from the bad line to the
end of the file each time."""


def _split_out_bad_lines(data: bytes) -> tuple[bytes, list[tuple[int, str, int]]] | None:
    """None for a file that is valid UTF-8. Otherwise the same file with each line holding
    invalid bytes blanked to one space (so every line keeps its number), and those lines as
    (line number, text with the bad bytes shown as \\xNN, byte length). The work is per bad
    line: the decoder stops at a bad byte and resumes after its line."""
    view = memoryview(data)
    n = len(data)
    bad: list[tuple[int, str, int]] = []
    parts: list[bytes | memoryview] = []
    kept, pos, line_no, counted_to = 0, 0, 1, 0
    while pos < n:
        final = pos + _UTF8_CHUNK >= n
        try:
            # not final: a character cut at the window's end is left for the next window
            _, used = codecs.utf_8_decode(view[pos:pos + _UTF8_CHUNK], "strict", final)
            pos += used
            continue
        except UnicodeDecodeError as err:
            at = pos + err.start
        line_start = data.rfind(b"\n", 0, at) + 1
        line_end = data.find(b"\n", at)
        if line_end < 0:
            line_end = n
        line_no += data.count(b"\n", counted_to, line_start)
        counted_to = line_start
        raw = data[line_start:line_end]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        bad.append((line_no, raw.decode("utf-8", errors="journeys-hex"), len(raw)))
        parts += [view[kept:line_start], b" "]
        kept = pos = line_end
    if not bad:
        return None
    parts.append(view[kept:])
    return b"".join(parts), bad


def _prepare_text_file(f: str, copy: Path) -> tuple[bool, list[tuple[int, str, int]], tuple[int, str] | None]:
    """Make `f` readable by `read_text`: decompress a gzip file and blank the lines that are
    not valid UTF-8, writing the result to `copy` when it differs from the file. Returns
    whether `copy` was written, the bad lines, and (line, reason) of a damaged archive."""
    data = Path(f).read_bytes()
    damage = None
    changed = _is_gzip(f)
    if changed:
        data, reason = _gunzip(data)
        if reason:
            damage = (data.count(b"\n") + 1, reason)
    split = _split_out_bad_lines(data)
    bad: list[tuple[int, str, int]] = []
    if split is not None:
        data, bad = split
        changed = True
    if changed:
        copy.write_bytes(data)
    return changed, bad, damage


def _read_text_files(con: duckdb.DuckDBPyConnection, loaded_at: datetime) -> None:
    """Fill temp table `landing_rows` with the physical lines of the files in temp table
    `landing_files`, in one set-based `read_text` pass. A gzip file, or one that is not valid
    UTF-8, is read through a scratch copy (decompressed, with its bad lines blanked; see
    `_split_out_bad_lines`); the bad lines are then put back as their escaped text with a
    `_load_error`, so only they are flagged."""
    files = [r[0] for r in run_sql(con, "ingest/landing_file_paths").fetchall()]
    if not files:
        return
    bad_rows: list[tuple[str, int, str | None, int, str, str]] = []  # file, line, text, bytes, reason, note
    threads = int(_setting(con, "threads"))
    with tempfile.TemporaryDirectory(prefix="journeys-landing-", dir=_scratch_dir(con)) as scratch:
        copies = [Path(scratch) / f"{i}.txt" for i in range(len(files))]
        # reading, decompressing and writing release the GIL: files are prepared in parallel
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            prepared = list(pool.map(_prepare_text_file, files, copies))
        moved = [(str(copy), f) for f, copy, (changed, _, _) in zip(files, copies, prepared, strict=True) if changed]
        if moved:
            run_sql(con, "ingest/read_from_copies", {"c": [m[0] for m in moved], "f": [m[1] for m in moved]})
        for f, (_, bad, damage) in zip(files, prepared, strict=True):
            bad_rows += [(f, n, text, nbytes, "the line is not valid UTF-8 text", "some lines are not valid UTF-8")
                         for n, text, nbytes in bad]
            if damage:
                bad_rows.append((f, damage[0], None, 0, damage[1], damage[1]))
        paths = [r[1] for r in run_sql(con, "ingest/landing_file_paths").fetchall()]
        run_sql(con, "ingest/read_text", {"paths": paths, "at": loaded_at})
    if bad_rows:
        # a damaged archive's row is new (its line was lost); a bad UTF-8 line replaces its blank
        run_sql(con, "ingest/put_back_bad_lines", {
            "f": [r[0] for r in bad_rows], "n": [r[1] for r in bad_rows], "p": [r[2] for r in bad_rows],
            "b": [r[3] for r in bad_rows], "r": [r[4] for r in bad_rows], "o": [r[5] for r in bad_rows],
            "at": loaded_at})


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """A setting of the connection (threads, temp_directory, memory_limit), as text."""
    return str(run_sql(con, "ops/catalog/setting", {"name": name}).fetchall()[0][0])


def _scratch_dir(con: duckdb.DuckDBPyConnection) -> str | None:
    """The connection's spill folder (beside the warehouse), else the system's. Scratch
    copies a killed run left there are removed: only one run writes a warehouse at a time."""
    folder = _setting(con, "temp_directory")
    if folder and folder != ".tmp":
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("journeys-landing-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return folder
    return None


def _csv_to_records(con: duckdb.DuckDBPyConnection, cfg: SourceConfig) -> None:
    """Turn the physical lines of CSV files (payload = line) into JSON records keyed by each
    file's header. Rows with a wrong field count or broken quoting keep their text and get a
    `_load_error`; a file whose header lacks a required column is rejected whole."""
    _join_quoted_newlines(con)
    delim = cfg.delimiter
    fields_re = f'("(?:[^"]|"")*"|[^{_re_class(delim)}"]*){_re_escape(delim)}'
    whole_re = f'(?:"(?:[^"]|"")*"|[^{_re_class(delim)}"]*){_re_escape(delim)}'
    headers = run_sql(con, "ingest/csv_headers", {"d": delim, "fre": fields_re}).fetchall()
    required = cfg.required_columns()
    problems: list[str | None] = []
    for _rel, load_error, cols in headers:  # once per file, not per row
        if load_error is not None:
            problems.append("the file's header line is not valid UTF-8, so no row can be read")
            continue
        missing = [" or ".join(repr(p) for p in paths) for paths in required if not any(p in cols for p in paths)]
        problems.append(
            f"the file's header lacks the required column {', '.join(missing)}, so the whole file is rejected"
            if missing else None
        )
    run_sql(con, "ingest/csv_header_problems",
            {"rel": [h[0] for h in headers], "cols": [h[2] for h in headers], "problem": problems})
    run_sql(con, "ingest/csv_records", {"d": delim, "fre": fields_re, "wre": whole_re})


def _join_quoted_newlines(con: duckdb.DuckDBPyConnection) -> None:
    """Join the physical lines of a CSV record whose quoted field holds a line break (RFC 4180)
    into one row of `landing_rows`, numbered by its first line. A line with an odd number of
    quotes opens a quoted field that the next such line closes; the lines between belong to
    the same record. A field still open at the end of the file is not joined (its lines keep
    their own rows and are rejected for their unbalanced quotes), nor is a group holding a
    line that already failed to load. Files without an odd line, the usual case, cost one scan."""
    try:
        if run_sql(con, "ingest/csv_odd_files").fetchall()[0][0]:
            run_sql(con, "ingest/csv_join_quoted")
    finally:
        run_sql(con, "ingest/drop_csv_odd_files")


def _re_escape(ch: str) -> str:
    return "\\" + ch if ch in r".^$*+?()[]{}|\/" else ch


def _re_class(ch: str) -> str:
    return "\\" + ch if ch in r"\]^-" else ch


def _batches(landing_dir: Path, name: str, cfg: SourceConfig, days: list[date],
             max_bytes: int) -> tuple[list[list[tuple[date, list[Path]]]], list[date]]:
    """Group the day folders into batches of at most `max_bytes` of files (at least one day
    each), so memory stays bounded however many days a run covers. Also returns the days
    without a landing folder."""
    batches: list[list[tuple[date, list[Path]]]] = [[]]
    size, missing = 0, []
    for day in sorted(days):
        if not real_dir(source_folder(landing_dir, name, cfg) / day.isoformat()):
            missing.append(day)
            continue
        files = landed_files(landing_dir, name, cfg, day)
        day_bytes = sum(_text_bytes(p) for p in files)
        if batches[-1] and size + day_bytes > max_bytes:
            batches.append([])
            size = 0
        batches[-1].append((day, files))
        size += day_bytes
    return [b for b in batches if b], missing


def batch_bytes_for(con: duckdb.DuckDBPyConnection) -> int:
    """How many bytes of landed files to read in one batch: a fifth of DuckDB's memory limit
    (a batch's lines, their parse and its records are in flight together), between 64 MB and
    1 GB, so a smaller limit means smaller batches rather than spilling."""
    limit = memory_limit_bytes(con)
    if limit <= 0:
        return 1_000_000_000
    return int(min(max(limit / 5, 64_000_000), 1_000_000_000))


def load_partitions(con: duckdb.DuckDBPyConnection, landing_dir: Path, name: str, cfg: SourceConfig,
                    days: list[date], loaded_at: datetime, run_id: str | None = None,
                    started_at: datetime | None = None,
                    after_load: Callable[[list[date]], object] | None = None,
                    max_batch_bytes: int | None = None,
                    before_insert: Callable[[list[date]], object] | None = None,
                    ledger: bool = True) -> list[PartitionLoad]:
    """Read source `name`'s landing days `days` from their files and record them in the ledger
    raw._partitions. Days are read in size-capped batches; each batch is read set-based into
    the temp table `landing_rows` (a failed read cannot abort the transaction), then, in one
    transaction, recorded in the ledger and handed to `after_load(batch_days)`, which parses
    and files the lines (transforms.staging.parse_partitions). `before_insert(batch_days)`
    may change `landing_rows` first (erasure blanks lines there, so they are never parsed).
    Without `ledger` the ledger is left as it is (a replay after an erasure). A missing folder
    leaves that partition's rows alone (landing files may have been archived)."""
    ensure_staged_tables(con)
    batches, missing = _batches(landing_dir, name, cfg, days, max_batch_bytes or batch_bytes_for(con))
    results = [PartitionLoad(source=name, partition=d, skipped=True) for d in missing]
    for batch in batches:
        run_sql(con, "ingest/landing_tables")
        rows = [(str(p), f"{cfg.folder or name}/{day.isoformat()}/{p.name}", day, p.stat().st_size)
                for day, files in batch for p in files]
        if rows:
            run_sql(con, "ingest/add_landing_files",
                    {"f": [r[0] for r in rows], "r": [r[1] for r in rows], "d": [r[2] for r in rows], "b": [r[3] for r in rows]})
            if cfg.format == "parquet":
                run_sql(con, "ingest/read_parquet", {"at": loaded_at, "files": [r[0] for r in rows]})
            else:
                _read_text_files(con, loaded_at)
                if cfg.format == "csv":
                    _csv_to_records(con, cfg)
        per_file, notes = {}, {}
        for rel, n_lines, note in run_sql(con, "ingest/lines_per_file").fetchall():
            per_file[rel], notes[rel] = n_lines, note
        batch_results = []
        for day, files in batch:
            res = PartitionLoad(source=name, partition=day, fingerprint=fingerprint(files))
            for p in files:
                rel = f"{cfg.folder or name}/{day.isoformat()}/{p.name}"
                res.files.append(FileLoad(path=rel, lines=per_file.get(rel, 0), bytes=p.stat().st_size, error=notes.get(rel)))
            batch_results.append(res)
        batch_days = [d for d, _ in batch]
        if before_insert is not None:
            before_insert(batch_days)
        try:
            with transaction(con):
                if ledger:
                    run_sql(con, "ingest/record_partitions", {
                        "source": name, "days": batch_days, "fps": [r.fingerprint for r in batch_results],
                        "nfs": [len(r.files) for r in batch_results], "nls": [r.lines for r in batch_results],
                        "run": run_id, "started": started_at or loaded_at, "at": loaded_at})
                    mark_changed(con, "raw._partitions")
                if after_load is not None:
                    after_load(batch_days)
        finally:
            run_sql(con, "ingest/drop_landing_tables")
        results += batch_results
    return sorted(results, key=lambda r: r.partition)


def load_partition(con: duckdb.DuckDBPyConnection, landing_dir: Path, name: str, cfg: SourceConfig,
                   day: date, loaded_at: datetime, run_id: str | None = None,
                   started_at: datetime | None = None,
                   after_load: Callable[[], object] | None = None) -> PartitionLoad:
    """Replace one partition (see load_partitions)."""
    (res,) = load_partitions(con, landing_dir, name, cfg, [day], loaded_at, run_id, started_at,
                             after_load=(lambda _days: after_load()) if after_load else None)
    return res


def pending_days(con: duckdb.DuckDBPyConnection | None, landing_dir: Path, name: str,
                 cfg: SourceConfig, start: date | None = None, end: date | None = None) -> list[date]:
    """Day folders whose files changed since they were loaded (or were never loaded)."""
    loaded: dict[date, str] = {}
    if con is not None:
        try:
            loaded = {day: fp for day, _, fp in run_sql(con, "ingest/ledger_days", {"source": name}).fetchall()}
        except duckdb.CatalogException:
            loaded = {}
    out = []
    for day in landed_days(landing_dir, name, cfg):
        if (start and day < start) or (end and day > end):
            continue
        if loaded.get(day) != fingerprint(landed_files(landing_dir, name, cfg, day)):
            out.append(day)
    return out
