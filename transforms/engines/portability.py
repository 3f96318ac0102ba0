"""The portable subset: DuckDB SQL that the Spark generator (`transforms.engines.spark`) turns
into Spark SQL giving the same rows. `lint(sql)` parses the SQL with sqlglot and reports each
construct outside the subset, with its line; `lint_models()` runs it over every model file and
every multi-statement folder of a model schema (sql/intermediate/funnel_programme/, …).
tests/unit/test_portability.py fails on any violation not listed in
tests/unit/portability_known_violations.txt.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

from transforms.engines.spark import RULES, PortableDuckDB, is_thousands
from transforms.warehouse import SCHEMAS, SQL_DIR

# DuckDB functions that sqlglot passes to Spark unchanged and that Spark lacks or computes
# differently (`hash`). The lint looks for them after the generator's rules ran, so one a rule
# rewrites (`to_seconds`, `epoch_us`, `fsum`, `list_slice`, `list_position`, `list_sum`) is
# in the subset: its rule has a test on both engines (tests/spark/test_rules.py).
NO_SPARK_FORM = frozenset({
    "to_seconds", "epoch_us", "epoch_ms", "epoch_ns", "fsum", "json_valid", "json_extract_string",
    "list_sum", "list_slice", "list_position", "list_has_all", "list_reduce",
    "list_aggregate", "list_apply", "list_zip", "list_value", "list_reverse", "list_unique",
    "list_grade_up", "list_select", "list_where", "list_cosine_similarity", "list_inner_product",
    "list_any_value", "list_bool_or", "list_bool_and", "list_count", "list_avg", "list_product",
    "list_string_agg", "hash", "md5_number", "string_split_regex",
    "regexp_extract_all", "struct_extract", "query_table", "query", "read_parquet", "read_csv",
    "read_json", "strptime", "make_timestamp", "epoch", "date_sub", "to_days", "to_hours",
    "to_minutes", "to_milliseconds", "to_microseconds",
})


@dataclass(frozen=True, order=True)
class Violation:
    file: str  # relative to sql/
    line: int
    construct: str

    def __str__(self) -> str:
        return f"sql/{self.file}:{self.line}: {self.construct}"


def _line(node: exp.Expression) -> int:
    for n in node.walk():
        line = n.meta.get("line") if n.meta else None
        if line:
            return int(line)
        if isinstance(n, exp.Column) and n.this is not None and n.this.meta.get("line"):
            return int(n.this.meta["line"])
    return 0


def _is_map(node: exp.Expression) -> bool:
    return isinstance(node, (exp.Map, exp.ToMap, exp.VarMap, exp.MapFromEntries))


def _own(select: exp.Select, kind: type[exp.Expression]) -> Iterator[exp.Expression]:
    """The `kind` nodes of a select's projections, not those of a nested select."""
    for proj in select.expressions:
        for n in proj.walk(prune=lambda n, top=proj: isinstance(n, exp.Subquery | exp.Select) and n is not top):
            if isinstance(n, kind):
                yield n


def _origin(tree: exp.Expression, node: exp.Expression) -> exp.Expression:
    """The node of the source `tree` a generated node carries the line of (the tree itself when
    none): the generated tree is a copy, whose nodes keep their `meta`."""
    return node if _line(node) else tree


def _column_by_name(node: exp.Columns) -> bool:
    """`columns(lambda c: c = $name)` (or a text for `$name`): the form the generator's
    `column_by_name` rule makes one column of."""
    fn = node.this
    if not (isinstance(fn, exp.Lambda) and len(fn.expressions) == 1 and isinstance(fn.this, exp.EQ)):
        return False
    sides = [fn.this.this, fn.this.expression]
    named = [x for x in sides if isinstance(x, exp.Placeholder) or (isinstance(x, exp.Literal) and x.is_string)]
    own = [x for x in sides if isinstance(x, exp.Identifier | exp.Column) and x.name == fn.expressions[0].name]
    return len(named) == 1 and len(own) == 1


def _aliases(select: exp.Select) -> set[str]:
    """The names a select gives to computed columns (a column kept under its own name is none)."""
    return {p.alias for p in select.expressions
            if isinstance(p, exp.Alias) and not (isinstance(p.this, exp.Column) and p.this.name == p.alias)}


def _window_keys(window: exp.Window) -> list[exp.Column]:
    """The unqualified columns a window partitions or orders by (Spark cannot read an alias of
    the select there: UNSUPPORTED_FEATURE.LATERAL_COLUMN_ALIAS_IN_WINDOW)."""
    keys = [*(window.args.get("partition_by") or [])]
    if window.args.get("order") is not None:
        keys.append(window.args["order"])
    return [c for k in keys for c in k.find_all(exp.Column) if not c.table]


