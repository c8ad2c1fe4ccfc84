"""First-start seeding: a new store gets the bundled real Lending Club pool, so a new user
lands on something real."""

from __future__ import annotations

from pathlib import Path

import duckdb

from engine.store.credit import pool_exists, save_pool

__all__ = ["LENDING_CLUB_TAPE", "SEED_POOL_ID", "SEED_POOL_NAME", "seed_store"]

LENDING_CLUB_TAPE = (Path(__file__).resolve().parents[2] / "data" / "lendingclub_2018q1"
                     / "loans_full_schema.csv.gz")
SEED_POOL_ID = "lendingclub-2018q1"
SEED_POOL_NAME = "Lending Club 2018 Q1 (10,000 loans)"


def seed_store(con: duckdb.DuckDBPyConnection) -> str | None:
    """Store the bundled Lending Club pool if the store has no pool yet.

    Returns
    -------
    str or None
        The seeded pool's id, or None when the store already held a pool.
    """
    if con.execute("SELECT count(*) FROM pools").fetchone()[0] > 0:
        return None
    if pool_exists(con, SEED_POOL_ID):  # pragma: no cover - guarded by the count above
        return None
    from engine.ingest import read_pool

    pool = read_pool(LENDING_CLUB_TAPE, format="lendingclub", pool_id=SEED_POOL_ID,
                     pool_name=SEED_POOL_NAME)
    return save_pool(con, pool, source_file=f"data/lendingclub_2018q1/{LENDING_CLUB_TAPE.name}")
