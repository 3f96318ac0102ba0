"""No SQL statement is written in a Python string (issue 15): every statement the product runs
lives in a file under sql/, run through transforms.warehouse.run_sql or the model runner.

Every .py file under pipelines/, transforms/, bench/ and fixtures/ is read with the ast module; a string
constant (or f-string) is SQL when it starts with a statement keyword and either has the shape
of a statement (`select …`, `insert into`, `create table`, `with x as (` …) or DuckDB's parser
reads it as one. Docstrings are prose, dict keys and compared values are names, and so is a capitalised first word (`Load every new…`,
`Set JOURNEYS_HASH_SECRET…`) unless DuckDB reads the whole string as SQL. The model runner's own
statements (create or replace, insert by name, transactions, comments) are templates in
sql/ops/runner/ too, filled by transforms.warehouse.runner_sql, so no file is exempt.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("pipelines", "transforms", "bench", "fixtures")


KEYWORDS = (
    "select", "with", "create", "insert", "delete", "update", "copy", "attach", "detach", "alter", "drop",
    "pragma", "set", "install", "load", "checkpoint", "describe", "summarize", "use", "begin", "commit",
    "rollback", "vacuum", "truncate",
)
_FIRST_WORD = re.compile(r"^\s*(?:\(\s*)?([A-Za-z_]+)\b")
# the shape of a statement, for text DuckDB cannot parse alone (a fragment joined to other text)
_STATEMENT = re.compile(
    r"""^\s*\(?\s*(?:
        select\b
      | with\s+(?:recursive\s+)?[a-z_][a-z0-9_]*\s*(?:\([^)]*\)\s*)?as\s*(?:not\s+)?(?:materialized\s*)?\(
      | insert\s+(?:or\s+\w+\s+)?into\b
      | delete\s+from\b
      | update\s+\S+\s+(?:as\s+\w+\s*$|(?:as\s+\w+\s+)?set\b)
      | create\s+(?:or\s+replace\s+)?(?:temp\s+|temporary\s+|unique\s+)?
            (?:table|view|schema|macro|function|sequence|index|type)\b
      | drop\s+(?:table|view|schema|macro|function|sequence|index|type)\b
      | alter\s+(?:table|view)\b
      | (?:attach|detach)\s+(?:database\s+)?(?:if\s+(?:not\s+)?exists\s+)?[$'"\w]
      | copy\s+.+\s+(?:to|from)\s
      | pragma\s+\w
      | set\s+\w+\s*(?:=|to\s)
      | (?:checkpoint|vacuum|commit|rollback|begin(?:\s+transaction)?)\s*;?\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_PARSER = duckdb.connect()


@dataclass(frozen=True)
class Hit:
    path: str
    line: int
    function: str | None
    text: str

    def __str__(self) -> str:
        where = f" (in {self.function})" if self.function else ""
        return f"{self.path}:{self.line}{where}: {self.text.strip().splitlines()[0][:80]!r}"


def _parses(text: str) -> bool:
    try:
        return bool(_PARSER.extract_statements(text))
    except duckdb.Error:
        return False


def is_sql(text: str) -> bool:
    """Whether a string written in Python is (the start of) a SQL statement."""
    m = _FIRST_WORD.match(text)
    if not m or m.group(1).lower() not in KEYWORDS:
        return False
    word = m.group(1)
    prose = word[0].isupper() and word[1:].islower()  # `Load every new …`, `Set X to …`
    return (not prose and bool(_STATEMENT.match(text))) or _parses(text)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (of the module, a class or a function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                found.add(id(body[0].value))
        # an attribute's docstring: a string right after an assignment
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            for before, after in zip(stmts, stmts[1:], strict=False):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr) \
                        and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                    found.add(id(after.value))
    return found


def _functions(tree: ast.AST) -> dict[int, str]:
    """The innermost top-level function or method enclosing each node, by id."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, name: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and name is None else name
            if inner is not None:
                owner[id(child)] = inner
            visit(child, inner)

    visit(tree, None)
    return owner


def sql_strings(source: str, path: str) -> list[Hit]:
    """Every SQL statement written as a Python string in `source`."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    owner = _functions(tree)
    in_fstring = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    # names, not statements: dict keys (`"commit": sha`), subscripts and compared values
    names = {id(k) for node in ast.walk(tree) if isinstance(node, ast.Dict) for k in node.keys if k is not None}
    names |= {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
    names |= {id(c) for node in ast.walk(tree) if isinstance(node, ast.Compare) for c in [node.left, *node.comparators]}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip or id(node) in in_fstring or id(node) in names:
                continue
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        else:
            continue
        if is_sql(text):
            hits.append(Hit(path, node.lineno, owner.get(id(node)), text))
    return sorted(hits, key=lambda h: h.line)


def scan() -> list[Hit]:
    hits = []
    for folder in SCANNED:
        for p in sorted((ROOT / folder).rglob("*.py")):
            rel = p.relative_to(ROOT).as_posix()
            hits += sql_strings(p.read_text(encoding="utf-8"), rel)
    return hits


def test_no_sql_statement_in_python():
    found = scan()
    assert not found, "SQL written in Python strings; move each statement to a file under sql/ and run it " \
                      "with transforms.warehouse.run_sql:\n" + "\n".join(map(str, found))


@pytest.mark.parametrize("text", [
    "select 1",
    "select count(*) from (\n",
    "  with raw_counts as (",
    "insert or replace into raw._partitions",
    "delete from marts.pipeline_runs where run_id = $run",
    "update marts.pipeline_runs as r",
    "update {relation} set payload = null",
    "create table if not exists raw.x (",
    "create or replace temp table _fm as",
    "drop table if exists _cc_next",
    "attach $p as work (read_only)",
    "detach work",
    "set TimeZone = 'UTC'",
    "checkpoint",
    "SELECT * FROM t",
    "copy t to 'x.csv'",
    "use memory",
])
def test_a_statement_is_found(text):
    assert is_sql(text)


@pytest.mark.parametrize("text", [
    "Load every new or changed landing day, rebuild every table and publish the warehouse.",
    "Set JOURNEYS_HASH_SECRET to a long random value and keep it.",
    "use one of the allowed values",
    "Copy every table of the working database into a fresh file",
    "with --verbose for Dagster's detail",
    "selected",
    "update",
    "Describe the grain",
    "checkpoints are written",
])
def test_prose_is_not_a_statement(text):
    assert not is_sql(text)


def test_the_scanner_names_file_line_and_function_and_skips_docstrings():
    source = '''"""select this docstring is prose"""
def build(con, t):
    """Create the table."""
    con.execute("select 1")
    con.execute(f"select count(*) from {t}")
    con.execute("drop table " + t)
    return {"commit": "Load the file"}
'''
    hits = sql_strings(source, "transforms/example.py")
    assert [(h.line, h.function) for h in hits] == [(4, "build"), (5, "build"), (6, "build")]
    assert str(hits[1]) == "transforms/example.py:5 (in build): 'select count(*) from x'"
