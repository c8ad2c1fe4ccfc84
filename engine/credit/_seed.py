"""First-start seeding: a new store gets the bundled real Lending Club pool, so a new user lands on
something real (stored by :func:`engine.credit.workflow.seed_store`)."""

from __future__ import annotations

from engine.bundled import data_file
from engine.ingest import PoolData
from engine.ingest import read_pool as read_tape

__all__ = ["LENDING_CLUB_FOLDER", "LENDING_CLUB_FILE", "SEED_POOL_ID", "SEED_POOL_NAME",
           "seed_pool"]

#: The bundled tape, under :func:`engine.bundled.data_dir` (see its PROVENANCE.md).
LENDING_CLUB_FOLDER = "lendingclub_2018q1"
LENDING_CLUB_FILE = "loans_full_schema.csv.gz"
SEED_POOL_ID = "lendingclub-2018q1"
SEED_POOL_NAME = "Lending Club 2018 Q1 (10,000 loans)"


def seed_pool() -> PoolData:
    """The bundled Lending Club 2018 Q1 tape (10,000 loans), read and validated.

    Raises
    ------
    StoreError
        If the bundled data is missing (a broken installation).
    """
    return read_tape(data_file(LENDING_CLUB_FOLDER, LENDING_CLUB_FILE), format="lendingclub",
                     pool_id=SEED_POOL_ID, pool_name=SEED_POOL_NAME)
