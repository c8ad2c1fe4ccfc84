"""Fuzzing the CSV reader: hostile tapes and raw bytes give a pool or an engine error, never
anything else (issue 9, "Done when": fuzzing)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.ingest import read_pool, read_table

from .strategies import FUZZ, csv_tapes, engine_errors_only


@settings(FUZZ, max_examples=300)
@given(csv_tapes())
def test_a_hostile_csv_tape_is_read_validated_or_refused(data):
    pool = engine_errors_only(read_pool, data, filename="tape.csv")
    if pool is not None:  # what is accepted is a complete, plausible pool
        assert pool.n_assets > 0
        assert pool.frame["balance"].notna().all() and pool.frame["term"].ge(1).all()


@settings(FUZZ, max_examples=250)
@given(csv_tapes())
def test_a_hostile_csv_table_is_read_or_refused(data):
    engine_errors_only(read_table, data, filename="tape.csv")


@settings(FUZZ, max_examples=350)
@given(st.binary(max_size=600), st.sampled_from(["tape.csv", "tape.txt", "tape.csv.gz", None]))
def test_raw_bytes_as_a_csv_are_read_or_refused(data, filename):
    engine_errors_only(read_table, data, filename=filename)
