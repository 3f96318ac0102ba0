"""The checks: SQL files that return the offending rows (sqlmesh audits, dbt singular tests).

A check is `sql/checks/<schema>/<table>/<check_name>.sql`: the folder names the table it
guards (asset key `[schema, table]`), the file stem is the check's name, the first `--` line
is its one-line description, and its one `select` returns the rows that break the invariant
(none when all is well). The checks are found from the files: no list of them is written
anywhere else. `run_check` runs one with the model parameters plus the check-only ones
(`check_params`), bound as `$name`.

A check that reads a large table may have a nightly form, scoped to what the run changed (issue 16),
declared by a line of the check file:
- `-- nightly: by_customer`: in an incremental run, the check looks at the rows of the run's
  customers (`intermediate.dirty_customers`) only. Its select is run with each table it reads kept
  to them, as an incremental model's inputs are (`transforms.warehouse.scope_inputs`), unless it
  reads `$nightly` itself: then it is run as written, `$nightly` true, and keeps to them where it
  says (e.g. a check that compares a table whole with one kept to the run's customers);
- `-- nightly: by_partition`: in a run that loads landing days, the check looks at the partitions
  whose current load is the run's (`$run_id`); its select reads `$nightly` and keeps to them.
One file holds both forms: `$nightly` is false in the full check.
A run that loads landing days runs the nightly forms (`run_check` given its `run_id`); a full
build runs the full form of every customer check (its dirty set is everyone), `journeys check`
and `journeys run --full-checks` run the full form of every check.
"""

from __future__ import annotations

import re
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
from transforms.warehouse import SQL_DIR, bind, bind_names, run_sql, scope_inputs

CHECKS_DIR = SQL_DIR / "checks"
SCOPES = ("by_partition", "by_customer")
"""What a check's nightly form may keep to (see the module's documentation)."""
NIGHTLY_LINE = re.compile(r"^-- nightly: (\S+)", re.MULTILINE)
"""The line that gives a check its nightly form, and names its scope."""
SHOWN = 20
"""How many offending rows a check result keeps to show (all of them are counted)."""


@dataclass(frozen=True)
class Check:
    name: str
    relation: str  # the table it guards, `<schema>.<table>`
    path: Path
    description: str
    nightly: str | None = None  # the scope of its nightly form (one of SCOPES), None: full check only
    reads_nightly: bool = False  # its select reads $nightly, so keeps to the scope itself

    @property
    def by_customer_inputs(self) -> bool:
        """Whether its nightly form is its select with each input kept to the run's customers."""
        return self.nightly == "by_customer" and not self.reads_nightly

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
    path: Path | None = None  # the check's file

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
    text = path.read_text(encoding="utf-8")
    lines = NIGHTLY_LINE.findall(text)
    nightly = lines[0] if lines else None
    reads_nightly = "nightly" in bind_names(text)
    if len(lines) > 1 or (nightly is not None and nightly not in SCOPES):
        raise ModelError(f"{path}: a check has at most one line `-- nightly: <scope>`, the scope one of "
                         f"{', '.join(SCOPES)}; found {', '.join(lines)}")
    if reads_nightly and nightly is None:
        raise ModelError(f"{path} reads $nightly but has no line `-- nightly: <scope>` saying what a night "
                         f"keeps to ({', '.join(SCOPES)})")
    if nightly == "by_partition" and not reads_nightly:
        raise ModelError(f"{path}: a check kept to the run's partitions (`-- nightly: by_partition`) reads "
                         "$nightly, true in a run that loads, and keeps to the partitions the run $run_id loaded")
    return Check(path.stem, relation, path, description(path), nightly, reads_nightly)


def all_checks() -> list[Check]:
    """Every check file under sql/checks, by table then name."""
    return [_check(p) for p in sorted(CHECKS_DIR.glob("*/*/*.sql"))]


def find_check(name: str) -> Check:
    """The check called `name` (`<schema>.<table>/<name>` or, when unique, the bare name)."""
    found = [c for c in all_checks() if name in (c.name, f"{c.relation}/{c.name}")]
    if len(found) != 1:
        raise ModelError(f"{'no' if not found else 'more than one'} check named {name} under {CHECKS_DIR}")
    return found[0]


def check_params(config: Config, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters a check may bind: every model parameter (`params`, worked out from
    `config` when not given) plus the check-only ones."""
    extra = {
        "tolerance": TOLERANCE,
        "coverage_threshold": float(config.settings.coverage_threshold),
        "attribution_models": list(MODELS),
    }
    params = dict(params) if params is not None else model_params(config)
    clash = set(extra) & set(params)
    if clash:
        raise ModelError(f"the check parameter ${', $'.join(sorted(clash))} is also a model parameter")
    return params | extra


def scoped_form(con: duckdb.DuckDBPyConnection, check: Check, run_id: str | None) -> tuple[str, str, bool]:
    """What a check runs in the run `run_id` (None: the full check): what it looks at, its query
    and `$nightly`. The partition form in any run that loads (a first build loads every
    partition); the customer form only while an incremental run is under way (a full build
    checks everything)."""
    if run_id is not None and check.nightly == "by_partition":
        return "the partitions loaded by this run", check.sql, True
    if run_id is not None and check.nightly == "by_customer":
        run = current_run(con)
        if run is not None and run.mode == "incremental":
            n = run_sql(con, "ops/checks/count_dirty_customers").fetchall()[0][0]
            scope = f"the {n:,} customer(s) this run rebuilt"
            if check.reads_nightly:
                return scope, check.sql, True
            return scope, scope_inputs(con, check.sql), True
    return "all rows", check.sql, False


def _select(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip().rstrip(";").rstrip()


def run_check(con: duckdb.DuckDBPyConnection, check: Check | str, params: Mapping[str, Any],
              shown: int = SHOWN, *, run_id: str | None = None) -> Found:
    """Run one check on `con`, with its `$name` values from `params`: the offending rows
    (the first `shown`, in the file's order) and how many there are in all. The count costs a
    second run of the check only when there are more than `shown`. With `run_id` (a run that
    loads landing days), the check's nightly form when it has one (`scoped_form`): `$nightly`
    true, or its inputs kept to the run's customers; without, the full check. The file's select is
    run as written (a DuckDB relation, limited and counted by the engine)."""
    check = find_check(check) if isinstance(check, str) else check
    scope, sql, nightly = scoped_form(con, check, run_id)
    found = con.sql(sql, params=bind(sql, {**params, "run_id": run_id, "nightly": nightly}))
    columns = tuple(found.columns)
    rows = found.limit(shown + 1).fetchall()
    n_rows = len(rows)
    if n_rows > shown:
        n_rows = found.count("*").fetchall()[0][0]
    return Found(columns, rows[:shown], n_rows, scope, check.path)
