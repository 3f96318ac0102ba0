"""The checks: SQL files that return the offending rows (sqlmesh audits, dbt singular tests).

A check is `sql/checks/<schema>/<table>/<check_name>.sql`: the folder names the table it
guards (asset key `[schema, table]`), the file stem is the check's name, the first `--` line
is its one-line description, and its one `select` returns the rows that break the invariant
(none when all is well). The checks are found from the files: no list of them is written
anywhere else. `run_check` runs one with the model parameters plus the check-only ones
(`check_params`), bound as `$name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from transforms.attribution import MODELS, TOLERANCE
from transforms.config import Config
from transforms.models import ModelError, model_params
from transforms.warehouse import SQL_DIR, bind

CHECKS_DIR = SQL_DIR / "checks"
SHOWN = 20
"""How many offending rows a check result keeps to show (all of them are counted)."""


@dataclass(frozen=True)
class Check:
    name: str
    relation: str  # the table it guards, `<schema>.<table>`
    path: Path
    description: str

    @property
    def sql(self) -> str:
        """The check's select, without a trailing semicolon."""
        return self.path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()


@dataclass(frozen=True)
class Found:
    """What a check found: every offending row counted, the first `SHOWN` kept."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    n_rows: int

    @property
    def passed(self) -> bool:
        return self.n_rows == 0


def description(path: Path) -> str:
    """The first line of a check file when it is a `--` comment, else ''."""
    first = path.read_text(encoding="utf-8").lstrip().split("\n", 1)[0]
    return first[2:].strip() if first.startswith("--") else ""


@cache
def _check(path: Path) -> Check:
    relation = f"{path.parent.parent.name}.{path.parent.name}"
    return Check(path.stem, relation, path, description(path))


def all_checks() -> list[Check]:
    """Every check file under sql/checks, by table then name."""
    return [_check(p) for p in sorted(CHECKS_DIR.glob("*/*/*.sql"))]


def find_check(name: str) -> Check:
    """The check called `name` (`<schema>.<table>/<name>` or, when unique, the bare name)."""
    found = [c for c in all_checks() if name in (c.name, f"{c.relation}/{c.name}")]
    if len(found) != 1:
        raise ModelError(f"{'no' if not found else 'more than one'} check named {name} under {CHECKS_DIR}")
    return found[0]


def check_params(config: Config) -> dict[str, Any]:
    """The parameters a check may bind: every model parameter plus the check-only ones."""
    extra = {
        "tolerance": TOLERANCE,
        "coverage_threshold": float(config.settings.coverage_threshold),
        "attribution_models": list(MODELS),
    }
    params = model_params(config)
    clash = set(extra) & set(params)
    if clash:
        raise ModelError(f"the check parameter ${', $'.join(sorted(clash))} is also a model parameter")
    return params | extra


def run_check(con: duckdb.DuckDBPyConnection, check: Check | str, params: Mapping[str, Any],
              shown: int = SHOWN) -> Found:
    """Run one check file on `con`, with its `$name` values from `params`: the offending rows
    (the first `shown`, in the file's order) and how many there are in all. The count costs a
    second run of the check only when there are more than `shown`. The file's select is run
    as written (a DuckDB relation, limited and counted by the engine): no SQL text is added."""
    check = find_check(check) if isinstance(check, str) else check
    found = con.sql(check.sql, params=bind(check.sql, params))
    columns = tuple(found.columns)
    rows = found.limit(shown + 1).fetchall()
    n_rows = len(rows)
    if n_rows > shown:
        n_rows = found.count("*").fetchall()[0][0]
    return Found(columns, rows[:shown], n_rows)
