"""Typed settings: pydantic models of every YAML file a user can edit.

The shipped defaults live in ``transforms/defaults/``. ``JOURNEYS_CONFIG_DIR`` names a folder
whose YAML files replace the defaults file by file (a ``rules.yaml`` there replaces the shipped
``rules.yaml``; files it lacks come from the defaults). Every model forbids unknown keys, so a
typo fails before a run starts, with the file, the key and what to do.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""yaml.safe_load's loader in libyaml's C (about ten times faster; the same documents), where
PyYAML was built with it."""


def load_yaml(text: str) -> Any:
    """yaml.safe_load(text), with YAML_LOADER."""
    return yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 (a safe loader)


DEFAULTS_DIR = Path(__file__).parent / "defaults"
CONFIG_FILES = ("sources", "taxonomy", "rules", "personas", "funnels", "settings", "designs")

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Canonical event fields a source may fill (besides id, timestamp, event name, identifiers).
CANONICAL_FIELDS = (
    "url",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "device",
    "channel",
    "amount",
    "csat",
    "satisfaction",
    "text",
)
NUMERIC_FIELDS = ("amount", "csat")
PII_IDENTIFIERS = ("email", "phone")


class ConfigError(Exception):
    """A user's configuration is wrong. The message names the file, the key and the fix."""


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _name(value: str, what: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must be lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'whatsapp')"
        )
    return value


# --------------------------------------------------------------------------- sources

FieldPath = Annotated[str, Field(min_length=1)]


class TimestampSpec(Model):
    field: FieldPath = Field(description="Where the event time comes from (a JSON path like 'created_at' or a CSV column).")
    format: str = Field(
        "iso8601",
        description="'iso8601' (any offset; no offset means `timezone`), 'epoch_seconds', 'epoch_millis', or a strptime format such as '%Y-%m-%d %H:%M:%S'.",
    )
    timezone: str = Field("UTC", description="Time zone of timestamps that carry no offset.")


