"""The one resource every asset uses: where the landing zone, the warehouse and the config are."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from pipelines.settings import (
    DEFAULT_LANDING,
    DEFAULT_WAREHOUSE,
    DEMO_LANDING_ROOT,
    DEMO_SECRET,
    PROJECT_DIR,
    Settings,
    secret_problem,
    setting,
)
from transforms.config import Config, load_config
from transforms.warehouse import (
    WarehousePaths,
    clean_stale_publish_files,
    connect,
    defer_vacuum,
    drop_temp_objects,
    prepare_versions_table,
    private_files,
    writer_lock,
)

__all__ = ["DEFAULT_LANDING", "DEFAULT_WAREHOUSE", "DEMO_LANDING_ROOT", "DEMO_SECRET", "PROJECT_DIR",
           "JourneysResource", "SecretRefused", "Settings", "secret_problem", "setting", "utcnow"]


class SecretRefused(ValueError):
    """The hashing secret may not be used for this landing zone."""


class JourneysResource(dg.ConfigurableResource):
    """Settings of a run. Each has a default relative to the project folder and an
    environment variable (JOURNEYS_LANDING_DIR, JOURNEYS_WAREHOUSE, JOURNEYS_CONFIG_DIR,
    JOURNEYS_HASH_SECRET, JOURNEYS_FULL_CHECKS); the `journeys` command's flags set those variables."""

    landing_dir: str
    warehouse: str
    config_dir: str | None = None
    hash_secret: str = DEMO_SECRET
    lock_wait_seconds: float = 600.0
    full_checks: bool = False  # check every row in a run that loads, not only what it changed

    _lock: contextlib.ExitStack | None = PrivateAttr(default=None)
    _unchanged_since: datetime | None = PrivateAttr(default=None)
    _in_run: bool = PrivateAttr(default=False)
    _con: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)
    _depth: int = PrivateAttr(default=0)

    @classmethod
    def from_env(cls) -> JourneysResource:
        return cls.from_settings()

    @classmethod
    def from_settings(cls, landing: Path | None = None, warehouse: Path | None = None,
                      config_dir: Path | None = None) -> JourneysResource:
        """The settings of a run as values: a value given here (a command's flag) overrides the
        environment variable, which overrides the default."""
        return cls(**vars(Settings.resolve(landing, warehouse, config_dir)))


    # One writing run at a time: the lock is taken when a run starts using this resource
    # and released when it ends, whatever the executor.
    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.require_usable_secret()  # in every run, `dagster dev` and the schedule included
        stack = contextlib.ExitStack()
        stack.enter_context(writer_lock(self.paths, wait_seconds=self.lock_wait_seconds))
        stack.callback(self.close_connection)  # closed (checkpointed) before the lock is released
        self._lock = stack
        self._in_run = True
        self._unchanged_since = self._nothing_new_since(context.run)
        if self._unchanged_since is not None and context.log:
            context.log.info(f"Nothing new since {self._unchanged_since:%Y-%m-%d %H:%M:%S} UTC (the last run): "
                             "every step returns at once and nothing is rewritten.")
        removed = clean_stale_publish_files(self.paths)
        if removed and context.log:
            context.log.info(f"Removed {len(removed)} temporary file(s) left by an interrupted run.")

    @property
    def unchanged_since(self) -> datetime | None:
        """When the last run finished, if this run has nothing to do (decided once, as the run
        started, before any step loaded anything); None when it has work. Each step of an
        unchanged run returns at once (the code location runs its steps in one process)."""
        return self._unchanged_since

    def unchanged_metadata(self) -> dict[str, str]:
        """What a step of an unchanged run reports instead of its work."""
        return {"nothing_new_since": f"{self._unchanged_since:%Y-%m-%d %H:%M:%S} UTC"}

    def _nothing_new_since(self, run: dg.DagsterRun | None) -> datetime | None:
        """Only a refresh that loads changed day folders only (the sensor, the schedule,
        `journeys run`) can find nothing new; a materialization from the UI reloads what it targets."""
        from pipelines.defs.ops.jobs import RANGE_END, RANGE_START
        from transforms.incremental import nothing_new_since

        if run is None or run.job_name != "refresh" or not self.paths.work.is_file() or not self.paths.published.is_file():
            return None
        raw = [v for k, v in (run.run_config or {}).get("ops", {}).items() if k.startswith("raw__")]
        if not raw or not all((v.get("config") or {}).get("only_changed") for v in raw):
            return None
        start, end = (date.fromisoformat(run.tags[t]) if run.tags.get(t) else None for t in (RANGE_START, RANGE_END))
        con = connect(self.paths.work, read_only=True)
        try:
            return nothing_new_since(con, self.config, self.landing, start, end)
        finally:
            con.close()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = False
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        self.close_connection()

    def require_usable_secret(self) -> None:
        """Refuse the public demo secret (or none) for any landing zone but the shipped fixtures."""
        problem = secret_problem(self.hash_secret, self.landing)
        if problem:
            raise SecretRefused(problem)

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_dir)

    @cached_property
    def params(self) -> dict[str, Any]:
        """Every model parameter (transforms.models.model_params), worked out once per run."""
        from transforms.models import model_params

        return model_params(self.config)

    @property
    def paths(self) -> WarehousePaths:
        return WarehousePaths(published=Path(self.warehouse))

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir)

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The private working database, read-write. While it is open, the files DuckDB
        creates (write-ahead log, spill files) are private to this user too.

        Within a run, the steps share one connection, opened by the first step that asks and
        closed when the run ends (or by `close_connection`): opening the file, loading the
        macros and checkpointing on close cost a fixed ~0.1-0.3 s, which every small step of a
        nightly run paid. What a step leaves in the connection (temporary tables and views) is
        dropped when its block ends, and a step that fails closes it, so the next step starts
        as it did on a connection of its own. Outside a run, each block opens its own."""
        if not self._in_run:
            with private_files():
                con = self._open()
                try:
                    yield con
                finally:
                    con.close()
            return
        with private_files():
            if self._con is None:
                self._con = self._open_for_run()
            self._depth += 1
            try:
                yield self._con
            except BaseException:
                self._depth -= 1
                self.close_connection()
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    drop_temp_objects(self._con)
                except BaseException:
                    self.close_connection()
                    raise

    def close_connection(self) -> None:
        """Close the run's shared connection (DuckDB checkpoints the file as it closes), e.g.
        before the working file is attached by another connection to publish it."""
        con, self._con, self._depth = self._con, None, 0
        if con is not None:
            with private_files():
                con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        s = self.config.settings
        return connect(self.paths.work, memory_limit=s.duckdb_memory_limit, threads=s.duckdb_threads,
                       temp_dir=self.paths.temp_dir)

    def _open_for_run(self) -> duckdb.DuckDBPyConnection:
        """The run's shared connection, with the runner's bookkeeping tables created once (each
        write and each model used to run their DDL, ten statements, again), and DuckDB's vacuum
        deferred to the checkpoint before publish."""
        from transforms.incremental import prepare_state

        con = self._open()
        try:
            prepare_state(con)
            prepare_versions_table(con)
            defer_vacuum(con)  # publish compacts when deleted rows are due (warehouse.compact_if_due)
        except BaseException:
            con.close()
            raise
        return con


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
