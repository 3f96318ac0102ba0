"""Personal data through the real pipeline: a landing day seeded with emails and phones in every
field leaves no byte of them in the analyst file, the report or the Dagster home; `journeys
forget` leaves no byte of the person in any file, and later runs keep them out; the demo
secret is refused outside the shipped fixtures; the working file is private."""

import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.defs.ops.resources import (
    DEMO_SECRET,
    JourneysResource,
    SecretRefused,
    secret_problem,
)
from tests.conftest import FIXTURE_LANDING, PROJECT, TEST_SECRET, PipelineRun, run_pipeline
from transforms.report import build_report

# one xdist worker runs the whole module: its module-scoped fixtures are built once, not per worker
pytestmark = pytest.mark.xdist_group("privacy")

JOURNEYS = [sys.executable, "-m", "pipelines.cli"]
DAY = "2025-03-01"

# Pat is the person erased later; the others only appear in free text.
PAT_EMAIL = "Pat.Jones@Example.org"
PAT_PHONE = "(415) 555-0142"

SEEDED = [
    # values as written in the landing files, and their normalised forms
    PAT_EMAIL, "pat.jones@example.org", "pat.jones%40example.org", PAT_PHONE, "4155550142",
    "sam.lee@example.net", "kim.park@example.com", "lee.chan@example.com", "ana\\u0040example.com",
    "ana@example.com", "bob&#64;example.com", "bob@example.com", "dana@example.com", "eve@example.com",
    "555-867-5309", "(555) 867-5309", "555.867.5309", "5558675309", "07700 900123", "7700900123",
    "+44 7700 900123", "447700900123", "+1 555 867 5309", "+44 7700 900456", "7700900456",
    "zoe@example.com", "020 7946 0958", "2079460958", "ruth@example.com",
]


def event(mid: str, ts: str, **kw) -> dict:
    out = {"messageId": mid, "type": "track", "timestamp": ts, "anonymousId": kw.pop("anon", "anon-x"),
           "context": {"page": {"url": "https://shop.example.com/", "referrer": ""}, "device": {"type": "desktop"}},
           "properties": {}}
    out.update(kw)
    return out


def write_landing(root: Path) -> Path:
    landing = root / "landing"
    for source in ("clickstream", "crm", "support"):
        (landing / source / DAY).mkdir(parents=True)
    click = [
        # an email as the Segment userId, a percent-encoded one in the URL, more in referrer and UTM
        event("m1", f"{DAY}T09:00:00Z", anon="anon-pat", userId=PAT_EMAIL, event="Product Viewed",
              context={"page": {"url": "https://shop.example.com/account?email=pat.jones%40example.org&order=ORD-2025-000123",
                                "referrer": "https://mail.example.net/?to=sam.lee@example.net"},
                       "campaign": {"source": "555-867-5309", "medium": "+44 7700 900123",
                                    "name": "spring sale for kim.park@example.com"},
                       "device": {"type": "desktop"}},
              properties={"phone": "555.867.5309", "contact": "dana@example.com", "note": "+44 7700 900456",
                          "revenue": 1234.56, "order_id": "1000234567", "at": "2025-03-01T09:00:00+01:00"}),
        # an email as the event name, a phone as the userId
        event("m2", f"{DAY}T09:05:00Z", anon="anon-pat", userId=PAT_EMAIL, event="Sent to lee.chan@example.com"),
        event("m3", f"{DAY}T10:00:00Z", anon="anon-zoe", userId="+1 555 867 5309", event="Signed In"),
        event("m4", f"{DAY}T10:05:00Z", anon="anon-zoe", userId="u-zoe", event="Order Completed",
              properties={"revenue": 99.5, "order_id": "ORD-2025-000124"}),
    ]
    lines = [json.dumps(e) for e in click]
    # escaped forms as they land: JSON \u0040, an HTML entity; and a line that is not JSON
    lines.append('{"messageId": "m5", "type": "track", "event": "Note", "timestamp": "2025-03-01T11:00:00Z", '
                 '"anonymousId": "anon-y", "properties": {"text": "ana\\u0040example.com or bob&#64;example.com"}}')
    lines.append('{"messageId": "m6", "userId": "Pat.Jones@Example.org", "text": "call 07700 900123 or (415) 555-0142"')
    lines.append("x" * 2500 + " zoe@example.com 020 7946 0958")  # long and not JSON: capped in quarantine
    (landing / "clickstream" / DAY / "events.jsonl").write_text("\n".join(lines) + "\n")
    (landing / "crm" / DAY / "activities.csv").write_text(
        "activity_id,contact_id,email,activity_type,occurred_at,channel,amount\n"
        "a1,701,pat.jones@example.org,deal_won,2025-03-01 12:00:00,phone,12000\n"
        "a2,702,eve@example.com,lead_created,2025-03-01 12:30:00,web,\n"
        "ruth@example.com,703,ruth@example.com,lead_created,2025-03-01 12:40:00,web,\n"  # an email as the id
    )
    (landing / "crm" / DAY / "contacts.csv").write_text(
        "contact_id,email,company,industry,company_size,segment,lifecycle_stage,created_at\n"
        "701,PAT.JONES@example.org,Acme,Retail,1001-5000,enterprise,customer,2025-03-01 08:00:00\n"
    )
    tickets = [
        {"id": 1, "ticket_id": 9, "type": "ticket_created", "created_at": f"{DAY}T13:00:00Z",
         "requester": {"id": 77, "email": "pat.jones@example.org"}, "via": {"channel": "chat"},
         "comment": {"body": f"Call me on {PAT_PHONE} or 07700 900123; my colleague is eve@example.com"},
         "tags": ["checkout"]},
        {"id": 2, "ticket_id": 10, "type": "ticket_created", "created_at": f"{DAY}T14:00:00Z",
         "requester": {"id": 78, "email": "eve@example.com"}, "via": {"channel": "email"},
         "comment": {"body": "My old number was 020 7946 0958, order 1000234567 of 2025-03-01."}},
    ]
    (landing / "support" / DAY / "tickets.jsonl").write_text("\n".join(json.dumps(t) for t in tickets) + "\n")
    return landing


