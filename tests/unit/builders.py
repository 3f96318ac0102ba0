"""Builders shared by the unit tests: staging tables made from plain Python lists, and the
shipped configuration with some settings replaced."""

from functools import cache
from typing import Any

import duckdb

from transforms.checks import check_params, run_check
from transforms.config import Config, load_config


@cache
def shipped_config() -> Config:
    return load_config()


def configured(funnels=None, **settings) -> Config:
    """The shipped configuration with settings sections replaced (e.g.
    `identity=IdentitySettings(max_linked_identifiers=2)`) and, if given, other funnels."""
    base = shipped_config()
    update: dict = {"settings": base.settings.model_copy(update=settings)}
    if funnels is not None:
        update["funnels"] = list(funnels)
    return base.model_copy(update=update)


def offending(con: duckdb.DuckDBPyConnection, check: str, config: Config | None = None, **params: Any) -> list[tuple]:
    """The offending rows (at most 20) of a check file (`<schema>.<table>/<name>`), run as the
    Dagster check runs it: transforms.checks.run_check with check_params(config), plus `params`."""
    return run_check(con, check, check_params(config or shipped_config()) | params).rows

# staging.events from parallel lists bound as parameters ($event_id, $source, $event_name,
# $occurred_at, $ids_k, $ids_v, $url, …, $properties, and $n = the number of events).
STAGING_EVENTS_FROM_LISTS = """
        create or replace table staging.events as
        select
            unnest($event_id::varchar[]) as event_id, unnest($source::varchar[]) as source,
            unnest($event_id::varchar[]) as source_event_id, unnest($event_name::varchar[]) as event_name,
            unnest($occurred_at::timestamp[]) as occurred_at,
            map(unnest($ids_k::varchar[][]), unnest($ids_v::varchar[][])) as identifiers,
            unnest($url::varchar[]) as url, unnest($url_path::varchar[]) as url_path,
            unnest($referrer::varchar[]) as referrer, unnest($utm_source::varchar[]) as utm_source,
            unnest($utm_medium::varchar[]) as utm_medium, unnest($utm_campaign::varchar[]) as utm_campaign,
            unnest($device::varchar[]) as device, unnest($channel::varchar[]) as channel,
            unnest($amount::double[]) as amount, unnest($csat::double[]) as csat,
            unnest($satisfaction::varchar[]) as satisfaction, unnest($text::varchar[]) as text,
            unnest($properties::json[]) as properties,
            date '2025-03-01' as _partition, 'test' as _source_file, unnest(range($n)) as _line,
            timestamp '2025-03-02 00:00:00' as _loaded_at
"""

EMPTY_STAGING_PROFILES = (
    "create or replace table staging.profiles (profile_id varchar, source varchar, source_profile_id varchar, "
    "updated_at timestamp, identifiers map(varchar, varchar), attributes map(varchar, varchar), "
    "_partition date, _source_file varchar, _line bigint)"
)