def _constructs(tree: exp.Expression) -> Iterator[tuple[exp.Expression, str]]:
    for node in tree.walk():
        if isinstance(node, exp.Create) and str(node.args.get("kind", "")).upper() == "MACRO":
            yield node, "macro"
        elif isinstance(node, exp.Pivot):
            yield node, "unpivot" if node.args.get("unpivot") else "pivot"
        elif isinstance(node, exp.Join) and str(node.args.get("method") or "").upper() == "ASOF":
            yield node, "asof join"
        elif isinstance(node, exp.Column) and node.name.lower() == "rowid" and not node.table:
            yield node, "rowid"
        elif isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber) \
                and not node.args.get("order"):
            yield node, "row_number() over () without order"
        elif isinstance(node, exp.Bracket) and len(node.expressions) == 1 \
                and isinstance(node.expressions[0], exp.Slice):
            bounds = [b for b in (node.expressions[0].this, node.expressions[0].expression) if b is not None]
            if any(isinstance(b, exp.Neg) for b in bounds):
                yield node, "list slice with a negative bound"
        elif isinstance(node, exp.Anonymous) and node.name.lower() in ("list_slice", "array_slice") \
                and any(isinstance(b, exp.Neg) for b in node.expressions[1:]):
            yield node, "list slice with a negative bound"
        elif isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order) \
                and len({bool(k.args.get("desc")) for k in node.this.expressions}) > 1:
            yield node, "list() ordered in mixed directions"
        elif isinstance(node, exp.JSONExtract) and (  # json_extract_string: the json_paths rule
                isinstance(node.expression, exp.Array)
                or (isinstance(node.expression, exp.Cast) and node.expression.to.is_type(exp.DataType.Type.ARRAY))):
            yield node, "json_extract() of a list of paths"
        elif (isinstance(node, exp.Format) and not is_thousands(node)) \
                or (isinstance(node, exp.Anonymous) and node.name.lower() == "format"):
            yield node, "format() other than format('{:,}', n)"
        elif isinstance(node, exp.Columns) and not _column_by_name(node):
            yield node, "columns() other than columns(lambda c: c = $name)"
        elif isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries) \
                and node.this.args.get("step") is not None:
            yield node, "range() table with a step"
        elif isinstance(node, exp.Select):
            keyed = node.args.get("distinct") or node.args.get("group")
            if keyed and any(_is_map(n) for n in _own(node, exp.Expression)):
                yield node, "map value in distinct or group by"
            for window in _own(node, exp.Window):
                if any(_aliases(node) & {c.name for c in _window_keys(window)}):
                    yield window, "window over an alias of its select"
            for join in node.args.get("joins") or []:
                on = join.args.get("on")
                if on is not None and any(_is_map(n) for n in on.walk()):
                    yield join, "map value in a join"
    # after the generator's rules: what is still a plain DuckDB call has no Spark form
    generated = tree.copy()
    for rule in RULES:
        generated = generated.transform(lambda n, rule=rule: rule(n) or n)
    for node in generated.find_all(exp.Anonymous):
        if node.name.lower() in NO_SPARK_FORM:
            yield node, f"{node.name.lower()}()"
    for select in generated.find_all(exp.Select):
        generators = list(_own(select, exp.Unnest | exp.Explode | exp.Inline))
        if len(generators) > 1:  # the zip_unnest rule could not zip them (an unnamed one, …)
            yield _origin(tree, select), "several unnest() in one select"
        elif any(not isinstance(g.parent, exp.Alias | exp.Aliases | exp.Select) for g in generators):
            yield _origin(tree, select), "unnest() inside an expression"


def lint(sql: str, file: str = "<sql>") -> list[Violation]:
    """The constructs of `sql` (DuckDB, one or several statements) outside the portable
    subset, each with its line. A file sqlglot cannot parse is one violation."""
    try:
        trees = [t for t in sqlglot.parse(sql, read=PortableDuckDB) if t is not None]
    except sqlglot.errors.ParseError as e:
        return [Violation(file, 0, f"unparsable: {str(e).splitlines()[0]}")]
    found = {Violation(file, _line(node), what) for tree in trees for node, what in _constructs(tree)}
    return sorted(found)


def model_files() -> list[Path]:
    """Every model file and every statement file of a model schema's folders, sorted."""
    files: list[Path] = []
    for schema in SCHEMAS:
        folder = SQL_DIR / schema
        files += sorted(folder.glob("*.sql")) + sorted(folder.glob("*/*.sql"))
    return files


def lint_models() -> list[Violation]:
    out: list[Violation] = []
    for path in model_files():
        out += lint(path.read_text(encoding="utf-8"), str(path.relative_to(SQL_DIR)))
    return out
