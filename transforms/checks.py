"""The checks: SQL files that return the offending rows (sqlmesh audits, dbt singular tests).

A check is `sql/checks/<schema>/<table>/<check_name>.sql`: the folder names the table it
guards (asset key `[schema, table]`), the file stem is the check's name, the first `--` line
is its one-line description, and its one `select` returns the rows that break the invariant
(none when all is well). The checks are found from the files: no list of them is written
anywhere else. `run_check` runs one with the model parameters plus the check-only ones
(`check_params`), bound as `$name`.

A check that reads a large table may have a nightly form, scoped to what the run changed (issue 16):
- the line `-- nightly: by_customer` in the check file: the same select over only the rows of the
  run's customers (`intermediate.dirty_customers`), each table it reads kept to them as an
  incremental model's inputs are (`transforms.warehouse.scope_inputs`); used while an
  incremental run is under way;
- a file of its own, in a folder beside the check named after its scope, where the scope is not
  a matter of keeping each input to the run's customers:
  `by_partition/<check_name>.sql` (only the partitions whose current load is the run's,
  `raw._partitions.run_id = $run_id`) or `by_customer/<check_name>.sql` (e.g. the events of the
  partitions loaded as well as those of the run's customers).
A run that loads landing days runs the nightly forms (`run_check` given its `run_id`); a full
build runs the full form of every customer check (its dirty set is everyone), `journeys check`
and `journeys run --full-checks` run the full form of every check.
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
from transforms.incremental import current_run
from transforms.models import ModelError, model_params
from transforms.warehouse import SQL_DIR, bind, run_sql, scope_inputs

CHECKS_DIR = SQL_DIR / "checks"
SCOPES = ("by_partition", "by_customer")
"""The folders of a check's nightly forms (see the module's documentation)."""
NIGHTLY_BY_CUSTOMER = "-- nightly: by_customer"
"""A line starting so gives a check the nightly form of its own select over the run's customers."""
SHOWN = 20
"""How many offending rows a check result keeps to show (all of them are counted)."""


@dataclass(frozen=True)
class Check:
    name: str
    relation: str  # the table it guards, `<schema>.<table>`
    path: Path
    description: str
    scoped: tuple[tuple[str, Path], ...] = ()  # (scope, file) of its nightly forms
    by_customer_inputs: bool = False  # its nightly form: its own select, inputs kept to the run's customers

    @property
    def sql(self) -> str:
        """The check's select, without a trailing semicolon."""
        return _select(self.path)


@dataclass(frozen=True)
class Found:
    """What a check found: every offending row counted, the first `SHOWN` kept."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    n_rows: int
    scope: str = "all rows"  # what the check looked at, for a person
    path: Path | None = None  # the file run: the check's, or its nightly form

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
    scoped = tuple((s, path.parent / s / path.name) for s in SCOPES if (path.parent / s / path.name).is_file())
    by_inputs = any(line.startswith(NIGHTLY_BY_CUSTOMER) for line in path.read_text(encoding="utf-8").splitlines())
    if by_inputs and any(s == "by_customer" for s, _ in scoped):
        raise ModelError(f"{path}: a check has one nightly form by customer: the line "
                         f"`{NIGHTLY_BY_CUSTOMER}` or the file {path.parent / 'by_customer' / path.name}, not both")
    return Check(path.stem, relation, path, description(path), scoped, by_inputs)


def all_checks() -> list[Check]:
    """Every check file under sql/checks, by table then name (a nightly form is part of its check)."""
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


def scoped_form(con: duckdb.DuckDBPyConnection, check: Check, run_id: str | None) -> tuple[Path, str, str]:
    """What a check runs in the run `run_id` (None: the full check): the file, what it looks
    at, and its select. The partition form in any run that loads (a first build loads every
    partition); the customer form only while an incremental run is under way (a full build
    checks everything)."""
    forms = dict(check.scoped)
    if run_id is not None and "by_partition" in forms:
        return forms["by_partition"], "the partitions loaded by this run", _select(forms["by_partition"])
    if run_id is not None and ("by_customer" in forms or check.by_customer_inputs):
        run = current_run(con)
        if run is not None and run.mode == "incremental":
            n = run_sql(con, "ops/checks/count_dirty_customers").fetchall()[0][0]
            scope = f"the {n:,} customer(s) this run rebuilt"
            if check.by_customer_inputs:
                return check.path, scope, scope_inputs(con, check.sql)
            return forms["by_customer"], scope, _select(forms["by_customer"])
    return check.path, "all rows", check.sql


def _select(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()


def run_check(con: duckdb.DuckDBPyConnection, check: Check | str, params: Mapping[str, Any],
              shown: int = SHOWN, *, run_id: str | None = None) -> Found:
    """Run one check on `con`, with its `$name` values from `params`: the offending rows
    (the first `shown`, in the file's order) and how many there are in all. The count costs a
    second run of the check only when there are more than `shown`. With `run_id` (a run that
    loads landing days), the check's nightly form when it has one (`scoped_form`); without,
    the full check. The file's select is run as written (a DuckDB relation, limited and counted
    by the engine), its inputs kept to the run's customers for a `-- nightly: by_customer` form."""
    check = find_check(check) if isinstance(check, str) else check
    path, scope, sql = scoped_form(con, check, run_id)
    found = con.sql(sql, params=bind(sql, {**params, "run_id": run_id}))
    columns = tuple(found.columns)
    rows = found.limit(shown + 1).fetchall()
    n_rows = len(rows)
    if n_rows > shown:
        n_rows = found.count("*").fetchall()[0][0]
    return Found(columns, rows[:shown], n_rows, scope, path)
