"""Landing -> staging/quarantine in one pass on crafted files: every line is accounted for and
every kind of bad record gets its own reason."""

import hashlib
import hmac
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from transforms.config import load_config
from transforms.ingest import batch_bytes_for, load_partition, pending_days
from transforms.staging import build_staging, count_discrepancies, parse_partitions
from transforms.warehouse import connect, hmac_pads

DAY = date(2025, 3, 3)
NOW = datetime(2025, 3, 10)
CONFIG = load_config()


def ev(mid, **kw):
    base = {"messageId": mid, "type": "track", "event": "Product Viewed", "anonymousId": "a1",
            "timestamp": "2025-03-03T10:00:00+02:00"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not None})


def land(tmp_path: Path, source: str, name: str, data: bytes | str, day: date = DAY) -> Path:
    folder = tmp_path / "landing" / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    return tmp_path / "landing"


def load(tmp_path: Path, *sources: str, days=(DAY,)) -> duckdb.DuckDBPyConnection:
    con = connect(tmp_path / "w.duckdb")
    for s in sources:
        for d in days:
            load_partition(con, tmp_path / "landing", s, CONFIG.sources[s], d, NOW,
                           after_load=lambda s=s, d=d: parse_partitions(con, s, CONFIG.sources[s], [d], CONFIG.settings, "k", NOW))
    build_staging(con)
    return con


def rejected(con) -> dict[int, str]:
    return dict(con.execute("select _line, reason from quarantine.rejected order by _line").fetchall())


def test_each_bad_jsonl_record_gets_its_own_reason(tmp_path):
    lines = [
        ev("m1"),                                                   # 1 good
        "{not json",                                                # 2
        ev("m2"),                                                   # 3 good, right after a malformed line
        "",                                                         # 4 empty
        ev(None),                                                   # 5 missing id
        ev("m3", timestamp=None),                                   # 6 missing timestamp
        ev("m4", timestamp="next tuesday"),                         # 7 unparseable
        ev("m5", timestamp="1999-12-31T23:59:59Z"),                 # 8 before 2000
        ev("m6", timestamp="2099-01-01T00:00:00Z"),                 # 9 future
        ev("m7", anonymousId=None),                                 # 10 no identifier
        ev("m8", properties={"revenue": "twelve"}),                 # 11 wrong type
        json.dumps({"messageId": "m9", "pad": "x" * 1_100_000}),   # 12 oversized
        "[1, 2]",                                                   # 13 JSON but not an object
    ]
    land(tmp_path, "clickstream", "e.jsonl", "\n".join(lines) + "\n")
    con = load(tmp_path, "clickstream")
    r = rejected(con)
    assert r == {
        2: "the line is not valid JSON",
        4: "empty line",
        5: "missing id (field messageId)",
        6: "missing timestamp (field timestamp)",
        7: "timestamp 'next tuesday' cannot be read as ISO 8601",
        8: "timestamp 1999-12-31 23:59:59 is before 2000-01-01",
        9: "timestamp 2099-01-01 00:00:00 is in the future (more than 1d after the run)",
        10: "no identifier: anonymousId, userId, traits.email are all empty",
        11: "amount 'twelve' is not a number",
        12: r[12],
        13: "the line is JSON but not an object",
    }
    assert r[12].startswith("the record is ") and "over the limit of 1000000 bytes" in r[12]
    assert con.execute("select source_event_id from staging.events order by 1").fetchall() == [("m1",), ("m2",)]
    assert count_discrepancies(con) == []


def test_invalid_utf8_flags_only_its_line(tmp_path):
    data = (ev("m1") + "\n").encode() + b'{"messageId":"m2","anonymousId":"\xff\xfe"}\n' + (ev("m3") + "\n").encode()
    land(tmp_path, "clickstream", "e.jsonl", data)
    con = load(tmp_path, "clickstream")
    assert rejected(con) == {2: "the line is not valid UTF-8 text"}
    assert con.execute("select count(*) from staging.events").fetchall() == [(2,)]
    payload = con.execute("select payload from quarantine.rejected").fetchall()[0][0]
    assert "\\xFF" in payload  # the bad bytes are kept, escaped


def staged(con) -> list[tuple]:
    return con.execute("select * exclude (_source_file, _loaded_at) from staging.events order by event_id").fetchall()


