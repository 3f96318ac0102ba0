"""Shared test harness: real Dagster runs into a warehouse under tmp_path."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from hypothesis import settings

from pipelines.definitions import build_definitions
from pipelines.defs.ops.jobs import range_tags, raw_op_config
from pipelines.defs.ops.resources import JourneysResource
from transforms.config import load_config
from transforms.landing import landed_days

warnings.filterwarnings("ignore")
os.environ.setdefault("TZ", "UTC")

PROJECT = Path(__file__).resolve().parents[1]
FIXTURE_LANDING = PROJECT / "fixtures" / "landing"
TEST_SECRET = "test-secret"

# Hypothesis: `make test` draws a small fixed set of examples per property (derandomized: the
# same ones on every run, so a failure reproduces and the suite stays fast); with
# JOURNEYS_HYPOTHESIS=thorough each property draws its full count with fresh randomness.
HYPOTHESIS_THOROUGH = os.environ.get("JOURNEYS_HYPOTHESIS") == "thorough"
settings.register_profile("journeys", derandomize=not HYPOTHESIS_THOROUGH)
settings.load_profile("journeys")


def examples(thorough: int) -> int:
    """Hypothesis max_examples: `thorough` under JOURNEYS_HYPOTHESIS=thorough, a quarter (at
    least 6) under `make test`."""
    return thorough if HYPOTHESIS_THOROUGH else max(6, thorough // 4)


@dataclass
class PipelineRun:
    result: dg.ExecuteInProcessResult
    resource: JourneysResource

    @property
    def published(self) -> Path:
        return self.resource.paths.published

    @property
    def work(self) -> Path:
        return self.resource.paths.work

    def connect(self) -> duckdb.DuckDBPyConnection:
        """The published file, read-only, as an analyst opens it."""
        return duckdb.connect(str(self.published), read_only=True)


def run_pipeline(landing: Path, warehouse: Path, *, config_dir: Path | None = None, job: str = "refresh",
                 start: date | None = None, end: date | None = None, only_changed: bool = False,
                 sources: list[str] | None = None, raise_on_error: bool = True,
                 instance: dg.DagsterInstance | None = None) -> PipelineRun:
    """Materialize `job` over the landing days in [start, end] (default: all landed days), in
    `instance` (default: an ephemeral one)."""
    resource = JourneysResource(
        landing_dir=str(landing), warehouse=str(warehouse),
        config_dir=str(config_dir) if config_dir else None, hash_secret=TEST_SECRET,
    )
    config = load_config(config_dir)
    defs = build_definitions(config, resource)
    if start is None or end is None:
        days = sorted({d for n, s in config.sources.items() for d in landed_days(landing, n, s, config.settings)})
        start, end = start or days[0], end or days[-1]
    result = defs.resolve_job_def(job).execute_in_process(
        run_config=raw_op_config(config, sources, only_changed=only_changed),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=range_tags(start, end),
        raise_on_error=raise_on_error,
    )
    return PipelineRun(result, resource)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The whole pipeline over fixtures/landing, once per test session (and xdist worker; under
    `--dist loadgroup` the tests that use it form one group, `demo`, so one worker builds it)."""
    wh = tmp_path_factory.mktemp("demo") / "journeys.duckdb"
    run = run_pipeline(FIXTURE_LANDING, wh)
    assert run.result.success
    return run


@pytest.fixture
def demo_db(demo_run: PipelineRun):
    con = demo_run.connect()
    yield con
    con.close()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group again under pytest 9. pytest-xdist marks a test of an
    `xdist_group` by renaming it `<nodeid>@<group>` through `item._nodeid`, which pytest 9 no
    longer reads (the id lives in `item._id`): every group was spread over both workers, each
    building the group's costly fixtures (a Spark session, a module's pipeline run). Here the
    same rename, where pytest 9 reads it; a no-op outside an xdist worker or when xdist worked.

    A test of no group that uses `demo_run` joins the group `demo`: the demo run (the suite's
    largest pipeline run) is then built by one worker, not by both."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        groups = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                         for m in item.iter_markers("xdist_group")})
        if not groups and "demo_run" in getattr(item, "fixturenames", ()):
            groups = ["demo"]
        if groups and not item.nodeid.endswith("@" + "_".join(groups)):
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(groups)}")
