"""Assets of the funnels stage."""

import dagster as dg

from transforms.config import Config


def build_funnels_assets(config: Config) -> list[dg.AssetsDefinition | dg.AssetChecksDefinition]:
    """Assets and asset checks of this stage, built from the configuration."""
    return []
