"""The erasure tables as assets: `journeys forget` writes them outside any Dagster run, so they
are external assets of the one Definitions (in the lineage, between the raw assets that read the
suppression list and the publish that copies the erasure log), and the command reports what it
wrote as a runless materialization of each."""


import dagster as dg

from pipelines.defs.ops.models import describe

ERASED_IDENTIFIERS = dg.AssetKey(["intermediate", "erased_identifiers"])
ERASURES = dg.AssetKey(["marts", "erasures"])


def erasure_specs() -> list[dg.AssetSpec]:
    """intermediate.erased_identifiers (the private suppression list the raw assets blank landed
    lines against) and marts.erasures (the published log), both written by `journeys forget`."""
    return [
        dg.AssetSpec(
            ERASED_IDENTIFIERS,
            group_name="intermediate",
            kinds={"duckdb"},
            description=(
                "One row per identifier erased with `journeys forget`: a keyed hash of the stored value "
                "(under a key kept for this purpose only), never the identifier itself. Written by "
                "`journeys forget`; every raw asset blanks the landed lines that carry one of them."
            ),
        ),
        dg.AssetSpec(ERASURES, deps=[ERASED_IDENTIFIERS], group_name="marts", kinds={"duckdb"},
                     description=describe("marts.erasures") + " Written by `journeys forget`."),
    ]


def report_erasure(instance: dg.DagsterInstance, *, erasure_id: str, n_identifiers: int, n_records: int) -> None:
    """Record in `instance` that `journeys forget` wrote both erasure tables (no identifier in the metadata)."""
    instance.report_runless_asset_event(dg.AssetMaterialization(
        ERASED_IDENTIFIERS, metadata={"erasure_id": erasure_id, "identifiers_added": n_identifiers}))
    instance.report_runless_asset_event(dg.AssetMaterialization(
        ERASURES, metadata={"erasure_id": erasure_id, "records_blanked": n_records}))