def write_config(root: Path) -> Path:
    """The shipped defaults, but the seeded event names are in no rule: no coverage minimum."""
    config = root / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("coverage_threshold: 0\n")
    return config


def hits(paths: list[Path], values: list[str]) -> list[tuple[str, str]]:
    """(file, value) for every seeded value whose bytes occur in one of the files."""
    found = []
    for p in paths:
        data = p.read_bytes()
        found += [(str(p), v) for v in values if v.encode() in data]
    return found


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def pat_hash() -> str:
    return hmac.new(TEST_SECRET.encode(), b"pat.jones@example.org", hashlib.sha256).hexdigest()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    return seed(tmp_path_factory.mktemp("pii"))


@pytest.fixture
def own_seeded(seeded, tmp_path):
    """A copy of `seeded` of its own (landing, configuration, Dagster home and warehouse files,
    modes and times kept), for a test that erases (tests may run in any order): the same files
    a run of its own would write, without a second pipeline run."""
    root = tmp_path / "pii"
    shutil.copytree(seeded["root"], root, symlinks=True)
    run = seeded["run"]
    resource = JourneysResource(landing_dir=str(root / "landing"), warehouse=str(root / "wh" / run.published.name),
                                config_dir=str(root / "config"), hash_secret=TEST_SECRET)
    return {**seeded, "root": root, "landing": root / "landing", "home": root / "dagster_home",
            "config": root / "config", "report": root / "report", "run": PipelineRun(run.result, resource)}


def seed(root: Path) -> dict:
    landing = write_landing(root)
    home = root / "dagster_home"
    home.mkdir()
    config = write_config(root)
    with dg.DagsterInstance.local_temp(tempdir=str(home)) as instance:
        run = run_pipeline(landing, root / "wh" / "journeys.duckdb", config_dir=config, instance=instance)
    assert run.result.success
    report = build_report(run.published, root / "report")
    return {"root": root, "landing": landing, "run": run, "home": home, "report": report, "config": config}


def test_no_seeded_value_in_the_analyst_file_the_report_or_the_dagster_home(seeded):
    files = [seeded["run"].published, seeded["report"], *files_under(seeded["home"])]
    assert len(files) > 3
    assert hits(files, SEEDED) == []
    # the grep can fail: the landing files (the raw layer, read in place) hold them
    assert hits(files_under(seeded["landing"]), SEEDED) != []
    # and the working file holds no copy of the landed lines
    assert hits([seeded["run"].work], ["555-867-5309"]) == []


