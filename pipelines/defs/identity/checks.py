"""Blocking checks of the identity stage (identity.customer_ids, intermediate.classified_events,
intermediate.customer_profiles). The tables themselves are model assets
(pipelines/defs/ops/models.py)."""



import dagster as dg

from pipelines.defs.ops.resources import JourneysResource
from transforms.classify import coverage, events_classified_once
from transforms.config import Config

STAGING_EVENTS = dg.AssetKey(["staging", "events"])
STAGING_PROFILES = dg.AssetKey(["staging", "profiles"])
CUSTOMER_IDS = dg.AssetKey(["identity", "customer_ids"])
SHARED_IDENTIFIERS = dg.AssetKey(["identity", "shared_identifiers"])
CLASSIFIED_EVENTS = dg.AssetKey(["intermediate", "classified_events"])
CUSTOMER_PROFILES = dg.AssetKey(["intermediate", "customer_profiles"])
GROUP = "identity"


def _md_table(header: list[str], rows: list[tuple]) -> dg.MetadataValue:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines))


def build_identity_checks(config: Config) -> list[dg.AssetChecksDefinition]:
    """The asset checks of this stage."""
    threshold = config.settings.coverage_threshold

    @dg.asset_check(
        asset=CUSTOMER_IDS,
        blocking=True,
        description="Every identifier of staging.events and staging.profiles has exactly one customer.",
    )
    def one_customer_per_identifier(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            (dupes, missing), = con.execute(
                """
                select
                    (select count(*) from (
                        select identifier_type, identifier_value from identity.customer_ids
                        group by all having count(*) > 1 or bool_or(customer_id is null))),
                    (select count(*) from intermediate.identity_nodes as n
                     anti join identity.customer_ids as c using (identifier_type, identifier_value))
                """
            ).fetchall()
        return dg.AssetCheckResult(
            passed=dupes == 0 and missing == 0,
            metadata={"identifiers_with_several_or_no_customer": dupes, "identifiers_missing": missing},
        )

    @dg.asset_check(
        asset=CLASSIFIED_EVENTS,
        blocking=True,
        description=f"Share of each source's events that some rule classifies (not 'unclassified') is at least "
                    f"settings coverage_threshold ({threshold:.0%}).",
    )
    def classification_coverage(journeys: JourneysResource) -> dg.AssetCheckResult:
        limit = journeys.config.settings.coverage_threshold
        with journeys.connect() as con:
            cov = coverage(con)
            unclassified = con.execute(
                """
                select source, event_name, count(*) as n
                from intermediate.classified_events
                where rule_id is null
                group by all order by n desc limit 10
                """
            ).fetchall()
        low = [(s, c) for s, _, _, c in cov if c < limit]
        md: dict = {f"coverage_{s}": dg.MetadataValue.float(round(c, 6)) for s, _, _, c in cov}
        md["threshold"] = dg.MetadataValue.float(limit)
        md["by_source"] = _md_table(["source", "events", "classified", "coverage"],
                                    [(s, n, k, f"{c:.2%}") for s, n, k, c in cov])
        md["top_unclassified"] = _md_table(["source", "event_name", "events"], unclassified)
        return dg.AssetCheckResult(
            passed=not low,
            metadata=md,
            description=(
                "Below the threshold: " + ", ".join(f"{s} {c:.2%}" for s, c in low)
                + ". Add rules to rules.yaml for the events listed in top_unclassified."
            ) if low else None,
        )

    @dg.asset_check(
        asset=CLASSIFIED_EVENTS,
        blocking=True,
        description="Every event of staging.events is in intermediate.classified_events exactly once, with a customer.",
    )
    def every_event_exactly_once(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            counts = events_classified_once(con)
        return dg.AssetCheckResult(
            passed=all(counts[k] == 0 for k in ("missing", "repeated", "not_in_staging", "without_customer")),
            metadata=counts,
        )

    @dg.asset_check(
        asset=CUSTOMER_PROFILES,
        blocking=True,
        description="No customer without events: every customer of intermediate.customer_profiles has events, "
                    "and every customer of intermediate.classified_events is in identity.customer_ids and has a profile row.",
    )
    def no_customer_without_events(journeys: JourneysResource) -> dg.AssetCheckResult:
        with journeys.connect() as con:
            (without_events, not_in_identity, without_profile, repeated), = con.execute(
                """
                with event_customers as (
                    select distinct customer_id from intermediate.classified_events
                )
                select
                    (select count(*) from intermediate.customer_profiles as p
                     anti join event_customers as e using (customer_id)),
                    (select count(*) from event_customers as e
                     anti join (select distinct customer_id from identity.customer_ids) as c using (customer_id)),
                    (select count(*) from event_customers as e
                     anti join intermediate.customer_profiles as p using (customer_id)),
                    (select count(*) from (select customer_id from intermediate.customer_profiles
                                           group by customer_id having count(*) > 1))
                """
            ).fetchall()
        return dg.AssetCheckResult(
            passed=without_events == 0 and not_in_identity == 0 and without_profile == 0 and repeated == 0,
            metadata={
                "profiles_without_events": without_events,
                "event_customers_not_in_identity": not_in_identity,
                "event_customers_without_profile_row": without_profile,
                "customers_repeated": repeated,
            },
        )

    return [
        one_customer_per_identifier,
        classification_coverage,
        every_event_exactly_once,
        no_customer_without_events,
    ]
