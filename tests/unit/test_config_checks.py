"""Config mistakes that used to pass `journeys check` and then fail or silently zero a run are
refused when the configuration loads: file, key and fix."""

import pytest

from transforms.config import ConfigError, load_config, unseen_event_names

FUNNEL = "funnels:\n  - name: buy\n    steps: [{phase: awareness}, {phase: purchase}]\n    breakdowns: [%s]\n"


def test_breakdown_typo_names_the_file_the_key_and_the_closest_column(tmp_path):
    (tmp_path / "funnels.yaml").write_text(FUNNEL % "devise")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "funnels.yaml") in msg
    assert "funnels[0] (buy).breakdowns: unknown breakdown 'devise'" in msg
    assert "Did you mean 'device'?" in msg


@pytest.mark.parametrize("breakdown", ["device", "persona", "first_touchpoint", "cohort_month", "utm_source"])
def test_known_breakdowns_load(tmp_path, breakdown):
    (tmp_path / "funnels.yaml").write_text(FUNNEL % breakdown)
    assert load_config(tmp_path).funnels[0].breakdowns == [breakdown]


def test_sources_without_extends_says_extends(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  sms:\n    format: csv\n    id: message_id\n    timestamp: {field: sent_at}\n"
        "    event_name: direction\n    identifiers: {phone: phone}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'sources.yaml'}: does not define source 'clickstream'")
    assert "rules.yaml and funnels.yaml reference sources that your sources.yaml no longer defines" in msg
    assert "Put `extends: defaults` at the top of sources.yaml" in msg


def test_event_names_never_seen_are_warnings_with_the_closest_names(tmp_path):
    (tmp_path / "funnels.yaml").write_text(
        "funnels:\n  - name: buy\n    steps:\n"
        "      - {event: {source: clickstream, event_name: Product Viewed}}\n"
        "      - {event: {source: clickstream, event_name: Order Complted}}\n"
    )
    (tmp_path / "rules.yaml").write_text(
        "extends: defaults\nrules:\n"
        "  - {id: refunds, match: {source: crm, event_name: [refund, deal_wonn]}, touchpoint: sales_call, phase: usage}\n"
    )
    seen = {"clickstream": {"Product Viewed", "Order Completed", "page"}, "crm": {"deal_won", "deal_lost"}, "support": set()}
    warnings = unseen_event_names(load_config(tmp_path), seen)
    assert f"{tmp_path / 'funnels.yaml'}: funnels[0] (buy).steps[1]: event name 'Order Complted' (closest seen: 'Order Completed') occurs in no landed event: the step counts nobody." in warnings
    rule = next(w for w in warnings if "(refunds)" in w)
    assert "'refund' occurs" not in rule and "'refund'" in rule and "'deal_wonn' (closest seen: 'deal_won'" in rule
    assert not any("steps[0]" in w for w in warnings)
    # shipped rules are a catalogue: one summary line, not one warning each
    shipped = [w for w in warnings if "shipped rule(s)" in w]
    assert len(shipped) == 1 and "app_installed" in shipped[0]


def test_no_warning_for_sources_without_loaded_events(tmp_path):
    (tmp_path / "funnels.yaml").write_text(
        "funnels:\n  - name: buy\n    steps:\n"
        "      - {event: {source: support, event_name: ticket_created}}\n"
        "      - {event: {source: support, event_name: ticket_solved}}\n"
    )
    warnings = unseen_event_names(load_config(tmp_path), {"clickstream": {"page"}, "support": set()})
    assert not any("funnels.yaml" in w for w in warnings)
    warnings = unseen_event_names(load_config(tmp_path), {"support": {"ticket_created"}})
    assert any("steps[1]: event name 'ticket_solved'" in w for w in warnings)


@pytest.mark.parametrize("text, key, fix", [
    ("engine: sparc\n", "engine: Input should be 'duckdb' or 'spark'", "use one of the allowed values"),
    ("engine: spark\nspark_master: localhost\n", "spark_master: 'localhost' is not a Spark master",
     "use local[N], spark://host:port, yarn, k8s://https://host:port or sc://host:port"),
    ("engine: spark\nspark_master: 'sc://'\n", "spark_master: 'sc://' is not a Spark master", "sc://host:port"),
    ("engine: spark\nspark_master: 'sc://host:port'\n", "spark_master: 'sc://host:port' is not a Spark master",
     "sc://host:port"),
    ("engine: spark\nspark_master: 'local[0]'\n", "spark_master: 'local[0]' is not a Spark master", "local[N]"),
    ("spark_conf: {driver.memory: 8g}\n", "spark_conf: 'driver.memory' is not a Spark setting",
     "named spark.<…>"),
    ("spark_conf: [spark.driver.memory]\n", "spark_conf: write spark_conf as a mapping", "{spark.driver.memory: 8g}"),
    ("spark_conf: {spark.executor.memory: [4g]}\n", "spark_conf: spark.executor.memory: ['4g'] is not",
     "write a number, a word or true/false"),
    ("spark_conf: {spark.sql.session.timeZone: Europe/Paris}\n", "spark_conf: spark.sql.session.timeZone is set by "
     "Journeys", "remove it"),
])
def test_engine_setting_names_the_file_the_key_and_the_fix(tmp_path, text, key, fix):
    (tmp_path / "settings.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'settings.yaml'}: {key}")
    assert fix in msg


def test_spark_conf_through_connect_takes_only_runtime_sql_settings(tmp_path):
    (tmp_path / "settings.yaml").write_text("spark_master: sc://connect:15002\nspark_conf: {spark.driver.memory: 8g}\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "spark_conf: spark.driver.memory cannot be set through Spark Connect" in str(e.value)
    assert "set it where the Connect server starts" in str(e.value)
    (tmp_path / "settings.yaml").write_text("spark_master: local[4]\n"
                                            "spark_conf: {spark.driver.memory: 8g, spark.sql.adaptive.enabled: true,"
                                            " spark.sql.shuffle.partitions: 16}\n")
    assert load_config(tmp_path).settings.spark_conf == {
        "spark.driver.memory": "8g", "spark.sql.adaptive.enabled": "true", "spark.sql.shuffle.partitions": "16"}


@pytest.mark.parametrize("master", ["local[2]", "local[*]", "local", "spark://head:7077", "spark://a:7077,b:7077",
                                    "sc://connect:15002", "sc://connect", "sc://connect:15002/;token=abc;use_ssl=true",
                                    "k8s://https://api.example.com:443", "yarn"])
def test_engine_spark_with_a_master_loads(tmp_path, master):
    (tmp_path / "settings.yaml").write_text(f"engine: spark\nspark_master: '{master}'\n")
    settings = load_config(tmp_path).settings
    assert (settings.engine, settings.spark_master) == ("spark", master)
    assert load_config(None).settings.engine == "duckdb"