def test_an_email_user_id_links_with_the_same_email_from_the_crm(seeded):
    with seeded["run"].connect() as con:
        by_event = dict(con.execute("select event_id, customer_id from marts.journey_events").fetchall())
        assert by_event["clickstream:m1"] == by_event["crm:a1"] == by_event["support:1"]
        ids = con.execute(
            "select identifier_type, identifier_value from identity.customer_ids where customer_id = $c order by 1",
            {"c": by_event["clickstream:m1"]}).fetchall()
        # the email userId is filed as an email, under its keyed hash; the phone userId as a phone
        assert ("email", pat_hash()) in ids
        assert not any(t == "user_id" for t, _ in ids)
        phone = hmac.new(TEST_SECRET.encode(), b"+15558675309", hashlib.sha256).hexdigest()
        assert con.execute("select identifier_type from identity.customer_ids where identifier_value = $h",
                           {"h": phone}).fetchall() == [("phone",)]


def test_masked_text_keeps_what_is_not_personal(seeded):
    with seeded["run"].connect() as con:
        url, campaign, props, name = con.execute(
            "select url, utm_campaign, properties::varchar, (select event_name from staging.events where event_id = 'clickstream:m2') "
            "from staging.events where event_id = 'clickstream:m1'").fetchall()[0]
        text = con.execute("select text from staging.events where event_id = 'support:2'").fetchall()[0][0]
    assert url == "https://shop.example.com/account?email=[email]&order=ORD-2025-000123"
    assert campaign == "spring sale for [email]"
    assert name == "Sent to [email]"
    assert json.loads(props) == {"phone": "[phone]", "contact": "[email]", "note": "[phone]", "revenue": 1234.56,
                                 "order_id": "1000234567", "at": "2025-03-01T09:00:00+01:00"}
    assert text == "My old number was [phone], order 1000234567 of 2025-03-01."


def test_rejected_payloads_are_capped_with_length_and_keyed_hash(seeded):
    line = "x" * 2500 + " zoe@example.com 020 7946 0958"
    with seeded["run"].connect() as con:
        rows = con.execute("select _line, length(payload), payload_bytes, payload_hash from quarantine.rejected "
                           "where _source_file like 'clickstream/%' order by _line").fetchall()
    assert [r[0] for r in rows] == [6, 7]
    _, n_chars, n_bytes, digest = rows[1]
    assert (n_chars, n_bytes) == (1000, len(line))
    assert len(digest) == 64 and digest != hashlib.sha256(line.encode()).hexdigest()