def test_gzip_files_read_like_plain_ones(tmp_path):
    import gzip

    lines = (ev("m1") + "\n").encode() + b'{"messageId":"m2","anonymousId":"\xff"}\n' + (ev("m3") + "\n").encode()
    csv = b"activity_id,contact_id,email,activity_type,occurred_at,channel,amount\nx1,c1,a@b.co,call,2025-03-03 10:00:00,phone,\n"
    plain, packed = tmp_path / "plain", tmp_path / "packed"
    land(plain, "clickstream", "e.jsonl", lines)
    land(plain, "crm", "activities.csv", csv)
    # two gzip members, as `cat a.gz b.gz` makes
    land(packed, "clickstream", "e.jsonl.gz", gzip.compress(lines[:40]) + gzip.compress(lines[40:]))
    land(packed, "crm", "activities.csv.gz", gzip.compress(csv))
    land(packed, "crm", "notes.txt.gz", gzip.compress(b"not a landing file"))
    a, b = load(plain, "clickstream", "crm"), load(packed, "clickstream", "crm")
    assert staged(a) == staged(b) and len(staged(b)) == 3
    assert rejected(b) == {2: "the line is not valid UTF-8 text"}
    assert b.execute("select distinct _source_file from staging.events where source = 'crm'").fetchall() == [
        ("crm/2025-03-03/activities.csv.gz",)]
    assert count_discrepancies(b) == []


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_keeps_lines_before_the_damage(tmp_path, damage):
    import gzip

    text = "".join(ev(f"m{i}") + "\n" for i in range(2000)).encode()
    data = gzip.compress(text, compresslevel=1)
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = data[: len(data) // 2] + bytes(b ^ 0x5A for b in data[len(data) // 2:])
    land(tmp_path, "clickstream", "e.jsonl.gz", data)
    con = load(tmp_path, "clickstream")
    reasons = rejected(con)
    line = max(reasons)  # the archive's row comes after every line read from it
    kept = con.execute("select count(*) from staging.events").fetchall()[0][0]
    assert 0 < kept < 2000 and kept <= line - 1
    assert reasons[line] == f"the gzip file is cut short or damaged, so the lines after line {line - 1} could not be read"
    if damage == "truncated":  # every line before the cut is intact
        assert len(reasons) == 1 and kept == line - 1
    assert count_discrepancies(con) == []


def test_timestamps_normalised_to_utc(tmp_path):
    lines = [ev("a", timestamp="2025-03-03T10:00:00+02:00"), ev("b", timestamp="2025-03-03T10:00:00-05:00"),
             ev("c", timestamp="2025-03-03T10:00:00Z"), ev("d", timestamp="2025-03-03T10:00:00.250Z"),
             ev("e", timestamp="2025-03-03 10:00:00")]
    land(tmp_path, "clickstream", "e.jsonl", "\n".join(lines))  # no final newline
    con = load(tmp_path, "clickstream")
    got = dict(con.execute("select source_event_id, strftime(occurred_at, '%H:%M:%S.%g') from staging.events").fetchall())
    assert got == {"a": "08:00:00.000", "b": "15:00:00.000", "c": "10:00:00.000", "d": "10:00:00.250", "e": "10:00:00.000"}


def test_csv_rows(tmp_path):
    csv = (
        "activity_id,contact_id,email,activity_type,occurred_at,channel,amount\r\n"
        "A1,C1, Jane.Doe@Example.com ,deal_won,2025-03-03 09:00:00,phone,100.5\r\n"
        'A2,C1,"x, y",call,2025-03-03 09:00:00\r\n'
        "A3,C1,j@e.com,call,2025-03-03 09:00:00,phone,abc\r\n"
        'A4,C1,"open,call,2025-03-03 09:00:00,phone,\r\n'
        'A5,C2,"say ""hi""",call,03/03/2025,phone,\r\n'
        "A6,C2,k@e.com,call,2025-03-03 09:30:00,phone,\r\n"
    )
    land(tmp_path, "crm", "activities.csv", csv)
    con = load(tmp_path, "crm")
    assert rejected(con) == {
        3: "the CSV row has 5 fields; the header has 7",
        4: "amount 'abc' is not a number",
        5: "the CSV row has unbalanced quotes",
        6: "timestamp '03/03/2025' cannot be read as '%Y-%m-%d %H:%M:%S'",
    }
    rows = con.execute("select source_event_id, amount, identifiers['email'] from staging.events order by 1").fetchall()
    ipad, opad = hmac_pads("k")
    import hashlib
    import hmac
    expected = hmac.new(b"k", b"jane.doe@example.com", hashlib.sha256).hexdigest()
    assert rows[0] == ("A1", 100.5, expected)
    assert [r[0] for r in rows] == ["A1", "A6"]


def test_csv_file_missing_a_required_column_is_rejected_whole(tmp_path):
    land(tmp_path, "crm", "activities.csv", "activity_id,contact_id,email,activity_type,channel,amount\nA1,C1,a@b.c,call,phone,\nA2,C1,a@b.c,call,phone,\n")
    con = load(tmp_path, "crm")
    reasons = rejected(con)
    assert set(reasons) == {2, 3}
    assert reasons[2] == "the file's header lacks the required column 'occurred_at', so the whole file is rejected"
    assert count_discrepancies(con) == []


def test_duplicates_first_landed_wins_across_partitions(tmp_path):
    land(tmp_path, "clickstream", "e.jsonl", ev("m1", event="First") + "\n" + ev("m1", event="Again") + "\n")
    land(tmp_path, "clickstream", "e.jsonl", ev("m1", event="Later") + "\n" + ev("m2") + "\n", day=date(2025, 3, 4))
    con = load(tmp_path, "clickstream", days=(date(2025, 3, 4), DAY))  # later day loaded first
    assert con.execute("select event_name from staging.events where source_event_id = 'm1'").fetchall() == [("First",)]
    counts = con.execute("select _partition, n_read, n_accepted, n_rejected, n_duplicates from intermediate.partition_counts order by 1").fetchall()
    assert counts == [(DAY, 2, 1, 0, 1), (date(2025, 3, 4), 2, 1, 0, 1)]


def test_parquet_source(tmp_path):
    import polars as pl

    folder = tmp_path / "landing" / "sms" / DAY.isoformat()
    folder.mkdir(parents=True)
    pl.DataFrame({"message_id": ["s1", "s2"], "phone": ["+44 7700 900123", None],
                  "sent_at": ["2025-03-03 10:00:00", "2025-03-03 11:00:00"], "direction": ["outbound", "inbound"]}
                 ).write_parquet(folder / "sms.parquet")
    from transforms.config import SourceConfig
    cfg = SourceConfig.model_validate({"format": "parquet", "files": "*.parquet", "id": "message_id",
                                       "timestamp": {"field": "sent_at", "format": "%Y-%m-%d %H:%M:%S"},
                                       "event_name": "direction", "identifiers": {"phone": "phone"},
                                       "constants": {"channel": "sms"}})
    con = connect(tmp_path / "w.duckdb")
    load_partition(con, tmp_path / "landing", "sms", cfg, DAY, NOW,
                   after_load=lambda: parse_partitions(con, "sms", cfg, [DAY], CONFIG.settings, "k", NOW))
    build_staging(con)
    assert rejected(con) == {2: "no identifier: phone are all empty"}
    row = con.execute("select event_name, channel, identifiers['phone'] from staging.events").fetchall()[0]
    assert row[0] == "outbound" and row[1] == "sms" and len(row[2]) == 64 and "7700" not in row[2]


def test_reload_replaces_partition_and_pending_tracks_changes(tmp_path):
    landing = land(tmp_path, "clickstream", "e.jsonl", ev("m1") + "\n")
    con = load(tmp_path, "clickstream")
    assert pending_days(con, landing, "clickstream", CONFIG.sources["clickstream"]) == []
    land(tmp_path, "clickstream", "f.jsonl", ev("m2") + "\n")
    assert pending_days(con, landing, "clickstream", CONFIG.sources["clickstream"]) == [DAY]
    con.close()
    con = load(tmp_path, "clickstream")
    assert raw_lines(con, "clickstream") == 2
    con.close()
    con = load(tmp_path, "clickstream")  # again: replaced, not appended
    assert raw_lines(con, "clickstream") == 2
    assert con.execute("select count(*) from staging.events").fetchall() == [(2,)]


def test_missing_folder_keeps_rows(tmp_path):
    land(tmp_path, "clickstream", "e.jsonl", ev("m1") + "\n")
    con = load(tmp_path, "clickstream")
    res = load_partition(con, tmp_path / "landing", "clickstream", CONFIG.sources["clickstream"], date(2025, 3, 9), NOW)
    assert res.skipped
    assert raw_lines(con, "clickstream") == 1
    assert con.execute("select count(*) from staging.events").fetchall() == [(1,)]


@pytest.mark.parametrize("email", ["jane@example.com", "JANE@example.com "])
def test_no_clear_text_email_outside_raw(tmp_path, email):
    land(tmp_path, "clickstream", "e.jsonl", ev("m1", userId="u1", traits={"email": email}) + "\n" + "{broken " + email + "\n")
    con = load(tmp_path, "clickstream")
    for table in ("staging.events", "quarantine.rejected", "intermediate.duplicate_events",
                  "intermediate.profile_versions"):
        text = str(con.execute(f"select * from {table}").fetchall()).lower()
        assert "jane@example.com" not in text, table


STAGING_SNAPSHOT = {
    "staging.events": "select event_id, source, _partition, _source_file, _line, occurred_at, amount from staging.events",
    "quarantine.rejected": "select source, _partition, _source_file, _line, reason from quarantine.rejected",
    "intermediate.partition_counts": "select * from intermediate.partition_counts",
}


def staging_snapshot(con) -> dict[str, list]:
    return {rel: sorted(con.execute(q).fetchall(), key=repr) for rel, q in STAGING_SNAPSHOT.items()}


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.lists(st.lists(st.integers(0, 12), max_size=6), min_size=8, max_size=8),
    reload=st.lists(st.tuples(st.integers(0, 7), st.lists(st.integers(0, 12), max_size=6)), min_size=1, max_size=2),
)
def test_reloading_days_equals_loading_everything_afresh(tmp_path_factory, days, reload):
    """Ids land on several days (duplicates); reloading a day with other ids and a bad line
    re-decides which copy wins, in any order of loads. The staged tables must equal those of a
    fresh warehouse that loads every day once."""
    tmp_path = tmp_path_factory.mktemp("inc")
    all_days = [date(2025, 3, 1 + i) for i in range(8)]

    def write(i: int, ids: list[int], extra: str = "") -> None:
        text = "".join(ev(f"m{n}", timestamp=f"2025-03-0{1 + i}T10:00:00Z") + "\n" for n in ids) + extra
        land(tmp_path, "clickstream", "e.jsonl", text, day=all_days[i])

    def load_days(con, ds):
        for d in ds:
            load_partition(con, tmp_path / "landing", "clickstream", CONFIG.sources["clickstream"], d, NOW,
                           after_load=lambda d=d: parse_partitions(con, "clickstream", CONFIG.sources["clickstream"], [d],
                                                                   CONFIG.settings, "k", NOW))
        build_staging(con)

    for i, ids in enumerate(days):
        write(i, ids)
    con = connect(tmp_path / "w.duckdb")
    load_days(con, list(reversed(all_days)))  # later days first: an earlier copy must still win
    for i, ids in reload:
        write(i, ids, extra="{broken\n")
    load_days(con, sorted({all_days[i] for i, _ in reload}))
    assert count_discrepancies(con) == []
    fresh = connect(tmp_path / "fresh.duckdb")
    load_days(fresh, all_days)
    assert staging_snapshot(con) == staging_snapshot(fresh)


