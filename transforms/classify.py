"""Classification: every event of staging.events -> a touchpoint and a phase, by rules.

The rules (rules.yaml) are an ordered list; the first rule whose conditions all hold wins and
its id is kept on the event; events no rule matches are `unclassified` (counted, never
dropped). Rules reach SQL as *data*: `rule_params` turns them into bound lists (one entry per
rule, one per condition) that sql/intermediate/classified_events.sql unnests into tables and
joins; no rule text ever becomes SQL text.

Speed: rules are evaluated once per distinct combination of the columns they look at (source,
event name, path, referrer, UTM, device, channel, referenced properties), not once per event;
the combinations are few compared with the events, and are joined back to them. Columns no rule
looks at are left out of the combinations, and columns a rule only tests for emptiness are
reduced to present/absent.

Condition semantics (EventMatch): all given keys must hold; a list means any of its values;
strings are case-insensitive globs ('*' any text, '?' one character); `*_regex` keys are RE2
regular expressions applied as written (prefix '(?i)' to ignore case); `properties` maps a
property name (dots for nested keys) to globs over its value as text; `empty` lists fields that
must be empty; `referrer_host` globs the referrer's host (lower case, without 'www.');
`external_referrer` compares the referrer's host with the event URL's host.
"""

from __future__ import annotations

from typing import Any

from transforms.config import Config, EventMatch, RuleConfig, _as_list, glob_to_like
from transforms.staging import json_path

# EventMatch key -> the field of sql/intermediate/classified_events.sql it tests.
TEXT_FIELDS = {
    "source": "source",
    "event_name": "event_name",
    "url": "url",
    "path": "url_path",
    "referrer": "referrer",
    "referrer_host": "referrer_host",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "device": "device",
    "channel": "channel",
}
REGEX_FIELDS = {"path_regex": "url_path", "referrer_regex": "referrer"}
# Fields whose value may be reduced when no rule needs it (source and event_name always kept).
REDUCIBLE = ("url", "url_path", "referrer", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "device", "channel")


def match_conditions(match: EventMatch, props: list[str]) -> list[tuple[str, str, str, str, int]]:
    """Conditions of one EventMatch as (group, field, kind, pattern, prop_index) rows: a group
    holds when any of its rows holds; the match holds when every group holds. `props` collects
    the JSON paths of referenced properties (prop_index is 1-based into it).

    The one compiler of EventMatch: the classification rules (classified_events.sql) and the
    funnels' steps and exclusions (funnel_programme/match_events.sql) both reach SQL as these
    rows, tested with the same rules (globs: lower(value) like lower(glob); regex as written)."""
    rows: list[tuple[str, str, str, str, int]] = []
    for key, field in TEXT_FIELDS.items():
        value = getattr(match, key)
        if value is not None:
            rows += [(key, field, "glob", glob_to_like(p.lower()), 0) for p in _as_list(value)]
    for key, field in REGEX_FIELDS.items():
        value = getattr(match, key)
        if value is not None:
            rows.append((key, field, "regex", value, 0))
    if match.external_referrer is not None:
        rows.append(("external_referrer", "external_referrer", "flag", "true" if match.external_referrer else "false", 0))
    for name, globs in match.properties.items():
        path = json_path(name, "jsonl")
        if path not in props:
            props.append(path)
        idx = props.index(path) + 1
        rows += [(f"properties.{name}", "property", "glob", glob_to_like(p.lower()), idx) for p in _as_list(globs)]
    for key in match.empty:
        field = "url_path" if key == "path" else key
        rows.append((f"empty.{key}", field, "empty", "", 0))
    if not rows:
        rows.append(("always", "always", "always", "", 0))
    return rows


def rule_params(config: Config) -> dict[str, Any]:
    """Bound parameters of sql/intermediate/classified_events.sql: the rules and their
    conditions as parallel lists, the property paths rules read, how much of each column the
    distinct combinations keep, and the order of the sources."""
    phases = config.taxonomy.phase_names
    touchpoints = {t.name: t for t in config.taxonomy.touchpoints}
    rules: list[RuleConfig] = list(config.rules)
    props: list[str] = []
    cond: dict[str, list[Any]] = {k: [] for k in ("rule", "group", "field", "kind", "pattern", "prop")}
    for i, rule in enumerate(rules, start=1):
        groups: list[str] = []
        for group, field, kind, pattern, prop in match_conditions(rule.match, props):
            if group not in groups:
                groups.append(group)
            cond["rule"].append(i)
            cond["group"].append(groups.index(group) + 1)
            cond["field"].append(field)
            cond["kind"].append(kind)
            cond["pattern"].append(pattern)
            cond["prop"].append(prop)
    modes = {}
    for field in REDUCIBLE:
        kinds = {k for f, k in zip(cond["field"], cond["kind"], strict=True) if f == field}
        modes[f"mode_{field}"] = "full" if kinds - {"empty"} else "presence" if kinds else "none"
    return {
        "rule_index": list(range(1, len(rules) + 1)),
        "rule_id": [r.id for r in rules],
        "rule_touchpoint": [r.touchpoint for r in rules],
        "rule_phase": [r.phase for r in rules],
        "rule_conversion": [bool(r.conversion) for r in rules],
        "rule_channel_group": [touchpoints[r.touchpoint].channel_group for r in rules],
        "rule_stage": [touchpoints[r.touchpoint].stage for r in rules],
        "rule_phase_order": [phases.index(r.phase) + 1 for r in rules],
        "cond_rule": cond["rule"],
        "cond_group": cond["group"],
        "cond_field": cond["field"],
        "cond_kind": cond["kind"],
        "cond_pattern": cond["pattern"],
        "cond_prop": cond["prop"],
        "prop_paths": props,
        "use_external": "external_referrer" in cond["field"],
        **modes,
        "source_names": list(config.sources),
    }


def classify_params(config: Config) -> dict[str, Any]:
    """Every bound parameter of sql/intermediate/classified_events.sql."""
    return {**rule_params(config), "device_types": list(config.settings.identity.device_identifiers)}