class SourceConfig(Model):
    """One landing source: a folder of daily sub-folders of files of one shape."""

    kind: Literal["events", "profiles"] = Field(
        "events",
        description="'events' become rows of staging.events; 'profiles' (e.g. CRM contacts) describe customers: identifiers and attributes for personas.",
    )
    format: Literal["jsonl", "csv", "parquet"] = Field(description="File format of the landed files.")
    folder: str | None = Field(None, description="Landing sub-folder; defaults to the source name.")
    files: str = Field(
        "*",
        description="Glob of the file names to read inside each day folder, e.g. 'activities*.csv' ('*', '?' and "
        "'[abc]'; case-insensitive, so '*.jsonl' also reads 'events.JSONL').",
    )
    delimiter: str = Field(",", description="CSV only: the field delimiter (one character).")
    id: FieldPath | list[FieldPath] = Field(description="Field holding the record's own id; event_id becomes '<source>:<id>'. A list means the first non-empty field.")
    timestamp: TimestampSpec = Field(description="Where and how the event (or profile update) time is read.")
    event_name: FieldPath | list[FieldPath] | None = Field(
        None, description="Field(s) giving the event name; a list takes the first non-empty. Required for events."
    )
    identifiers: dict[str, FieldPath] = Field(
        description="Identifier type -> field. Types 'email' and 'phone' are normalized and stored only as keyed hashes outside raw. Identifiers seen in one record link into one customer."
    )
    fields: dict[str, FieldPath | list[FieldPath]] = Field(
        default_factory=dict, description=f"Canonical field -> source field(s). Canonical fields: {', '.join(CANONICAL_FIELDS)}."
    )
    constants: dict[str, str] = Field(default_factory=dict, description="Canonical field -> fixed value for every record (e.g. channel: sms).")
    properties: FieldPath | dict[str, FieldPath] | None = Field(
        None, description="Either a path to a JSON object copied as properties, or name -> field for a properties object built from fields."
    )
    attributes: dict[str, FieldPath] = Field(
        default_factory=dict, description="Profiles only: attribute name -> field (industry, segment, ...), used by persona rules."
    )
    start_date: date | None = Field(
        None, description="First day folder this source loads; earlier day folders are listed as not read. Unset: settings.partitions_start."
    )

    @field_validator("identifiers")
    @classmethod
    def _identifiers(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("at least one identifier is needed, e.g. identifiers: {user_id: userId}")
        for k in v:
            _name(k, "identifier type")
        return v

    @field_validator("fields", "constants")
    @classmethod
    def _canonical(cls, v: dict[str, Any]) -> dict[str, Any]:
        for k in v:
            if k not in CANONICAL_FIELDS:
                raise ValueError(f"unknown canonical field {k!r}; use one of: {', '.join(CANONICAL_FIELDS)}")
        return v

    @field_validator("files")
    @classmethod
    def _files_glob(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the files pattern is empty; write a glob of file names, e.g. '*.jsonl'")
        if "/" in v or "\\" in v:
            raise ValueError(
                f"{v!r} holds a folder separator; the pattern matches file names directly inside each day folder, e.g. '*.jsonl'"
            )
        problem = glob_syntax_problem(v)
        if problem:
            raise ValueError(f"{v!r} is not a valid glob: {problem}")
        return v

    @field_validator("delimiter")
    @classmethod
    def _delim(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("the CSV delimiter must be exactly one character, e.g. ','")
        return v

    @model_validator(mode="after")
    def _events_need_names(self) -> SourceConfig:
        if self.kind == "events" and self.event_name is None:
            raise ValueError("event sources need `event_name` (the field that names the event, e.g. event_name: type)")
        if self.kind == "profiles" and self.fields:
            raise ValueError("profile sources take `attributes`, not `fields`")
        return self

    def required_columns(self) -> list[list[str]]:
        """Columns a CSV file must have, as alternatives (any one of each list): the id, the
        timestamp, the event name and at least one identifier. Other mapped columns may be
        absent (an older export without a phone column): their values are then empty."""
        out = [_as_list(self.id), [self.timestamp.field]]
        if self.event_name is not None:
            out.append(_as_list(self.event_name))
        out.append(list(self.identifiers.values()))
        return out

    def paths(self) -> dict[str, list[str]]:
        """Every field this source reads, by role; CSV sources require these columns."""
        out: dict[str, list[str]] = {"id": _as_list(self.id), "timestamp": [self.timestamp.field]}
        if self.event_name is not None:
            out["event_name"] = _as_list(self.event_name)
        for k, p in self.identifiers.items():
            out[f"identifiers.{k}"] = [p]
        for k, p in self.fields.items():
            out[f"fields.{k}"] = _as_list(p)
        for k, p in self.attributes.items():
            out[f"attributes.{k}"] = [p]
        if isinstance(self.properties, str):
            out["properties"] = [self.properties]
        elif isinstance(self.properties, dict):
            for k, p in self.properties.items():
                out[f"properties.{k}"] = [p]
        return out


def _as_list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


class SourcesFile(Model):
    sources: dict[str, SourceConfig] = Field(description="Source name -> how its files are read. The name becomes raw.<name>.")

    @field_validator("sources")
    @classmethod
    def _names(cls, v: dict[str, SourceConfig]) -> dict[str, SourceConfig]:
        if not v:
            raise ValueError("at least one source is needed")
        for k in v:
            _name(k, "source name")
        return v


# --------------------------------------------------------------------------- taxonomy


class PhaseConfig(Model):
    name: str = Field(description="Phase name, e.g. 'awareness'.")
    label: str | None = Field(None, description="Display label for reports.")

    _n = field_validator("name")(lambda v: _name(v, "phase"))


class TouchpointConfig(Model):
    name: str = Field(description="Touchpoint name, e.g. 'paid_search'.")
    channel_group: Literal["owned", "paid", "earned"] = Field(description="Owned, paid or earned media.")
    stage: Literal["front", "back"] = Field("front", description="front: the customer sees it; back: an internal step (service blueprint).")
    label: str | None = Field(None, description="Display label for reports.")

    _n = field_validator("name")(lambda v: _name(v, "touchpoint"))


class TaxonomyFile(Model):
    phases: list[PhaseConfig] = Field(description="Journey phases in order.")
    touchpoints: list[TouchpointConfig] = Field(description="Touchpoints with channel group and stage.")

    @model_validator(mode="after")
    def _unique(self) -> TaxonomyFile:
        for what, items in (("phase", self.phases), ("touchpoint", self.touchpoints)):
            names = [i.name for i in items]
            dup = {n for n in names if names.count(n) > 1}
            if dup:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(sorted(dup))}")
        if "unclassified" in [t.name for t in self.touchpoints]:
            raise ValueError("'unclassified' is reserved for events no rule matches; remove it from touchpoints")
        return self

    @property
    def phase_names(self) -> list[str]:
        return [p.name for p in self.phases]

    @property
    def touchpoint_names(self) -> list[str]:
        return [t.name for t in self.touchpoints]


# --------------------------------------------------------------------------- classification

Globs = str | list[str]


class EventMatch(Model):
    """Conditions on one event; all given conditions must hold. Strings are case-insensitive globs
    ('*' any text, '?' one character) unless the key ends in `_regex`. A list means any of them;
    nested lists are flattened, so YAML anchors of lists can be combined: [*home_paths, *blog_paths]."""

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data

        def flat(v: Any) -> Any:
            if isinstance(v, list):
                return [x for item in v for x in (flat(item) if isinstance(item, list) else [item])]
            if isinstance(v, dict):
                return {k: flat(x) for k, x in v.items()}
            return v

        return {k: flat(v) for k, v in data.items()}

    source: Globs | None = Field(None, description="Source name(s).")
    event_name: Globs | None = Field(None, description="Event name glob(s), e.g. 'Product *'.")
    url: Globs | None = Field(None, description="Full page URL glob(s).")
    path: Globs | None = Field(None, description="URL path glob(s), e.g. '/p/*'.")
    path_regex: str | None = Field(None, description="URL path regular expression.")
    referrer: Globs | None = Field(None, description="Referrer URL glob(s).")
    referrer_regex: str | None = Field(None, description="Referrer URL regular expression.")
    referrer_host: Globs | None = Field(
        None, description="Referrer host glob(s), lower case without a leading 'www.', e.g. 'google.*' or '*.facebook.com'."
    )
    external_referrer: bool | None = Field(
        None,
        description="true: the referrer is a page of another site than the event's own URL (an external referrer, "
        "leading 'www.' ignored); false: no referrer, or a page of the same site.",
    )
    utm_source: Globs | None = Field(None, description="UTM source glob(s).")
    utm_medium: Globs | None = Field(None, description="UTM medium glob(s).")
    utm_campaign: Globs | None = Field(None, description="UTM campaign glob(s).")
    device: Globs | None = Field(None, description="Device type glob(s).")
    channel: Globs | None = Field(None, description="Channel glob(s) (CRM or support channel).")
    properties: dict[str, Globs] = Field(default_factory=dict, description="Property name -> value glob(s).")
    empty: list[str] = Field(default_factory=list, description="Fields that must be empty, e.g. [utm_medium, referrer].")

    @field_validator("path_regex", "referrer_regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"not a valid regular expression ({e}); escape special characters like '.' as '\\.'") from e
            if re.search(r"\(\?<?[=!]|\\[1-9]", v):
                raise ValueError("lookarounds ('(?=', '(?!', '(?<=', '(?<!') and backreferences ('\\1') are not supported (RE2 syntax); rewrite the pattern without them")
        return v

    @field_validator("empty")
    @classmethod
    def _empty(cls, v: list[str]) -> list[str]:
        allowed = ("url", "path", "referrer", "utm_source", "utm_medium", "utm_campaign", "device", "channel")
        for f in v:
            if f not in allowed:
                raise ValueError(f"`empty` takes field names among: {', '.join(allowed)}; got {f!r}")
        return v


class RuleConfig(Model):
    id: str = Field(description="Rule id, recorded on every event it classifies.")
    match: EventMatch = Field(default_factory=EventMatch, description="Conditions (all must hold).")
    touchpoint: str = Field(description="Touchpoint the matching events get.")
    phase: str = Field(description="Phase the matching events get.")
    conversion: bool = Field(False, description="Matching events are conversions (revenue from amount).")

    _n = field_validator("id")(lambda v: _name(v, "rule id"))


class RulesFile(Model):
    rules: list[RuleConfig] = Field(description="Ordered classification rules; the first match wins.")

    @model_validator(mode="after")
    def _unique(self) -> RulesFile:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(sorted(dup))}")
        return self


# --------------------------------------------------------------------------- personas


class PersonaRule(Model):
    persona: str = Field(description="Persona name given to matching customers.")
    match: dict[str, Globs] = Field(default_factory=dict, description="Profile attribute -> value glob(s); all must hold.")
    description: str | None = Field(None, description="Who this persona is, for the report.")

    _n = field_validator("persona")(lambda v: _name(v, "persona"))


class PersonasFile(Model):
    personas: list[PersonaRule] = Field(description="Ordered persona rules over profile attributes; first match wins; 'unknown' otherwise.")


# --------------------------------------------------------------------------- funnels


class StepConfig(Model):
    name: str | None = Field(None, description="Display name of the step; defaults to what it matches.")
    phase: str | None = Field(None, description="The step is any event in this phase.")
    touchpoint: str | None = Field(None, description="The step is any event at this touchpoint.")
    event: EventMatch | None = Field(None, description="The step is an event matching these conditions.")
    optional: bool = Field(False, description="The step may be skipped (never step 1, never the last step).")
    min_gap: str | None = Field(None, description="Minimum time since the previous matched step, e.g. '0s', '10m', '1h', '2d'.")
    max_gap: str | None = Field(None, description="Maximum time since the previous matched step, e.g. '1h', '7d'.")

    @model_validator(mode="after")
    def _one(self) -> StepConfig:
        given = [k for k in ("phase", "touchpoint", "event") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a step needs exactly one of `phase`, `touchpoint` or `event`")
        for g in (self.min_gap, self.max_gap):
            if g is not None:
                parse_duration(g)
        if self.min_gap is not None and self.max_gap is not None and parse_duration(self.max_gap) < parse_duration(self.min_gap):
            raise ValueError(f"max_gap ({self.max_gap}) is shorter than min_gap ({self.min_gap}); make max_gap at least min_gap")
        return self


class ExclusionConfig(Model):
    event: EventMatch = Field(description="The excluded event.")
    from_step: int = Field(1, ge=1, description="Exclusion applies from this step's event (1-based) ...")
    to_step: int | None = Field(None, ge=1, description="... until this step's event (default: the last step); until the end of the window when the attempt never reached it.")


MAX_FUNNEL_STEPS = 10


DEFAULT_BREAKDOWN_LIMIT = 10


class FunnelConfig(Model):
    name: str = Field(description="Funnel name, used as the `funnel` column.")
    unit: Literal["customer", "journey"] = Field("customer", description="Count customers, or journeys (an attempt then stays inside one journey).")
    steps: list[StepConfig] = Field(min_length=2, max_length=MAX_FUNNEL_STEPS, description=f"Two to {MAX_FUNNEL_STEPS} steps.")
    window: str = Field("30d", description="Conversion window measured from the step-1 event, e.g. '1h', '30d'.")
    mode: Literal["ordered", "strict", "any_order"] = Field("ordered", description="ordered, strict (no other event between steps) or any_order.")
    exclusions: list[ExclusionConfig] = Field(default_factory=list, description="Events that remove the customer when they happen inside the counted attempt.")
    breakdowns: list[str] = Field(default_factory=list, description="Breakdown columns: persona, first_touchpoint, cohort_month, source, or any marts.journey_events column.")
    breakdown_attribution: str = Field("first_touch", description="first_touch, last_touch, or step_<n>.")
    breakdown_limit: int | None = Field(None, ge=1, le=1000, description=(
        "Breakdown values shown per breakdown, the most frequent by units; the rest are grouped as 'Other' in "
        f"marts.funnel_dropoff and marts.funnel_step_trends. Default: the file's breakdown_limit ({DEFAULT_BREAKDOWN_LIMIT})."))

    _n = field_validator("name")(lambda v: _name(v, "funnel name"))

    @model_validator(mode="after")
    def _check(self) -> FunnelConfig:
        n = len(self.steps)
        if self.steps[0].optional:
            raise ValueError("step 1 cannot be optional")
        if self.steps[-1].optional:
            raise ValueError("the last step cannot be optional (converting means reaching it); remove `optional` or the step")
        if self.steps[0].min_gap is not None or self.steps[0].max_gap is not None:
            raise ValueError("step 1 has no previous step: move min_gap/max_gap to a later step")
        if self.mode == "any_order":
            for i, s in enumerate(self.steps, 1):
                if s.optional or s.min_gap is not None or s.max_gap is not None:
                    raise ValueError(f"steps[{i - 1}]: any_order funnels take no optional steps and no min_gap/max_gap (steps have no order)")
        parse_duration(self.window)
        if not re.match(r"^(first_touch|last_touch|step_[1-9][0-9]*)$", self.breakdown_attribution):
            raise ValueError("breakdown_attribution must be first_touch, last_touch or step_<n>")
        if self.breakdown_attribution.startswith("step_") and int(self.breakdown_attribution[5:]) > n:
            raise ValueError(f"breakdown_attribution {self.breakdown_attribution} names a step beyond the last ({n})")
        for b in self.breakdowns:
            _name(b, "breakdown")
            if b in ("all",):
                raise ValueError("'all' is the breakdown every funnel gets; remove it from breakdowns")
        if len(set(self.breakdowns)) != len(self.breakdowns):
            raise ValueError("breakdowns must not repeat")
        for j, e in enumerate(self.exclusions):
            to = e.to_step if e.to_step is not None else n
            if e.from_step > n or to > n:
                raise ValueError(f"exclusions[{j}]: steps run from 1 to {n}")
            if e.from_step >= to:
                raise ValueError(f"exclusions[{j}]: from_step ({e.from_step}) must come before to_step ({to})")
        return self


class FunnelsFile(Model):
    breakdown_limit: int = Field(DEFAULT_BREAKDOWN_LIMIT, ge=1, le=1000, description=(
        "Breakdown values shown per breakdown for every funnel without its own breakdown_limit; the rest are 'Other'."))
    funnels: list[FunnelConfig] = Field(description="Funnel definitions.")

    @model_validator(mode="after")
    def _limits(self) -> FunnelsFile:
        """Each funnel without a breakdown_limit takes the file's."""
        funnels = [f if f.breakdown_limit is not None else f.model_copy(update={"breakdown_limit": self.breakdown_limit})
                   for f in self.funnels]
        object.__setattr__(self, "funnels", funnels)
        return self


# --------------------------------------------------------------------------- designed journeys


class DesignStep(Model):
    name: str | None = Field(None, description="Display name of the step; defaults to what it matches.")
    phase: str | None = Field(None, description="The step is an event in this phase.")
    touchpoint: str | None = Field(None, description="The step is an event at this touchpoint.")
    event_name: str | None = Field(None, description="The step is an event of this name (exact, e.g. 'Order Completed').")
    optional: bool = Field(False, description="The journey may skip this step without deviating (never step 1).")
    repeatable: bool = Field(False, description="The step may happen several times in a row of the design without deviating.")
    target: str | None = Field(None, description="Target time from the previous step to this one, e.g. '10m', '2d'; longer is a stall (never step 1).")

    @model_validator(mode="after")
    def _check(self) -> DesignStep:
        if self.phase is None and self.touchpoint is None and self.event_name is None:
            raise ValueError("a step needs at least one of `phase`, `touchpoint` or `event_name` (all given must hold)")
        if self.target is not None:
            parse_duration(self.target)
        return self

    @property
    def label(self) -> str:
        return self.name or " / ".join(v for v in (self.event_name, self.touchpoint, self.phase) if v is not None)


MAX_DESIGN_STEPS = 20


class DesignConfig(Model):
    name: str = Field(description="Design name, used as the `design` column.")
    persona: str = Field("all", description="Persona whose journeys the design is for, or 'all'.")
    description: str | None = Field(None, description="What the design intends, for the report.")
    also_planned: list[str] = Field(default_factory=list, description="Touchpoints the design expects besides its steps' (e.g. [website, email]): events there are not deviations.")
    steps: list[DesignStep] = Field(min_length=1, max_length=MAX_DESIGN_STEPS, description=f"The intended steps in order (1 to {MAX_DESIGN_STEPS}); a journey enters the design at its first event matching step 1.")

    _n = field_validator("name")(lambda v: _name(v, "design name"))

    @model_validator(mode="after")
    def _check(self) -> DesignConfig:
        first = self.steps[0]
        if first.optional:
            raise ValueError("step 1 cannot be optional: a journey enters the design at step 1")
        if first.target is not None:
            raise ValueError("step 1 has no previous step: move `target` to a later step")
        return self


class DesignsFile(Model):
    designs: list[DesignConfig] = Field(default_factory=list, description="Designed journeys (future state) that observed journeys are aligned against.")


# --------------------------------------------------------------------------- settings


class IdentitySettings(Model):
    max_linked_identifiers: int = Field(
        10, ge=1, description="An identifier seen with more than this many other identifiers of one type (a shared device, info@) links nothing."
    )
    device_identifiers: list[str] = Field(
        default_factory=lambda: ["anonymous_id"],
        description="Identifier types that name a browser or device rather than a person (Segment anonymousId). A person "
        "may use many of them, so they are not counted against a person-level identifier's limit; and an event's customer "
        "comes from its person-level identifiers first.",
    )
    phone_country_code: str = Field(
        "1", pattern=r"^[1-9][0-9]{0,2}$",
        description="Calling code (without '+') given to phone numbers written without one, e.g. '1' (US, Canada) or '44' "
        "(UK): '555-867-5309' becomes +15558675309 before it is hashed, so it matches the same number written with '+1'.",
    )
    hash_secret_default_note: str = Field(
        "The default JOURNEYS_HASH_SECRET is for demos only; set your own secret in production.",
        description="Shown when the default secret is in use.",
    )


class PathPoint(Model):
    touchpoint: str | None = Field(None, description="A step of this touchpoint (or phase, for a phase-level definition).")
    event_name: str | None = Field(None, description="The step during which an event of this name happened (exact name).")

    @model_validator(mode="after")
    def _one(self) -> PathPoint:
        if (self.touchpoint is None) == (self.event_name is None):
            raise ValueError("give exactly one of touchpoint or event_name")
        return self


class PathDefinition(Model):
    name: str = Field(description="The `definition` column of marts.journey_paths (lowercase letters, digits, underscores; not 'all').")
    level: Literal["touchpoint", "phase"] = Field("touchpoint", description="Path of touchpoints (visit by visit) or of phases.")
    start: PathPoint | None = Field(None, description="Paths start at the journey's first such step; journeys without one are left out.")
    end: PathPoint | None = Field(None, description="Paths end at the first such step (after the start); journeys without one are left out.")
    max_steps: int | None = Field(
        None, ge=1, le=50,
        description="Step limit: the first N steps (the last N before the end point when only an end is given).",
    )
    exclude: list[str] = Field(default_factory=list, description="Touchpoints (phases) left out of the paths; repeats that then meet collapse.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        _name(v, "path definition name")
        if v == "all":
            raise ValueError("'all' is the definition of every whole path; choose another name")
        return v


class JourneySettings(Model):
    timeout: str = Field("30d", description="A gap of inactivity longer than this ends a journey (a conversion always ends one).")
    max_path_steps: int = Field(
        12, ge=3, description="marts.journey_paths: a path of more than N (this) steps keeps its first ceil(N/2) and last floor(N/2) steps around '…'."
    )
    drop_touchpoints: list[str] = Field(
        default_factory=list, description="marts.journey_paths: touchpoints left out of touchpoint-level paths, e.g. [direct]; repeats that then meet collapse."
    )
    first_occurrence_only: bool = Field(False, description="marts.journey_paths: paths keep only the first occurrence of each step (both levels).")
    session_timeout: str = Field(
        "30m", description="marts.sessions: a web or app session ends after this long without an event of the session sources."
    )
    session_sources: list[str] = Field(
        default_factory=lambda: ["clickstream"],
        description="Sources whose events are web or app visits (cut into marts.sessions; one path step per visit).",
    )
    direct_touchpoints: list[str] = Field(
        default_factory=lambda: ["direct"],
        description="Touchpoints of a visit begun without campaign or referrer: such a visit is named direct_visit_touchpoint.",
    )
    direct_visit_touchpoint: str = Field(
        "website", description="The owned touchpoint a direct visit is named by (an app visit begins at mobile_app itself)."
    )
    paths: list[PathDefinition] = Field(
        default_factory=list,
        description="marts.journey_paths: path definitions beside 'all' (PostHog Paths, Amplitude Pathfinder): a start "
        "and/or end point, a step limit and exclusions.",
    )


class AttributionSettings(Model):
    lookback: str = Field("30d", description="Touchpoints more than this before the conversion get no credit.")
    half_life: str = Field("7d", description="Half-life of the time-decay model.")
    exclude_touchpoints: list[str] = Field(default_factory=list, description="Touchpoints given no credit unless nothing else is left.")
    shapley_max_touchpoints: int = Field(12, ge=2, le=20, description="Exact Shapley needs 2^n coalitions; above this many distinct touchpoints, the rarest are merged into 'other'.")


class PainPointSettings(Model):
    min_customers: int = Field(10, ge=1, description="A cell needs at least this many customers to be flagged.")
    min_lift: float = Field(1.5, gt=1, description="Flag when the rate is at least this multiple of the baseline.")
    support_within: str = Field("2d", description="A support contact within this time after a step counts as 'support contact after'.")
    support_sources: list[str] = Field(
        default_factory=lambda: ["support"],
        description="Sources whose events are support contacts (a help desk such as Zendesk).",
    )
    support_touchpoints: list[str] = Field(
        default_factory=lambda: ["call_center", "live_chat", "support_email"],
        description="Touchpoints whose events are support contacts, whatever their source.",
    )


class RetentionSettings(Model):
    cohort: Literal["first_seen", "first_purchase"] = Field(
        "first_seen", description="marts.retention: a customer's cohort is the week of their first return event (first_seen) or first conversion (first_purchase).")
    return_phase: str | None = Field(None, description="marts.retention and marts.lifecycle: the return event is in this phase (unset: any).")
    return_touchpoint: str | None = Field(None, description="... at this touchpoint (unset: any front-stage touchpoint).")
    return_event_name: str | None = Field(None, description="... of this event name (unset: any).")
    periods: int = Field(12, ge=1, le=104, description="marts.retention: weeks since the cohort week shown (0 to this).")


# a Spark master or Connect URL: local, local[N], local[*], spark://host:port[,host:port…], yarn,
# k8s://[https://]host[:port], sc://host[:port][/;param=value…]
_HOST_PORT = r"[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]"
_SPARK_MASTER = re.compile(
    rf"local(\[(\d+|\*)\])?|yarn"
    rf"|spark://({_HOST_PORT})(:\d{{1,5}})?(,({_HOST_PORT})(:\d{{1,5}})?)*"
    rf"|k8s://(https?://)?({_HOST_PORT})(:\d{{1,5}})?"
    rf"|sc://({_HOST_PORT})(:\d{{1,5}})?(/(;[A-Za-z_]+=[^;\s]*)*)?"
)
_SPARK_CONF_KEY = re.compile(r"spark\.[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
# settings the engine gives every session so Spark answers as DuckDB does, or that another key names
_SPARK_CONF_FIXED = {
    "spark.master": "spark_master names it",
    "spark.remote": "spark_master names it",
    "spark.sql.session.timeZone": "UTC, as DuckDB's timestamps",
    "spark.sql.ansi.enabled": "false: a division by zero is null, as on DuckDB",
}


class SettingsFile(Model):
    partitions_start: date | None = Field(
        None,
        description="Optional first landing day to load; earlier day folders are listed as not read. "
        "Unset (the default): every day folder the landing zone holds is loaded, back to 1970-01-01.",
    )
    schedule_timezone: str = Field("UTC", description="Time zone of the nightly 02:00 schedule.")
    max_record_bytes: int = Field(1_000_000, ge=1024, description="Records larger than this are rejected as oversized.")
    quarantine_payload_chars: int = Field(
        1000, ge=0, le=100_000,
        description="quarantine.rejected keeps this many characters of a rejected record (after masking), with its length and a keyed hash.",
    )
    max_future: str = Field("1d", description="Events dated more than this after the run are rejected.")
    min_timestamp: date = Field(date(2000, 1, 1), description="Events dated before this are rejected.")
    coverage_threshold: float = Field(0.98, ge=0, le=1, description="Asset check: share of each source's events that some rule classifies.")
    duckdb_memory_limit: str | None = Field(None, description="DuckDB memory_limit (e.g. '8GB'); unset means DuckDB's default (80% of RAM).")
    duckdb_threads: int | None = Field(None, ge=1, description="DuckDB threads; unset means all cores.")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="Where the models run: duckdb (this machine) or spark (a local Spark, a cluster or a "
        "Spark Connect server: spark_master; README, Running on Spark). Publish stays on this machine.",
    )
    spark_master: str = Field(
        "local[1]",
        description="The Spark master when engine is spark (local[N], spark://host:port, yarn, "
        "k8s://https://host:port) or a Spark Connect URL (sc://host:port). A cluster or a Connect "
        "server must see the warehouse folder and the landing zone at the same paths (README, "
        "Running on Spark).",
    )
    spark_conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark configuration for engine: spark (e.g. spark.driver.memory: 8g). A local "
        "master defaults to as many shuffle partitions as its cores and half the memory for the "
        "driver; a cluster or Connect server keeps its own settings. Through Spark Connect only "
        "runtime SQL settings (spark.sql.*) can be set.",
    )
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    journeys: JourneySettings = Field(default_factory=JourneySettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    pain_points: PainPointSettings = Field(default_factory=PainPointSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @field_validator("spark_master")
    @classmethod
    def _spark_master(cls, v: str) -> str:
        if not _SPARK_MASTER.fullmatch(v) or v.startswith("local[0"):
            raise ValueError(f"{v!r} is not a Spark master or Connect URL; use local[N], "
                             "spark://host:port, yarn, k8s://https://host:port or sc://host:port")
        return v

    @field_validator("spark_conf", mode="before")
    @classmethod
    def _spark_conf(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError("write spark_conf as a mapping of Spark settings, e.g. {spark.driver.memory: 8g}")
        out = {}
        for key, value in v.items():
            if not isinstance(key, str) or not _SPARK_CONF_KEY.fullmatch(key):
                raise ValueError(f"{key!r} is not a Spark setting; Spark settings are named spark.<…>, "
                                 "e.g. spark.driver.memory")
            if key in _SPARK_CONF_FIXED:
                raise ValueError(f"{key} is set by Journeys ({_SPARK_CONF_FIXED[key]}); remove it")
            if isinstance(value, bool):
                value = str(value).lower()
            if not isinstance(value, str | int | float) or str(value).strip() == "":
                raise ValueError(f"{key}: {value!r} is not a Spark setting's value; write a number, a word or true/false")
            out[key] = str(value)
        return out

    @model_validator(mode="after")
    def _connect_conf(self) -> SettingsFile:
        if self.spark_master.startswith("sc://"):
            static = sorted(k for k in self.spark_conf if not k.startswith("spark.sql."))
            if static:
                raise ValueError(f"spark_conf: {static[0]} cannot be set through Spark Connect (only spark.sql.* "
                                 "settings can); set it where the Connect server starts")
        return self



# --------------------------------------------------------------------------- loading

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> float:
    """'90s', '10m', '1h', '30d', '2w' -> seconds."""
    m = _DURATION_RE.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration; write a number and a unit: s, m, h, d or w (e.g. '30d')")
    return float(m.group(1)) * _UNIT_SECONDS[m.group(2)]


class Config(Model):
    """All settings, loaded and cross-checked."""

    sources: dict[str, SourceConfig]
    taxonomy: TaxonomyFile
    rules: list[RuleConfig]
    personas: list[PersonaRule]
    funnels: list[FunnelConfig]
    settings: SettingsFile
    designs: list[DesignConfig] = Field(default_factory=list)
    files: dict[str, str] = Field(description="Config name -> the file it was read from.")

    def event_sources(self) -> dict[str, SourceConfig]:
        return {k: v for k, v in self.sources.items() if v.kind == "events"}

    def profile_sources(self) -> dict[str, SourceConfig]:
        return {k: v for k, v in self.sources.items() if v.kind == "profiles"}


_MODELS: dict[str, type[Model]] = {
    "sources": SourcesFile,
    "taxonomy": TaxonomyFile,
    "rules": RulesFile,
    "personas": PersonasFile,
    "funnels": FunnelsFile,
    "settings": SettingsFile,
    "designs": DesignsFile,
}


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _fix_hint(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "remove it or check its spelling"
    if kind == "missing":
        return "add it"
    if kind in ("literal_error", "enum"):
        return "use one of the allowed values"
    return "correct the value"


def _load_file(name: str, path: Path) -> Model:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e}). Fix the syntax and run again.") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror}).") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (key: value), not {type(data).__name__}.")
    if "extends" in data:
        data = _extend_defaults(name, path, data)
    try:
        return _MODELS[name].model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = _format_loc(tuple(err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{path}: {loc}: {msg} ({_fix_hint(err)}).")
        raise ConfigError("\n".join(lines)) from None


EXTENDABLE = {"sources": "sources", "rules": "rules"}


def _extend_defaults(name: str, path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """`extends: defaults` in a user's sources.yaml or rules.yaml: the user's sources are added
    to (or replace, by name) the shipped ones; the user's rules are tried before the shipped ones."""
    if data.get("extends") != "defaults":
        raise ConfigError(f"{path}: extends: only 'defaults' is supported (extends: defaults).")
    if name not in EXTENDABLE:
        raise ConfigError(f"{path}: extends: only sources.yaml and rules.yaml can extend the defaults; copy and edit the whole file instead.")
    key = EXTENDABLE[name]
    base = load_yaml((DEFAULTS_DIR / f"{name}.yaml").read_text(encoding="utf-8")) or {}
    mine = data.get(key) or ([] if key == "rules" else {})
    if key == "sources":
        if not isinstance(mine, dict):
            raise ConfigError(f"{path}: sources: must be a mapping of source name -> settings.")
        merged = {**base.get("sources", {}), **mine}
    else:
        if not isinstance(mine, list):
            raise ConfigError(f"{path}: rules: must be a list of rules.")
        merged = list(mine) + list(base.get("rules", []))
    rest = {k: v for k, v in data.items() if k not in ("extends", key)}
    return {**rest, key: merged}


def config_paths(config_dir: Path | None) -> dict[str, Path]:
    """Config name -> file: the user's folder first, then the shipped defaults."""
    out = {}
    for name in CONFIG_FILES:
        user = config_dir / f"{name}.yaml" if config_dir else None
        out[name] = user if user is not None and user.exists() else DEFAULTS_DIR / f"{name}.yaml"
    if config_dir is not None:
        if not config_dir.is_dir():
            raise ConfigError(f"{config_dir}: JOURNEYS_CONFIG_DIR is not a folder. Point it at a folder of YAML files.")
        for f in sorted(config_dir.glob("*.y*ml")):
            if f.stem not in CONFIG_FILES:
                raise ConfigError(
                    f"{f}: unknown config file. Config files are: {', '.join(n + '.yaml' for n in CONFIG_FILES)}."
                )
    return out


def load_config(config_dir: Path | str | None = None) -> Config:
    """Read, validate and cross-check every config file. Raises ConfigError for a person."""
    paths = config_paths(Path(config_dir) if config_dir else None)
    parsed = {name: _load_file(name, p) for name, p in paths.items()}
    sources: SourcesFile = parsed["sources"]  # type: ignore[assignment]
    taxonomy: TaxonomyFile = parsed["taxonomy"]  # type: ignore[assignment]
    rules: RulesFile = parsed["rules"]  # type: ignore[assignment]
    personas: PersonasFile = parsed["personas"]  # type: ignore[assignment]
    funnels: FunnelsFile = parsed["funnels"]  # type: ignore[assignment]
    settings: SettingsFile = parsed["settings"]  # type: ignore[assignment]
    designs: DesignsFile = parsed["designs"]  # type: ignore[assignment]

    phases, touchpoints = set(taxonomy.phase_names), set(taxonomy.touchpoint_names)
    for i, r in enumerate(rules.rules):
        where = f"{paths['rules']}: rules[{i}] ({r.id})"
        if r.touchpoint not in touchpoints:
            raise ConfigError(f"{where}.touchpoint: unknown touchpoint {r.touchpoint!r}. Use one of {sorted(touchpoints)} or add it to taxonomy.yaml.")
        if r.phase not in phases:
            raise ConfigError(f"{where}.phase: unknown phase {r.phase!r}. Use one of {taxonomy.phase_names} or add it to taxonomy.yaml.")
        _check_sources_used(r.match, f"{where}.match.source", sources.sources, paths["sources"])
    breakdowns = _known_breakdowns()
    for i, f in enumerate(funnels.funnels):
        for j, s in enumerate(f.steps):
            where = f"{paths['funnels']}: funnels[{i}] ({f.name}).steps[{j}]"
            if s.phase is not None and s.phase not in phases:
                raise ConfigError(f"{where}.phase: unknown phase {s.phase!r}. Use one of {taxonomy.phase_names}.")
            if s.touchpoint is not None and s.touchpoint not in touchpoints:
                raise ConfigError(f"{where}.touchpoint: unknown touchpoint {s.touchpoint!r}. Use one of {sorted(touchpoints)}.")
            if s.event is not None:
                _check_sources_used(s.event, f"{where}.event.source", sources.sources, paths["sources"])
        for b in f.breakdowns:
            if b not in breakdowns:
                close = difflib.get_close_matches(b, breakdowns, n=1)
                hint = f"Did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"{paths['funnels']}: funnels[{i}] ({f.name}).breakdowns: unknown breakdown {b!r}. {hint}"
                    f"Use first_touchpoint, cohort_month or a column of marts.journey_events such as persona, source, "
                    f"touchpoint, channel, device or utm_source (all listed in docs/tables.md)."
                )
    names = [f.name for f in funnels.funnels]
    if len(set(names)) != len(names):
        raise ConfigError(f"{paths['funnels']}: funnels: funnel names must be unique.")
    for key in ("drop_touchpoints",):
        for t in getattr(settings.journeys, key):
            if t not in touchpoints:
                raise ConfigError(f"{paths['settings']}: journeys.{key}: unknown touchpoint {t!r}. Use one of {sorted(touchpoints)}.")
    _check_path_definitions(settings, paths["settings"], touchpoints, set(taxonomy.phase_names), sources.sources)
    for t in settings.attribution.exclude_touchpoints:
        if t not in touchpoints:
            raise ConfigError(f"{paths['settings']}: attribution.exclude_touchpoints: unknown touchpoint {t!r}.")
    for key in ("timeout", "session_timeout"):
        try:
            parse_duration(getattr(settings.journeys, key))
        except ValueError as e:
            raise ConfigError(f"{paths['settings']}: journeys.{key}: {e}.") from None
    for key in ("lookback", "half_life"):
        try:
            parse_duration(getattr(settings.attribution, key))
        except ValueError as e:
            raise ConfigError(f"{paths['settings']}: attribution.{key}: {e}.") from None
    try:
        parse_duration(settings.max_future)
        parse_duration(settings.pain_points.support_within)
    except ValueError as e:
        raise ConfigError(f"{paths['settings']}: {e}.") from None

    _check_designs(designs, paths["designs"], taxonomy, personas, settings, paths["settings"])

    return Config(
        sources=sources.sources,
        taxonomy=taxonomy,
        rules=rules.rules,
        personas=personas.personas,
        funnels=funnels.funnels,
        settings=settings,
        designs=designs.designs,
        files={k: str(v) for k, v in paths.items()},
    )


def _check_designs(designs: DesignsFile, path: Path, taxonomy: TaxonomyFile, personas: PersonasFile,
                   settings: SettingsFile, settings_path: Path) -> None:
    """Designs name known phases, touchpoints and personas, once each; so does the return event."""
    phases, touchpoints = taxonomy.phase_names, taxonomy.touchpoint_names
    known_personas = sorted({p.persona for p in personas.personas} | {"unknown", "all"})
    names = [d.name for d in designs.designs]
    for i, d in enumerate(designs.designs):
        where = f"{path}: designs[{i}] ({d.name})"
        if names.count(d.name) > 1:
            raise ConfigError(f"{where}.name: design names must be unique; rename one of the designs called {d.name!r}.")
        if d.persona not in known_personas:
            raise ConfigError(f"{where}.persona: unknown persona {d.persona!r}. Use one of {known_personas} (personas.yaml).")
        for j, s in enumerate(d.steps):
            if s.phase is not None and s.phase not in phases:
                raise ConfigError(f"{where}.steps[{j}].phase: unknown phase {s.phase!r}. Use one of {phases}.")
            if s.touchpoint is not None and s.touchpoint not in touchpoints:
                raise ConfigError(f"{where}.steps[{j}].touchpoint: unknown touchpoint {s.touchpoint!r}. Use one of {sorted(touchpoints)}.")
        for t in d.also_planned:
            if t not in touchpoints:
                raise ConfigError(f"{where}.also_planned: unknown touchpoint {t!r}. Use one of {sorted(touchpoints)}.")
    r = settings.retention
    if r.return_phase is not None and r.return_phase not in phases:
        raise ConfigError(f"{settings_path}: retention.return_phase: unknown phase {r.return_phase!r}. Use one of {phases}.")
    if r.return_touchpoint is not None and r.return_touchpoint not in touchpoints:
        raise ConfigError(f"{settings_path}: retention.return_touchpoint: unknown touchpoint {r.return_touchpoint!r}. Use one of {sorted(touchpoints)}.")


def _shipped(name: str) -> dict[str, Any]:
    return load_yaml((DEFAULTS_DIR / f"{name}.yaml").read_text(encoding="utf-8")) or {}


def _check_path_definitions(settings: SettingsFile, settings_file: Path, touchpoints: Collection[str],
                            phases: Collection[str], sources: Mapping[str, Any]) -> None:
    """Session and path settings name known touchpoints, phases and sources."""
    j = settings.journeys
    for key in ("direct_touchpoints",):
        for t in getattr(j, key):
            if t not in touchpoints:
                raise ConfigError(f"{settings_file}: journeys.{key}: unknown touchpoint {t!r}. Use one of {sorted(touchpoints)}.")
    if j.direct_visit_touchpoint not in touchpoints:
        raise ConfigError(f"{settings_file}: journeys.direct_visit_touchpoint: unknown touchpoint {j.direct_visit_touchpoint!r}. "
                          f"Use one of {sorted(touchpoints)}.")
    for s in j.session_sources:
        if s not in sources:
            raise ConfigError(f"{settings_file}: journeys.session_sources: unknown source {s!r}. Use one of {sorted(sources)}.")
    names = [d.name for d in j.paths]
    if len(set(names)) != len(names):
        raise ConfigError(f"{settings_file}: journeys.paths: path definition names must be unique.")
    for i, d in enumerate(j.paths):
        where = f"{settings_file}: journeys.paths[{i}] ({d.name})"
        known, what = (touchpoints, "touchpoint") if d.level == "touchpoint" else (phases, "phase")
        for key, point in (("start", d.start), ("end", d.end)):
            if point is not None and point.touchpoint is not None:
                if point.touchpoint not in known:
                    raise ConfigError(f"{where}.{key}.touchpoint: unknown {what} {point.touchpoint!r}. Use one of {sorted(known)}.")
                if point.touchpoint in d.exclude:
                    raise ConfigError(f"{where}.exclude: {point.touchpoint!r} is the {key} point; it cannot be excluded.")
        for t in d.exclude:
            if t not in known:
                raise ConfigError(f"{where}.exclude: unknown {what} {t!r}. Use one of {sorted(known)}.")


def _check_sources_used(match: EventMatch, where: str, sources: dict[str, SourceConfig], sources_file: Path) -> None:
    """Every source a rule or funnel step names must exist. When the missing one is a shipped
    source and the user's sources.yaml replaced the shipped file, say so and name the fix."""
    if match.source is None:
        return
    for pattern in _as_list(match.source):
        if any(_glob_match(pattern, name) for name in sources):
            continue
        shipped = sorted(_shipped("sources").get("sources", {}))
        if sources_file != DEFAULTS_DIR / "sources.yaml" and any(_glob_match(pattern, n) for n in shipped):
            raise ConfigError(
                f"{sources_file}: does not define source {pattern!r}, which {where} uses: rules.yaml and funnels.yaml "
                f"reference sources that your sources.yaml no longer defines. Put `extends: defaults` at the top of "
                f"{sources_file.name} to keep the shipped sources ({', '.join(shipped)}) and add yours to them."
            )
        raise ConfigError(f"{where}: no source matches {pattern!r}. Sources: {', '.join(sorted(sources))} (in {sources_file}).")


def _known_breakdowns() -> list[str]:
    """Funnel breakdowns: the ones computed per unit, then the columns of marts.journey_events
    (from its documentation, the one source of its column list)."""
    from transforms.funnels import UNIT_BREAKDOWNS
    from transforms.warehouse import table_doc

    doc = table_doc("marts.journey_events") or {}
    return [*UNIT_BREAKDOWNS, *(c for c in doc.get("columns", {}) if not c.startswith("_") or c == "_partition")]


def unseen_event_names(config: Config, seen: Mapping[str, Collection[str]]) -> list[str]:
    """Warnings (one line each) for funnel steps and classification rules whose event names
    occur in no landed event of their sources, with the closest names that do occur.
    `seen` maps source -> the distinct event names in staging.events. Rules of the shipped
    rules.yaml are a catalogue of common names: the ones matching nothing are summed up in one line."""
    shipped_rules = {r["id"] for r in _shipped("rules").get("rules", [])}
    rules_file = Path(config.files["rules"])
    shipped_kept = rules_file == DEFAULTS_DIR / "rules.yaml" or "extends" in (_read_yaml(rules_file) or {})

    def check(match: EventMatch) -> tuple[bool, list[tuple[str, list[str]]]]:
        """(any name occurs, [(name that never occurs, closest names seen)])."""
        sources = [src for src, ns in seen.items() if ns and (
            match.source is None or any(_glob_match(p, src) for p in _as_list(match.source)))]
        if match.event_name is None or not sources:  # no events of its sources loaded yet: nothing to judge by
            return True, []
        names = sorted({n for src in sources for n in seen[src]})
        missing = []
        for pattern in _as_list(match.event_name):
            if not any(_glob_match(pattern, n) for n in names):
                lowered = {n.lower(): n for n in names}
                close = [lowered[c] for c in difflib.get_close_matches(pattern.lower(), list(lowered), n=3, cutoff=0.6)]
                missing.append((pattern, close))
        return len(missing) < len(_as_list(match.event_name)), missing

    def line(where: str, missing: list[tuple[str, list[str]]]) -> str:
        parts = []
        for name, close in missing:
            hint = f" (closest seen: {', '.join(repr(c) for c in close)})" if close else ""
            parts.append(f"{name!r}{hint}")
        return f"{where}: event name {'; '.join(parts)} occurs in no landed event."

    out: list[str] = []
    for i, f in enumerate(config.funnels):
        for j, step in enumerate(f.steps):
            if step.event is not None:
                _, missing = check(step.event)
                if missing:
                    out.append(line(f"{config.files['funnels']}: funnels[{i}] ({f.name}).steps[{j}]", missing)
                               .removesuffix(".") + ": the step counts nobody.")
    idle_shipped = []
    for i, r in enumerate(config.rules):
        any_seen, missing = check(r.match)
        if shipped_kept and r.id in shipped_rules:
            if not any_seen:
                idle_shipped.append(r.id)
        elif missing:
            out.append(line(f"{config.files['rules']}: rules[{i}] ({r.id}).match.event_name", missing))
    if idle_shipped:
        out.append(f"{DEFAULTS_DIR / 'rules.yaml'}: {len(idle_shipped)} shipped rule(s) match no landed event name "
                   f"(fine if your sources do not send them): {', '.join(idle_shipped)}.")
    return out


def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None


def glob_to_like(pattern: str) -> str:
    """Case-insensitive glob ('*', '?') -> SQL LIKE pattern with '\\' as the escape."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def glob_syntax_problem(pattern: str) -> str | None:
    """Why `pattern` is not a well-formed glob (a '[' without its ']'), or None. fnmatch would
    silently read such a '[' as a literal character and match nothing."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] == "!":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1
            close = pattern.find("]", j)
            if close < 0:
                return f"the '[' at position {i + 1} has no closing ']' (for a literal '[' write '[[]')"
            i = close
        i += 1
    return None


def glob_matches(pattern: str, name: str) -> bool:
    """Whether file `name` matches glob `pattern`, ignoring case (events.JSONL matches *.jsonl)."""
    import fnmatch

    return fnmatch.fnmatchcase(name.lower(), pattern.lower())


def _glob_match(pattern: str, value: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(value.lower(), pattern.lower())
