"""How the Spark engine fails to start, in one line each, without starting Spark: nothing
listening at a Spark Connect URL (the client alone would retry for ten minutes), and a cluster
that does not share the warehouse folder; and the local defaults spark_conf overrides."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from transforms.engines.spark import local_defaults
from transforms.engines.spark_run import (
    SHARED_STORAGE,
    SparkEngine,
    SparkRunError,
    _check_shared,
    _start,
)


def test_a_connect_url_nobody_answers_fails_at_once(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    t0 = time.monotonic()
    with pytest.raises(SparkRunError) as e:
        _start(tmp_path, f"sc://127.0.0.1:{port}", {})
    assert time.monotonic() - t0 < 15
    message = str(e.value)
    assert message.startswith(f"the Spark Connect server at sc://127.0.0.1:{port} did not answer")
    assert f"nothing answers at 127.0.0.1:{port}" in message and "\n" not in message


class _Frames:
    def __init__(self, rows: list[tuple] | Exception) -> None:
        self.rows = rows

    def text(self, uri: str) -> _Frames:
        assert uri.startswith("file:///")
        return self

    def collect(self) -> list[tuple]:
        if isinstance(self.rows, Exception):
            raise self.rows
        return self.rows


class _Session:
    def __init__(self, rows: list[tuple] | Exception) -> None:
        self.read = _Frames(rows)


def test_a_cluster_that_cannot_read_the_warehouse_folder_says_it_needs_shared_storage(tmp_path: Path) -> None:
    missing = RuntimeError("[PATH_NOT_FOUND] Path does not exist: file:/w/spark/.shared-1. SQLSTATE: 42K03\n  at …")
    with pytest.raises(SparkRunError) as e:
        _check_shared(SparkEngine(_Session(missing), tmp_path / "spark"))
    assert str(e.value) == (f"Spark cannot read {tmp_path / 'spark'} ([PATH_NOT_FOUND] Path does not exist: "
                            f"file:/w/spark/.shared-1. SQLSTATE: 42K03): {SHARED_STORAGE}")
    with pytest.raises(SparkRunError, match="reads another .* than this machine's"):
        _check_shared(SparkEngine(_Session([("someone else's file",)]), tmp_path / "spark"))
    assert list((tmp_path / "spark").iterdir()) == []  # the probe is removed


def test_a_local_master_gets_a_shuffle_partition_per_core() -> None:
    assert local_defaults("local")["spark.sql.shuffle.partitions"] == "1"
    assert local_defaults("local[3]")["spark.default.parallelism"] == "3"
    assert int(local_defaults("local[*]")["spark.sql.shuffle.partitions"]) >= 1
    assert local_defaults("local[2]")["spark.driver.memory"].endswith("g")
    assert local_defaults("local[2]")["spark.sql.autoBroadcastJoinThreshold"] == "64m"
