"""Personas: customers -> persona names, by ordered rules over profile attributes.

A rule (personas.yaml) maps attribute names to case-insensitive globs (a list = any of them);
all its attributes must match; the first matching rule wins; customers matching none, or
without a profile, are 'unknown'. The rules reach sql/intermediate/customer_profiles.sql as
bound lists (data), evaluated once per distinct attribute set.
"""

from __future__ import annotations

from typing import Any

from transforms.config import Config, _as_list, glob_to_like


def persona_params(config: Config) -> dict[str, Any]:
    """Bound parameters of sql/intermediate/customer_profiles.sql."""
    rank: list[int] = []
    attribute: list[str | None] = []
    pattern: list[str | None] = []
    for i, rule in enumerate(config.personas, start=1):
        if not rule.match:  # no condition: matches everyone
            rank.append(i)
            attribute.append(None)
            pattern.append(None)
        for attr, globs in rule.match.items():
            for g in _as_list(globs):
                rank.append(i)
                attribute.append(attr)
                pattern.append(glob_to_like(g.lower()))
    return {
        "persona_rank": list(range(1, len(config.personas) + 1)),
        "persona_name": [r.persona for r in config.personas],
        "condition_rank": rank,
        "condition_attribute": attribute,
        "condition_pattern": pattern,
        "device_types": list(config.settings.identity.device_identifiers),
    }
