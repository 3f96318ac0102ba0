"""Designed journeys, retention and lifecycle: the configuration they bind as data.

designs.yaml (validated in transforms.config) reaches sql/intermediate/design_steps.sql and
design_touchpoints.sql as bound lists, one entry per step or planned touchpoint; the return event
of settings.retention reaches sql/marts/retention.sql and lifecycle.sql as bound values. The
alignment itself is set-based SQL (sql/intermediate/design_alignments.sql).
"""

from __future__ import annotations

from typing import Any

from transforms.config import Config, parse_duration


def design_params(config: Config) -> dict[str, Any]:
    """Bound parameters of the design models: parallel lists, one entry per step (design_step_*)
    and per touchpoint a design names or also plans (design_planned_*)."""
    step: dict[str, list[Any]] = {k: [] for k in (
        "design", "persona", "description", "index", "name", "phase", "touchpoint", "event_name",
        "optional", "repeatable", "target_seconds")}
    planned_design: list[str] = []
    planned_touchpoint: list[str] = []
    for d in config.designs:
        for i, s in enumerate(d.steps, start=1):
            for key, value in (
                ("design", d.name), ("persona", d.persona), ("description", d.description), ("index", i),
                ("name", s.label), ("phase", s.phase), ("touchpoint", s.touchpoint), ("event_name", s.event_name),
                ("optional", s.optional), ("repeatable", s.repeatable),
                ("target_seconds", parse_duration(s.target) if s.target is not None else None),
            ):
                step[key].append(value)
        for t in sorted({s.touchpoint for s in d.steps if s.touchpoint is not None} | set(d.also_planned)):
            planned_design.append(d.name)
            planned_touchpoint.append(t)
    out: dict[str, Any] = {f"design_step_{k}": v for k, v in step.items()}
    out["design_planned_design"] = planned_design
    out["design_planned_touchpoint"] = planned_touchpoint
    return out


def retention_params(config: Config) -> dict[str, Any]:
    """Bound parameters of marts.retention and marts.lifecycle (settings.retention)."""
    r = config.settings.retention
    return {
        "retention_cohort": r.cohort,
        "return_phase": r.return_phase,
        "return_touchpoint": r.return_touchpoint,
        "return_event_name": r.return_event_name,
        "retention_periods": r.periods,
    }
