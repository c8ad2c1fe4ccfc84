"""The DuckDB store: the connection, numbered migrations and transactions, nothing else.

Each capability keeps its own tables' SQL in its own package (``engine.credit._store``,
``engine.mlrisk._store``, ``engine.market._store``, ``engine.audit``); this package imports none
of them.
"""

from engine.store._connection import (
    DEFAULT_DB_PATH,
    DEFAULT_LOCK_TIMEOUT,
    Store,
    applied_migrations,
    connect,
    db_path,
    lock_timeout,
    store_health,
    transaction,
)

__all__ = ["DEFAULT_DB_PATH", "DEFAULT_LOCK_TIMEOUT", "Store", "applied_migrations", "connect",
           "db_path", "lock_timeout", "store_health", "transaction"]
