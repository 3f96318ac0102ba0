"""Where the Spark engine's tables live, and how one is replaced without ever being half-written.

The table `schema.table` is read at `<root>/<schema>/<table>`, a symbolic link to its current
generation: the sibling folder `<table>@<id>`, written whole by one Spark job and never changed
after. A write makes a new generation, then points the link at it (`os.replace` of a new link:
atomic), then removes the generations before it. A run killed while writing leaves a folder
the link does not point at (removed by the next write of that table); readers and the next run
see the previous generation, whole. Spark's catalog registers a table at its generation's own
folder, so a file listing Spark cached for one generation never serves another.

Each table may carry a note, `<table>.version`: the generation it names and the version
(`intermediate._table_versions`) of the working file's copy of that table when the two were
known equal. A run then knows whether the Parquet table still holds what the working file holds
(`holds`), which an incremental build needs of the rows it keeps: after a run killed between
the two writes, or a run with `engine: duckdb` in between, the note no longer matches and the
table is built (or re-exported) whole.

A folder the link replaced was a table from before generations (a plain folder): it becomes a
generation first, the one moment (once per table) the name is briefly missing.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from transforms.warehouse import sql_file


def new_generation(path: Path) -> Path:
    """A fresh folder name for the next generation of the table at `path` (not created)."""
    return path.with_name(f"{path.name}@{uuid.uuid4().hex[:12]}")


def point(path: Path, generation: Path) -> list[Path]:
    """Make `path` name `generation` (atomically). Returns the table's other generations, which
    the caller removes (`drop`) once nothing reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        path.rename(new_generation(path))
    link = path.with_name(f"{path.name}.link-{uuid.uuid4().hex[:12]}")
    os.symlink(generation.name, link)  # relative: the warehouse folder may move
    os.replace(link, path)
    return [g for g in path.parent.glob(f"{path.name}@*") if g.name != generation.name]


def drop(generations: list[Path]) -> None:
    for g in generations:
        shutil.rmtree(g, ignore_errors=True)


def swap_in(df: Any, path: Path) -> list[Path]:
    """Write the Spark frame `df` as a new generation of the table at `path` and point `path`
    at it. Returns the older generations (see `point`)."""
    generation = new_generation(path)
    df.write.mode("error").parquet(str(generation))  # "error": Spark Connect knows no "errorifexists"
    return point(path, generation)


def register(spark: Any, relation: str, path: Path) -> None:
    """Register `relation` in `spark`'s catalog at the generation `path` names."""
    schema, _ = relation.split(".")
    spark.sql(sql_file("ops/spark/create_database"), args={"schema": schema})
    if spark.catalog.tableExists(relation):
        spark.sql(sql_file("ops/spark/drop_table"), args={"relation": relation})
    spark.catalog.createTable(relation, path=str(path.resolve()), source="parquet")


def exists(path: Path) -> bool:
    return path.is_dir()


def _note(path: Path) -> Path:
    return path.with_name(f"{path.name}.version")


def note_version(path: Path, version: str | None) -> None:
    """Record that the table at `path` (its current generation) holds what the working file's
    copy at `version` holds. No version: the note is removed."""
    note = _note(path)
    if version is None or not path.is_symlink():
        note.unlink(missing_ok=True)
        return
    tmp = note.with_name(note.name + f".{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps({"generation": os.readlink(path), "version": version}), encoding="utf-8")
    os.replace(tmp, note)


def holds(path: Path, version: str | None) -> bool:
    """Whether the table at `path` is noted as holding the working file's copy at `version`."""
    note = _note(path)
    if version is None or not path.is_symlink() or not path.is_dir() or not note.is_file():
        return False  # no version, a plain folder, a generation gone, no note
    try:
        recorded = json.loads(note.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return recorded == {"generation": os.readlink(path), "version": version}
