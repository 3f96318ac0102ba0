"""Assets of the identity stage: identity.customer_ids, identity.shared_identifiers,
intermediate.classified_events and intermediate.customer_profiles, with blocking checks."""


import time

import dagster as dg

from pipelines.defs.ops.models import describe
from pipelines.defs.ops.resources import JourneysResource
from transforms.classify import build_classified_events, coverage, events_classified_once
from transforms.config import Config
from transforms.identity import build_identity
from transforms.personas import build_customer_profiles
from transforms.warehouse import preview

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


def build_identity_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    """Assets and asset checks of this stage, built from the configuration."""
    threshold = config.settings.coverage_threshold

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(CUSTOMER_IDS, deps=[STAGING_EVENTS, STAGING_PROFILES], description=describe("identity.customer_ids"),
                         group_name=GROUP, kinds={"duckdb", "sql"}),
            dg.AssetSpec(SHARED_IDENTIFIERS, deps=[STAGING_EVENTS, STAGING_PROFILES],
                         description=describe("identity.shared_identifiers"), group_name=GROUP, kinds={"duckdb", "sql"}),
        ],
        name="identity",
    )
    def identity(context: dg.AssetExecutionContext, journeys: JourneysResource):
        with journeys.connect() as con:
            out = build_identity(con, journeys.config.settings.identity)
            shared = con.execute(
                "select identifier_type, linked_type, count(*), max(n_linked) from identity.shared_identifiers "
                "group by all order by 3 desc, 1, 2 limit 20"
            ).fetchall()
            yield dg.MaterializeResult(
                asset_key=CUSTOMER_IDS,
                metadata={
                    "rows": out["identity.customer_ids"],
                    "customers": out["customers"],
                    "links": out["intermediate.identity_edges"] // 2,
                    "iterations": out["iterations"],
                    "seconds": out["seconds"],
                    "preview": dg.MetadataValue.md(preview(con, "identity.customer_ids")),
                },
            )
            yield dg.MaterializeResult(
                asset_key=SHARED_IDENTIFIERS,
                metadata={
                    "rows": out["identity.shared_identifiers"],
                    "max_linked_identifiers": journeys.config.settings.identity.max_linked_identifiers,
                    "by_type": _md_table(["identifier type", "too many of", "identifiers", "most linked"], shared),
                },
            )
        context.log.info(
            f"identity: {out['identity.customer_ids']:,} identifiers -> {out['customers']:,} customers "
            f"({out['identity.shared_identifiers']:,} shared identifiers cut, {out['iterations']} iterations)"
        )

    @dg.asset(
        key=CLASSIFIED_EVENTS,
        deps=[STAGING_EVENTS, CUSTOMER_IDS],
        description=describe("intermediate.classified_events"),
        group_name=GROUP,
        kinds={"duckdb", "sql"},
    )
    def classified_events(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        t0 = time.monotonic()
        with journeys.connect() as con:
            out = build_classified_events(con, journeys.config)
            cov = coverage(con)
            by_touchpoint = con.execute(
                "select touchpoint, phase, count(*) as n from intermediate.classified_events "
                "group by all order by n desc limit 30"
            ).fetchall()
            md = {
                "rows": out["intermediate.classified_events"],
                "seconds": round(time.monotonic() - t0, 3),
                "coverage": _md_table(["source", "events", "classified", "coverage"],
                                      [(s, n, k, f"{c:.2%}") for s, n, k, c in cov]),
                "touchpoints_and_phases": _md_table(["touchpoint", "phase", "events"], by_touchpoint),
                "texts_scored": out["intermediate.text_sentiment"],
                "preview": dg.MetadataValue.md(preview(con, "intermediate.classified_events")),
            }
        context.log.info("classification coverage: " + ", ".join(f"{s} {c:.2%}" for s, _, _, c in cov))
        return dg.MaterializeResult(metadata=md)

    @dg.asset(
        key=CUSTOMER_PROFILES,
        deps=[STAGING_PROFILES, CUSTOMER_IDS, CLASSIFIED_EVENTS],
        description=describe("intermediate.customer_profiles"),
        group_name=GROUP,
        kinds={"duckdb", "sql"},
    )
    def customer_profiles(context: dg.AssetExecutionContext, journeys: JourneysResource) -> dg.MaterializeResult:
        t0 = time.monotonic()
        with journeys.connect() as con:
            n = build_customer_profiles(con, journeys.config)
            personas = con.execute(
                "select persona, count(*) as n from intermediate.customer_profiles group by all order by n desc, persona"
            ).fetchall()
            md = {
                "rows": n,
                "seconds": round(time.monotonic() - t0, 3),
                "personas": _md_table(["persona", "customers"], personas),
                "preview": dg.MetadataValue.md(preview(con, "intermediate.customer_profiles")),
            }
        context.log.info(f"intermediate.customer_profiles: {n:,} customers")
        return dg.MaterializeResult(metadata=md)

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
        identity,
        classified_events,
        customer_profiles,
        one_customer_per_identifier,
        classification_coverage,
        every_event_exactly_once,
        no_customer_without_events,
    ]
