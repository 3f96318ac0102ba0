"""Table documentation from one source: sql/<schema>/<table>.yaml.

The same YAML becomes DuckDB COMMENT ON statements (transforms.warehouse.apply_comments) and
docs/tables.md (`render_tables_md`), and a test keeps the two and the warehouse in step.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from transforms.warehouse import SQL_DIR

PUBLIC_SCHEMAS = ("staging", "quarantine", "identity", "marts")
DOCS_FILE = SQL_DIR.parent / "docs" / "tables.md"


def documented_tables(schemas: tuple[str, ...] = PUBLIC_SCHEMAS) -> dict[str, dict]:
    """'schema.table' -> {'description': str, 'columns': {name: text}} for every documented table."""
    out = {}
    for schema in schemas:
        for path in sorted((SQL_DIR / schema).glob("*.yaml")):
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            out[f"{schema}.{path.stem}"] = {
                "description": " ".join(str(doc.get("description", "")).split()),
                "columns": {k: " ".join(str(v).split()) for k, v in (doc.get("columns") or {}).items()},
            }
    return out


def render_tables_md() -> str:
    lines = [
        "# Tables",
        "",
        "The tables analysts query in the published warehouse (`warehouse/journeys.duckdb` by default).",
        "Generated from `sql/<schema>/<table>.yaml` by `journeys docs`; the same text is in the",
        "DuckDB comments (`select comment from duckdb_tables()`). Do not edit by hand.",
        "",
    ]
    tables = documented_tables()
    for schema in PUBLIC_SCHEMAS:
        names = [t for t in tables if t.startswith(schema + ".")]
        if not names:
            continue
        lines += [f"## `{schema}`", ""]
        for rel in names:
            doc = tables[rel]
            lines += [f"### `{rel}`", "", doc["description"], "", "| column | meaning |", "|---|---|"]
            lines += ["| `" + c + "` | " + t.replace("|", "\\|") + " |" for c, t in doc["columns"].items()]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_tables_md(path: Path = DOCS_FILE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_tables_md(), encoding="utf-8")
    return path
