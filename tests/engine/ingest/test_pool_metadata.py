"""A JSON pool's ``metadata`` must be an object; anything else is bad input, not a crash (found
by the fuzzer in tests/fuzz/test_fuzz_json_pool.py)."""

from __future__ import annotations

import json

import pytest

from engine.errors import ValidationError
from engine.ingest import read_pool

ASSET = {"asset_id": "L1", "asset_class": "auto_loan", "balance": 1.0, "rate": 0.0, "term": 1}


@pytest.mark.parametrize("metadata", [" ", True, [1, 2], 3.5])
def test_metadata_that_is_not_an_object_is_refused_by_field(metadata) -> None:
    doc = json.dumps({"assets": [ASSET], "metadata": metadata}).encode()
    with pytest.raises(ValidationError) as err:
        read_pool(doc, filename="pool.json")
    assert [(i.column, i.rule) for i in err.value.issues] == [
        ("metadata", "must be a JSON object of facts about the pool")]


def test_metadata_object_is_kept() -> None:
    doc = json.dumps({"assets": [ASSET], "metadata": {"desk": "auto"}}).encode()
    assert read_pool(doc, filename="pool.json").metadata["desk"] == "auto"