@pytest.mark.parametrize(("limit", "expected"), [("2GB", 386_547_056), ("6GB", 1_000_000_000), ("100MB", 64_000_000)])
def test_batches_follow_the_memory_limit(limit, expected):
    con = duckdb.connect()
    con.execute("set memory_limit = $v", {"v": limit})
    assert batch_bytes_for(con) == expected


def test_two_identifier_types_reading_one_field_are_each_treated_as_their_kind(tmp_path):
    """A plain identifier listed before an email read from the same field must not make the
    email skip its normalization (trim, lower case) before hashing; and an email in a plain
    identifier field is an email: normalised, hashed and kept once."""
    from transforms.config import SourceConfig
    cfg = SourceConfig.model_validate({"format": "jsonl", "files": "*.jsonl", "id": "id",
                                       "timestamp": {"field": "ts"}, "event_name": "name",
                                       "identifiers": {"login": "mail", "email": "mail"}})
    land(tmp_path, "app", "e.jsonl", json.dumps({"id": "1", "ts": "2025-03-03T10:00:00Z", "name": "x",
                                                 "mail": " Jane@Example.com"}) + "\n")
    con = connect(tmp_path / "w.duckdb")
    load_partition(con, tmp_path / "landing", "app", cfg, DAY, NOW,
                   after_load=lambda: parse_partitions(con, "app", cfg, [DAY], CONFIG.settings, "k", NOW))
    build_staging(con)
    (identifiers,), = con.execute("select identifiers from staging.events").fetchall()
    assert identifiers == {"email": hmac.new(b"k", b"jane@example.com", hashlib.sha256).hexdigest()}


