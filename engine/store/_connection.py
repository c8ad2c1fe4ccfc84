"""Open the DuckDB file, apply numbered migrations, and run writes in one transaction.

A DuckDB file can be open read-write by one process only (DuckDB documentation, "Concurrency").
The app holds one connection and takes ``connection.cursor()`` per script run or thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from engine.errors import StoreError

__all__ = ["DEFAULT_DB_PATH", "applied_migrations", "connect", "db_path", "transaction"]

DEFAULT_DB_PATH = Path(".stresslab") / "stresslab.duckdb"
_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The store's file: ``path`` if given, else ``$STRESSLAB_DB``, else ``.stresslab/stresslab.duckdb``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("STRESSLAB_DB")
    return Path(env) if env else DEFAULT_DB_PATH


def _migrations() -> list[tuple[int, str, str]]:
    """Every migration shipped with the package as (version, name, sql), in version order."""
    found = []
    for entry in resources.files("engine.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(versions) != len(set(versions)):
        raise StoreError(f"two migrations share a number: {versions}")
    return found


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    for version, name, sql in _migrations():
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name]
            )


def connect(
    path: str | os.PathLike[str] | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store and bring its schema up to date.

    Parameters
    ----------
    path : path-like, optional
        The DuckDB file; ``":memory:"`` for a throw-away store. Default: see :func:`db_path`.
    read_only : bool, default False
        Open without write access (no migrations are applied).

    Raises
    ------
    StoreError
        If the file cannot be opened (for example, another process holds it read-write).
    """
    target = str(path) if path == ":memory:" else str(db_path(path))
    if target != ":memory:":
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.Error as exc:  # the file is locked or not a DuckDB file
        raise StoreError(
            f"cannot open the store {target!r}: {exc}. Close the other program using it, "
            "or point STRESSLAB_DB at another file."
        ) from exc
    if not read_only:
        _migrate(con)
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction: everything is stored, or nothing is."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str]]:
    """The migrations applied to this store, as (version, name), in order."""
    return [tuple(r) for r in con.execute(
        "SELECT version, name FROM schema_migrations ORDER BY version").fetchall()]
