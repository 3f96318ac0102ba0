"""Settings reach a run as values: flags override environment variables, which override the
defaults, and no command writes them back into the process environment."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.definitions import build_definitions
from pipelines.defs.ops.resources import DEFAULT_LANDING, JourneysResource


def test_flags_override_the_environment_which_overrides_the_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("JOURNEYS_LANDING_DIR", raising=False)
    monkeypatch.setenv("JOURNEYS_WAREHOUSE", str(tmp_path / "env" / "wh.duckdb"))
    r = JourneysResource.from_settings(config_dir=tmp_path / "cfg")
    assert Path(r.landing_dir) == DEFAULT_LANDING.resolve()
    assert Path(r.warehouse) == tmp_path / "env" / "wh.duckdb"
    assert Path(r.config_dir or "") == tmp_path / "cfg"
    r = JourneysResource.from_settings(warehouse=tmp_path / "flag.duckdb")
    assert Path(r.warehouse) == tmp_path / "flag.duckdb"


def test_a_command_with_flags_leaves_the_environment_as_it_was(tmp_path: Path, monkeypatch) -> None:
    for name in ("JOURNEYS_LANDING_DIR", "JOURNEYS_WAREHOUSE", "JOURNEYS_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    landing = tmp_path / "landing"
    landing.mkdir()
    result = CliRunner().invoke(app, ["status", "--landing", str(landing), "--warehouse", str(tmp_path / "wh.duckdb")])
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == before


def test_one_definitions_serves_every_command() -> None:
    """`journeys check` runs the `checks` job of the one Definitions, not a second one."""
    defs = build_definitions()
    assert {"refresh", "checks"} <= {j.name for j in defs.resolve_all_job_defs()}
    nodes = {n.name for n in defs.resolve_job_def("checks").graph.node_defs}
    n_checks = sum(len(list(c.check_keys)) for c in defs.asset_checks)
    assert len(nodes) == n_checks >= 10  # every check, and no asset is built
    assert not nodes & {"raw__clickstream", "staging", "marts__journeys", "warehouse__published"}
