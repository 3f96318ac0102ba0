"""The landing sensor's run key is the same in every process for the same landed files, so a
daemon restart never starts a second run for files already requested."""

import os
import subprocess
import sys

from tests.conftest import PROJECT

TICK = """
import sys
import dagster as dg
from pipelines.definitions import build_definitions
from pipelines.defs.ops.resources import JourneysResource
from transforms.config import load_config

resource = JourneysResource(landing_dir=sys.argv[1], warehouse=sys.argv[2], hash_secret="t")
sensor = build_definitions(load_config(), resource).resolve_sensor_def("landing_sensor")
(request,) = sensor.evaluate_tick(dg.build_sensor_context(cursor=None)).run_requests
print(request.run_key)
"""


def test_run_key_does_not_depend_on_the_process(tmp_path):
    day = tmp_path / "landing" / "clickstream" / "2025-03-04"
    day.mkdir(parents=True)
    (day / "a.jsonl").write_text("{}\n")
    keys = set()
    for seed in ("1", "2", "3"):
        r = subprocess.run([sys.executable, "-c", TICK, str(tmp_path / "landing"), str(tmp_path / "w.duckdb")],
                           env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONWARNINGS": "ignore"}, cwd=PROJECT,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        keys.add(r.stdout.strip().splitlines()[-1])
    assert len(keys) == 1, keys
    assert keys.pop().startswith("landing-2025-03-04-2025-03-04-")