def test_scratch_copies_of_a_killed_run_are_removed(tmp_path):
    """A file with a bad byte is read through a scratch copy beside the warehouse; one left by
    a killed run is cleaned up by the next load, and the load leaves none behind."""
    land(tmp_path, "clickstream", "e.jsonl", (ev("m1") + "\n").encode() + b'{"bad":"\xff"}\n')
    con = connect(tmp_path / "w.duckdb")
    spill = Path(con.execute("select current_setting('temp_directory')").fetchall()[0][0])
    (spill / "journeys-landing-old").mkdir(parents=True)
    (spill / "journeys-landing-old" / "0.txt").write_text("left over")
    load_partition(con, tmp_path / "landing", "clickstream", CONFIG.sources["clickstream"], DAY, NOW)
    assert list(spill.glob("journeys-landing-*")) == []
    assert raw_lines(con, "clickstream") == 2


ACTIVITIES = "activity_id,contact_id,email,activity_type,occurred_at,channel,amount"


def raw_lines(con, source: str) -> int:
    """Records read from the source's landing files, as the ledger records them."""
    return con.execute("select coalesce(sum(n_lines), 0) from raw._partitions where source = $s",
                       {"s": source}).fetchall()[0][0]


def test_bom_at_the_start_of_a_csv_or_jsonl_file_is_not_text(tmp_path):
    bom = b"\xef\xbb\xbf"
    land(tmp_path, "crm", "activities.csv", bom + f"{ACTIVITIES}\nA1,C1,a@b.co,call,2025-03-03 09:00:00,phone,\n".encode())
    land(tmp_path, "clickstream", "e.jsonl", bom + (ev("m1") + "\n" + ev("m2") + "\n").encode())
    con = load(tmp_path, "crm", "clickstream")
    assert rejected(con) == {}
    assert con.execute("select event_id from staging.events order by 1").fetchall() == [
        ("clickstream:m1",), ("clickstream:m2",), ("crm:A1",)]
    assert raw_lines(con, "crm") + raw_lines(con, "clickstream") == 3
    assert count_discrepancies(con) == []