def test_files_are_private_and_the_analyst_file_is_not(seeded):
    run = seeded["run"]
    assert stat.S_IMODE(run.work.stat().st_mode) == 0o600
    assert stat.S_IMODE(run.resource.paths.temp_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(run.published.stat().st_mode) == 0o644
    assert not list(run.published.parent.glob("*.publishing-*"))


def journeys(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(JOURNEYS + args, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=600)


def env_for(seeded: dict, warehouse: Path, home: Path, secret: str | None = TEST_SECRET) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_")}
    env.update(JOURNEYS_WAREHOUSE=str(warehouse), JOURNEYS_LANDING_DIR=str(seeded["landing"]), DAGSTER_HOME=str(home),
               JOURNEYS_CONFIG_DIR=str(seeded["config"]), PYTHONWARNINGS="ignore")
    if secret:
        env["JOURNEYS_HASH_SECRET"] = secret
    return env


def test_forget_leaves_no_byte_of_the_person_and_later_runs_keep_them_out(own_seeded):
    seeded = own_seeded
    landing, run = seeded["landing"], seeded["run"]
    pat = ["pat.jones@example.org", PAT_EMAIL, "pat.jones%40example.org", PAT_PHONE, "4155550142", pat_hash()]
    with duckdb.connect(str(run.work), read_only=True) as con:  # before: the hash is in the working file
        assert con.execute("select count(*) from identity.customer_ids where identifier_value = $h",
                           {"h": pat_hash()}).fetchall()[0][0] == 1
        n_before = con.execute("select count(*) from staging.events").fetchall()[0][0]
    assert hits([run.work], [pat_hash()]) != []
    report_dir = run.published.parent / "report"
    build_report(run.published, report_dir)

    r = journeys(["forget", "--email", "  PAT.Jones@example.org "], env_for(seeded, run.published, seeded["home"]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 customer(s)" in r.stdout and "Rewrote" in r.stdout

    files = [run.work, run.published, report_dir / "journey-map.html"]
    assert hits(files, pat) == []
    assert not list(run.published.parent.glob(".*.rewrite-*"))
    assert stat.S_IMODE(run.work.stat().st_mode) == 0o600
    with run.connect() as con:
        (log,) = con.execute("select requested_by, n_customers, n_records, n_events from marts.erasures").fetchall()
        assert log == ("email", 1, 6, 4)  # m1, m2, the broken m6, a1, contact 701, ticket 1; 4 of them events
        erased = con.execute("select count(*) from quarantine.rejected where reason like 'erased%' and payload is null").fetchall()[0][0]
        assert erased == log[2]
        n_after = con.execute("select count(*) from staging.events").fetchall()[0][0]
        assert n_after == n_before - log[3]
        assert con.execute("select count(*) from marts.pipeline_runs where n_read <> n_accepted + n_rejected + n_duplicates").fetchall()[0][0] == 0
        (erasure_id,) = con.execute("select erasure_id from marts.erasures").fetchall()[0]
    # the erasure tables are external assets of the Definitions: forget reports it wrote them
    with dg.DagsterInstance.from_config(str(seeded["home"])) as instance:
        for key in (["intermediate", "erased_identifiers"], ["marts", "erasures"]):
            event = instance.get_latest_materialization_event(dg.AssetKey(key))
            assert event is not None and event.asset_materialization.metadata["erasure_id"].value == erasure_id

    # the next run reloads every landing day (the old lines are still there): Pat stays out
    again = run_pipeline(landing, run.published, config_dir=seeded["config"])
    assert again.result.success
    assert hits([run.work, run.published], pat) == []
    with again.connect() as con:
        assert con.execute("select count(*) from staging.events").fetchall()[0][0] == n_after
        assert con.execute("select count(*) from quarantine.rejected where reason like 'erased%'").fetchall()[0][0] == log[2]
        zoe = con.execute("select customer_id from marts.journey_events where event_id = 'clickstream:m3'").fetchall()[0][0]

    # by customer_id: Zoe signed in with a phone number as userId, then as u-zoe
    zoe_phone = hmac.new(TEST_SECRET.encode(), b"+15558675309", hashlib.sha256).hexdigest()
    assert hits([run.work], [zoe_phone]) != []
    r = journeys(["forget", "--customer", zoe], env_for(seeded, run.published, seeded["home"]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert hits([run.work, run.published], [zoe_phone, "anon-zoe", "u-zoe", zoe]) == []
    with run.connect() as con:
        assert con.execute("select requested_by, n_customers, n_identifiers, n_records from marts.erasures "
                           "order by erased_at").fetchall()[1] == ("customer_id", 1, 3, 2)


def test_forget_names_what_it_needs(seeded, tmp_path):
    env = env_for(seeded, seeded["run"].published, seeded["home"])
    r = journeys(["forget"], env)
    assert r.returncode == 2 and "--email" in r.stderr
    r = journeys(["forget", "--customer", "c_0000000000000000"], env)
    assert r.returncode == 2 and "no customer" in r.stderr


def test_the_demo_secret_is_refused_outside_the_shipped_fixtures(seeded, tmp_path):
    env = env_for(seeded, tmp_path / "wh" / "journeys.duckdb", tmp_path / "home", secret=None)
    r = journeys(["run"], env)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "JOURNEYS_HASH_SECRET" in r.stderr and "demo" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "wh" / "journeys.duckdb").exists()
    # inside a Dagster run too (dagster dev, the schedule): the resource refuses it
    resource = JourneysResource(landing_dir=str(seeded["landing"]), warehouse=str(tmp_path / "wh2" / "j.duckdb"),
                                hash_secret=DEMO_SECRET)
    with pytest.raises(SecretRefused, match="JOURNEYS_HASH_SECRET"):
        resource.require_usable_secret()
    defs = dg.Definitions(assets=[_probe], resources={"journeys": resource})
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
    assert not result.success
    # the shipped fixtures (and the SMS walkthrough's) may use it
    assert secret_problem(DEMO_SECRET, FIXTURE_LANDING) is None
    assert secret_problem(DEMO_SECRET, PROJECT / "fixtures" / "sms" / "landing") is None
    assert secret_problem("", FIXTURE_LANDING) is not None


@dg.asset
def _probe(journeys: JourneysResource) -> None:
    return None
