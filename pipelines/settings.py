"""A run's settings as plain values, without importing Dagster: where the landing zone, the
warehouse and the config are, and the hashing secret. `journeys run` decides "nothing new" from
these alone, before anything heavy is imported; the Dagster resource
(pipelines.defs.ops.resources.JourneysResource) is built from the same values when a run starts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_LANDING = PROJECT_DIR / "fixtures" / "landing"
DEFAULT_WAREHOUSE = PROJECT_DIR / "warehouse" / "journeys.duckdb"
DEMO_SECRET = "journeys-demo-secret-not-for-production"
# The demo secret is public: anyone could recompute its hashes. It may only hash the sample
# data shipped here (fixtures/landing, and fixtures/sms for the SMS walkthrough).
DEMO_LANDING_ROOT = PROJECT_DIR / "fixtures"


def secret_problem(secret: str, landing: Path) -> str | None:
    """Why `secret` may not hash `landing`, with the fix; None when it may."""
    fix = ("Set JOURNEYS_HASH_SECRET to a long random value and keep it (changing it changes every hash), e.g.\n"
           "  export JOURNEYS_HASH_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')")
    if not secret:
        return "the hashing secret is empty. " + fix
    if secret == DEMO_SECRET and not Path(landing).resolve().is_relative_to(DEMO_LANDING_ROOT.resolve()):
        return (f"the demo hashing secret is public and only hashes the shipped fixtures, not {landing}. " + fix)
    return None


def setting(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    """The values a JourneysResource is made of (same names), resolved from flags, environment
    variables and defaults."""

    landing_dir: str
    warehouse: str
    config_dir: str | None
    hash_secret: str
    full_checks: bool = False  # check every row, not only what the run changed

    @classmethod
    def resolve(cls, landing: Path | None = None, warehouse: Path | None = None,
                config_dir: Path | None = None) -> Settings:
        """A value given here (a command's flag) overrides the environment variable, which
        overrides the default."""
        config = config_dir if config_dir is not None else setting("JOURNEYS_CONFIG_DIR")
        return cls(
            landing_dir=str(Path(landing or setting("JOURNEYS_LANDING_DIR", str(DEFAULT_LANDING))).resolve()),
            warehouse=str(Path(warehouse or setting("JOURNEYS_WAREHOUSE", str(DEFAULT_WAREHOUSE))).resolve()),
            config_dir=str(Path(config).resolve()) if config is not None else None,
            hash_secret=setting("JOURNEYS_HASH_SECRET", DEMO_SECRET) or DEMO_SECRET,
            full_checks=(setting("JOURNEYS_FULL_CHECKS") or "").strip().lower() in ("1", "true", "yes"),
        )

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @property
    def paths(self):  # transforms.warehouse.WarehousePaths, imported when asked for
        from transforms.warehouse import WarehousePaths

        return WarehousePaths(published=Path(self.warehouse))
