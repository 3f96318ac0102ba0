"""Table documentation: one source (sql/<schema>/<table>.yaml) for docs/tables.md and the
DuckDB comments, and it matches the published tables column for column."""

from transforms.docs import DOCS_FILE, PUBLIC_SCHEMAS, documented_tables, render_tables_md


def test_docs_file_is_up_to_date():
    assert DOCS_FILE.read_text(encoding="utf-8") == render_tables_md(), "run `journeys docs` to regenerate docs/tables.md"


def test_every_marts_table_and_column_is_documented_and_exists(demo_db):
    docs = documented_tables()
    actual: dict[str, set[str]] = {}
    for schema, table, column in demo_db.execute(
        "select schema_name, table_name, column_name from duckdb_columns() where schema_name in ('staging','quarantine','identity','marts')"
    ).fetchall():
        actual.setdefault(f"{schema}.{table}", set()).add(column)
    marts = {t for t in actual if t.startswith("marts.")}
    assert marts <= set(docs), f"undocumented tables: {sorted(marts - set(docs))}"
    for table, cols in actual.items():
        if table not in docs:
            continue
        documented = set(docs[table]["columns"])
        assert cols - documented == set(), f"{table}: undocumented columns {sorted(cols - documented)}"
        assert documented - cols == set(), f"{table}: documented columns that do not exist {sorted(documented - cols)}"
        assert docs[table]["description"].lower().startswith("one row per"), table
    for table in docs:
        assert table.split(".")[0] in PUBLIC_SCHEMAS


def test_comments_match_the_docs(demo_db):
    docs = documented_tables()
    comments = dict(((f"{s}.{t}", c) for s, t, c in demo_db.execute(
        "select schema_name, table_name, comment from duckdb_tables()").fetchall()))
    for table, doc in docs.items():
        if table in comments:
            assert " ".join((comments[table] or "").split()) == doc["description"], table
    col_comments = {(f"{s}.{t}", c): m for s, t, c, m in demo_db.execute(
        "select schema_name, table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'").fetchall()}
    for (table, col), comment in col_comments.items():
        assert " ".join((comment or "").split()) == docs[table]["columns"][col], (table, col)