def test_crlf_line_ends_in_csv_and_jsonl(tmp_path):
    land(tmp_path, "crm", "activities.csv",
         f"{ACTIVITIES}\r\nA1,C1,a@b.co,call,2025-03-03 09:00:00,phone,12\r\nA2,C1,a@b.co,call,2025-03-03 09:00:00,phone,\r\n")
    land(tmp_path, "clickstream", "e.jsonl", ev("m1") + "\r\n" + ev("m2") + "\r\n")
    con = load(tmp_path, "crm", "clickstream")
    assert rejected(con) == {}
    assert con.execute("select event_id, amount from staging.events order by 1").fetchall() == [
        ("clickstream:m1", None), ("clickstream:m2", None), ("crm:A1", 12.0), ("crm:A2", None)]
    assert con.execute("select count(*) from staging.events where contains(channel, chr(13))").fetchall() == [(0,)]
    assert count_discrepancies(con) == []


def test_quoted_csv_fields_may_hold_line_breaks(tmp_path):
    csv = (
        f"{ACTIVITIES}\r\n"
        'A1,C1,a@b.co,"call\r\nabout the ""order""\r\n, twice",2025-03-03 09:00:00,phone,\r\n'  # lines 2-4: one record
        "A2,C1,a@b.co,call,2025-03-03 09:00:00,phone,\r\n"                                       # line 5
        'A3,C1,a@b.co,"never closed,2025-03-03 09:00:00,phone,\r\n'                             # line 6: stray quote
        "A4,C1,a@b.co,call,2025-03-03 09:00:00,phone,\r\n"                                       # line 7
    )
    land(tmp_path, "crm", "activities.csv", csv)
    con = load(tmp_path, "crm")
    assert con.execute("select source_event_id, event_name, _line from staging.events order by 1").fetchall() == [
        ("A1", 'call\nabout the "order"\n, twice', 2), ("A2", "call", 5), ("A4", "call", 7)]
    # a quote still open at the end of the file joins nothing: only its own line is rejected
    assert rejected(con) == {6: "the CSV row has unbalanced quotes"}
    assert raw_lines(con, "crm") == 4  # records, not physical lines
    assert count_discrepancies(con) == []


def test_a_new_loader_format_changes_every_fingerprint(tmp_path, monkeypatch):
    """A warehouse loaded by an earlier loader reloads its days once (its staging tables differ)."""
    from transforms import ingest

    f = tmp_path / "events.jsonl"
    f.write_text('{"a": 1}\n')
    before = ingest.fingerprint([f])
    assert ingest.fingerprint([f]) == before
    monkeypatch.setattr(ingest, "LOADER_FORMAT", "a later format")
    assert ingest.fingerprint([f]) != before
