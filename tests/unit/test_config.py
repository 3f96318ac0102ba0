"""Configuration: the defaults load, and a user's mistake fails before any run, naming the
file, the key and the fix."""

from pathlib import Path

import pytest
import yaml

from transforms.config import DEFAULTS_DIR, ConfigError, load_config, parse_duration


def write_sources(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((DEFAULTS_DIR / "sources.yaml").read_text())
    mutate(data["sources"])
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_shipped_defaults_load():
    config = load_config()
    assert {"clickstream", "crm", "crm_contacts", "support"} <= set(config.sources)
    assert config.taxonomy.phase_names[:4] == ["awareness", "interest", "comparison", "purchase"]


def test_unknown_key_names_file_and_key(tmp_path):
    write_sources(tmp_path, lambda s: s["clickstream"].update(fromat="jsonl"))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "sources.yaml") in msg
    assert "sources.clickstream.fromat" in msg
    assert "unknown key" in msg and "remove it or check its spelling" in msg


def test_missing_field_mapping(tmp_path):
    write_sources(tmp_path, lambda s: s["crm"].pop("timestamp"))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "sources.crm.timestamp" in str(e.value) and "add it" in str(e.value)


def test_missing_identifiers_mapping(tmp_path):
    write_sources(tmp_path, lambda s: s["support"].update(identifiers={}))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "sources.support.identifiers" in str(e.value) and "at least one identifier" in str(e.value)


def test_wrong_format_name(tmp_path):
    write_sources(tmp_path, lambda s: s["support"].update(format="xml"))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    msg = str(e.value)
    assert "sources.support.format" in msg and "'jsonl'" in msg and "'parquet'" in msg


def test_unknown_canonical_field(tmp_path):
    write_sources(tmp_path, lambda s: s["clickstream"]["fields"].update(colour="x"))
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "sources.clickstream.fields" in str(e.value) and "colour" in str(e.value)


def test_unknown_config_file_is_named(tmp_path):
    (tmp_path / "source.yaml").write_text("sources: {}\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "source.yaml" in str(e.value) and "sources.yaml" in str(e.value)


def test_invalid_yaml(tmp_path):
    (tmp_path / "settings.yaml").write_text("journeys: [unclosed\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "settings.yaml" in str(e.value) and "not valid YAML" in str(e.value)


def test_a_fourth_source_needs_only_an_entry(tmp_path):
    def add(s):
        s["sms"] = {
            "format": "csv", "files": "*.csv", "id": "message_id",
            "timestamp": {"field": "sent_at", "format": "%Y-%m-%d %H:%M:%S"},
            "event_name": "direction", "identifiers": {"phone": "phone"},
            "fields": {"utm_campaign": "campaign", "text": "body"}, "constants": {"channel": "sms"},
        }
    config = load_config(write_sources(tmp_path, add))
    assert config.sources["sms"].constants == {"channel": "sms"}


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h", 3600), ("30d", 2592000), ("2w", 1209600)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_in_settings(tmp_path):
    (tmp_path / "settings.yaml").write_text("journeys: {timeout: 30 days}\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "journeys.timeout" in str(e.value) and "'30d'" in str(e.value)


def test_extends_defaults_adds_sources_and_puts_rules_first(tmp_path):
    (tmp_path / "sources.yaml").write_text(
        "extends: defaults\nsources:\n  sms:\n    format: csv\n    id: message_id\n"
        "    timestamp: {field: sent_at, format: '%Y-%m-%d %H:%M:%S'}\n    event_name: direction\n"
        "    identifiers: {phone: phone}\n"
    )
    (tmp_path / "rules.yaml").write_text(
        "extends: defaults\nrules:\n  - {id: sms_any, match: {source: sms}, touchpoint: sms, phase: interest}\n"
    )
    config = load_config(tmp_path)
    assert {"clickstream", "crm", "support", "sms"} <= set(config.sources)
    assert config.rules[0].id == "sms_any" and len(config.rules) > 10


def test_extends_only_defaults(tmp_path):
    (tmp_path / "rules.yaml").write_text("extends: mine\nrules: []\n")
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path)
    assert "rules.yaml" in str(e.value) and "extends: defaults" in str(e.value)
