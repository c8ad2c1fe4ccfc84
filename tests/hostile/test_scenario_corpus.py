"""Hostile scenario files through the real command: file → expected exit → message fragment.

Issue 9, findings 3 (scenario JSON: extra keys, wrong types, ``true``, a non-object, deep
nesting) and 5 (a custom key that shadows ``base``). Each row is written to disk and run as
``stresslab stress TAPE --custom FILE``; nothing may end as an internal error, a traceback or a
pydantic dump, and no run may be stored.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from engine.cli import main

# (file name, content, exit status, a fragment of the message on stderr)
CORPUS: list[tuple[str, bytes, int, str]] = [
    ("extra_key.json",
     json.dumps({"name": "X", "market_factors": {"default_multiplier": 2}, "colour": "red"}).encode(),
     2, "field 'x.colour' (value 'red'): unknown field 'colour'; a scenario has only name, "
        "description, market_factors"),
    ("extra_factor.json",
     json.dumps({"mine": {"market_factors": {"volatility": 0.2}}}).encode(),
     2, "field 'mine.market_factors.volatility' (value 0.2): unknown market factor 'volatility'"),
    ("true_factor.json",
     json.dumps({"mine": {"market_factors": {"default_multiplier": True}}}).encode(),
     2, "field 'mine.market_factors.default_multiplier' (value True): must be a number such as "
        "2 or 0.03, not true/false"),
    ("text_factor.json",
     json.dumps({"mine": {"market_factors": {"default_multiplier": "2"}}}).encode(),
     2, "(value '2'): must be a number such as 2 or 0.03, not text"),
    ("null_factor.json", b'{"mine": {"market_factors": {"spread_widening": null}}}',
     2, "field 'mine.market_factors.spread_widening': must be a number such as 2 or 0.03, not null"),
    ("name_number.json", b'{"mine": {"name": 7}}', 2, "field 'mine.name' (value 7): must be text"),
    ("entry_number.json", b'{"mine": 5}',
     2, "field 'mine' (value 5): must be an object {name, description, market_factors}"),
    ("factors_list.json", b'{"mine": {"market_factors": [2]}}',
     2, "field 'mine.market_factors' (value '[2]'): must be an object of factor → number"),
    ("top_list.json", b"[1, 2]", 2, "must be a JSON object of key → {name, description, "
                                    "market_factors}; it holds a list"),
    ("top_string.json", b'"base"', 2, "it holds text"),
    ("out_of_range.json", b'{"mine": {"market_factors": {"default_multiplier": 9}}}',
     2, "(value 9): outside its valid range 0.5 … 5"),
    ("huge_number.json", b'{"mine": {"market_factors": {"default_multiplier": 1e400}}}',
     2, "(value inf): outside its valid range 0.5 … 5"),
    ("nan.json", b'{"mine": {"market_factors": {"default_multiplier": NaN}}}',
     2, "NaN is not a JSON number"),
    ("nested.json", b'{"mine": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     2, "the JSON nesting depth is over the limit of 64"),
    ("nested_objects.json", b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
     2, "STRESSLAB_MAX_JSON_DEPTH"),
    ("not_json.json", b"{mine: 1}", 2, "not valid JSON at line 1, column 2"),
    ("empty.json", b"", 2, "not valid JSON"),
    ("base_key.json", json.dumps({"base": {"name": "Evil", "market_factors": {
        "default_multiplier": 0.5}}}).encode(),
     2, "the key 'base' would shadow a built-in key: 'base' is a built-in scenario"),
    ("base_name.json", json.dumps({"name": "Base", "market_factors": {}}).encode(),
     2, "the key 'base' would shadow a built-in key"),
    ("base_upper.json", json.dumps({"BASE": {}}).encode(), 2, "'BASE' reads as 'base'"),
    ("all_key.json", json.dumps({"all": {}}).encode(), 2, "'all' stands for every library scenario"),
    ("fed_key.json", json.dumps({"fed-2025-baseline": {}}).encode(),
     2, "reads as 'fed_2025_baseline'"),
    ("good.json", json.dumps({"mine": {"name": "Mine", "market_factors": {
        "default_multiplier": 2}}}).encode(), 0, ""),
]


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "corpus.duckdb"))


@pytest.fixture()
def tape(tmp_path):
    path = tmp_path / "pool.csv"
    pd.DataFrame({
        "asset_id": ["A", "B", "C"], "asset_class": ["auto_loan"] * 3,
        "balance": [10_000.0, 20_000.0, 5_000.0], "rate": [0.05, 0.07, 0.09],
        "term": [60, 48, 36], "age": [6, 12, 3],
    }).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name,content,status,fragment", CORPUS, ids=[r[0] for r in CORPUS])
def test_scenario_file(name, content, status, fragment, tape, tmp_path, capsys):
    from engine.credit.workflow import count_runs

    path = tmp_path / name
    path.write_bytes(content)
    assert main(["stress", str(tape), "--custom", str(path), "--scenario", "base"]) == status
    err = capsys.readouterr().err
    assert fragment in err
    assert "internal error" not in err and "Traceback" not in err
    assert "pydantic" not in err and "Input should be" not in err
    assert count_runs() == (1 if status == 0 else 0)
