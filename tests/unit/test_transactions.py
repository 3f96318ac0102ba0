"""warehouse.in_next_commit: a small write (a model's fingerprint) lands in the transaction
that writes the model, once, and not at all when that transaction rolls back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from transforms.warehouse import in_next_commit, transaction


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> list[int]:
    return [r[0] for r in con.execute(f"select x from {table} order by x").fetchall()]  # noqa: S608 - fixed names


def test_a_write_handed_to_the_next_commit_lands_in_it_once_and_not_after_a_rollback(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create table model (x integer); create table fingerprints (x integer)")

    with in_next_commit(con, lambda: con.execute("insert into fingerprints values (1)")):
        with transaction(con):
            con.execute("insert into model values (1)")
            assert _rows(con, "fingerprints") == []  # not before the commit
        assert _rows(con, "fingerprints") == [1]  # with the model's commit
    assert _rows(con, "fingerprints") == [1]  # and not again when the block ends

    with (pytest.raises(RuntimeError),
          in_next_commit(con, lambda: con.execute("insert into fingerprints values (2)")),
          transaction(con)):
        con.execute("insert into model values (2)")
        raise RuntimeError("the build failed")
    assert _rows(con, "model") == [1] and _rows(con, "fingerprints") == [1]

    # a block that commits nothing (a model left as it was) still saves its write, at its end
    with in_next_commit(con, lambda: con.execute("insert into fingerprints values (3)")):
        pass
    assert _rows(con, "fingerprints") == [1, 3]
    con.close()
