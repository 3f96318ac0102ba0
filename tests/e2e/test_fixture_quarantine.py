"""Golden: every hand-written bad record of fixtures/landing comes out in quarantine.rejected
with its own reason, and the good record right after each malformed line is accepted."""

import csv

from tests.conftest import PROJECT

EXPECTED = PROJECT / "fixtures" / "expected" / "quarantine_rejected.csv"


def test_every_bad_fixture_record_has_its_reason(demo_db):
    with EXPECTED.open() as fh:
        expected = [(r["_source_file"], int(r["_line"]), r["reason"]) for r in csv.DictReader(fh)]
    got = demo_db.execute("select _source_file, _line, reason from quarantine.rejected order by all").fetchall()
    assert got == sorted(expected)
    kinds = {
        "the line is not valid JSON", "the CSV row has", "missing id", "missing timestamp", "cannot be read as",
        "is before 2000-01-01", "is in the future", "no identifier", "is not a number", "not valid UTF-8",
        "empty line", "bytes, over the limit", "header lacks the required column",
    }
    for kind in kinds:
        assert any(kind in reason for _, _, reason in got), kind


def test_good_records_next_to_bad_ones_are_accepted(demo_db):
    rows = demo_db.execute(
        """select _source_file, _line from staging.events
        where _source_file in ('clickstream/2025-03-03/broken.jsonl', 'support/2025-03-03/broken.jsonl',
                               'crm/2025-03-03/activities-broken.csv')
        order by all"""
    ).fetchall()
    assert rows == [
        ("clickstream/2025-03-03/broken.jsonl", 1), ("clickstream/2025-03-03/broken.jsonl", 3),
        ("crm/2025-03-03/activities-broken.csv", 2), ("crm/2025-03-03/activities-broken.csv", 4),
        ("support/2025-03-03/broken.jsonl", 1), ("support/2025-03-03/broken.jsonl", 3),
    ]


def test_counts_add_up_for_every_fixture_partition(demo_db):
    bad = demo_db.execute(
        """select source, _partition from marts.pipeline_runs
        where n_read <> n_accepted + n_rejected + n_duplicates"""
    ).fetchall()
    assert bad == []
    assert demo_db.execute("select count(*) from marts.pipeline_runs").fetchall()[0][0] > 200
