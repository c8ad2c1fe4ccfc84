"""The DuckDB store: one file, numbered migrations applied at connect, parameterized SQL only."""

from engine.store._connection import (
    DEFAULT_DB_PATH,
    applied_migrations,
    connect,
    db_path,
    transaction,
)

__all__ = ["DEFAULT_DB_PATH", "applied_migrations", "connect", "db_path", "transaction"]
