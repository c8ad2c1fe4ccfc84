"""Hostile scenario JSON and keys (issue 9, findings 3 and 5).

Every bad file is refused with the engine's own error, naming the scenario key, the field, the
value and the rule; factors are strict numbers; no custom key may stand in for a built-in one.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import engine.credit.workflow as wf
from engine.credit._scenarios import (
    RESERVED_KEYS,
    check_custom_key,
    custom_key_problem,
    make_scenario,
    parse_custom_scenarios,
)
from engine.credit._views import scenarios_from_json
from engine.credit.workflow import ImportPoolRequest, StressRunRequest
from engine.errors import InputError, ScenarioError, ValidationError
from engine.store import Store


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "hostile.duckdb", timeout=5.0)


@pytest.fixture()
def tape(tmp_path):
    path = tmp_path / "autos.csv"
    pd.DataFrame({
        "asset_id": ["A", "B", "C"], "asset_class": ["auto_loan"] * 3,
        "balance": [10_000.0, 20_000.0, 5_000.0], "rate": [0.05, 0.07, 0.09],
        "term": [60, 48, 36], "age": [6, 12, 3],
    }).to_csv(path, index=False)
    return path


def one(factors=None, **fields):
    return {"name": "Mine", **fields, **({} if factors is None else {"market_factors": factors})}


# (file content, the field named, the value echoed, a fragment of the rule)
BAD_ENTRIES = [
    ({"x": one(colour="red")}, "x.colour", "red", "unknown field 'colour'"),
    ({"x": one({"rate_shock": 0.01})}, "x.market_factors.rate_shock", 0.01,
     "unknown market factor 'rate_shock'; valid factors: interest_rate_shock"),
    ({"x": one({"default_multiplier": True})}, "x.market_factors.default_multiplier", True,
     "must be a number such as 2 or 0.03, not true/false"),
    ({"x": one({"default_multiplier": False})}, "x.market_factors.default_multiplier", False,
     "not true/false"),
    ({"x": one({"default_multiplier": "2"})}, "x.market_factors.default_multiplier", "2",
     "not text"),
    ({"x": one({"default_multiplier": None})}, "x.market_factors.default_multiplier", None,
     "not null"),
    ({"x": one({"default_multiplier": [2]})}, "x.market_factors.default_multiplier", "[2]",
     "not a list"),
    ({"x": one({"default_multiplier": 9})}, "x.market_factors.default_multiplier", 9,
     "outside its valid range 0.5 … 5"),
    ({"x": one({"spread_widening": 10**400})}, "x.market_factors.spread_widening", None,
     "outside its valid range 0 … 0.2"),
    ({"x": one({"recovery_multiplier": float("inf")})}, "x.market_factors.recovery_multiplier",
     float("inf"), "outside its valid range 0.2 … 1.5"),
    ({"x": 5}, "x", 5, "must be an object {name, description, market_factors}"),
    ({"x": [1, 2]}, "x", "[1, 2]", "must be an object"),
    ({"x": one([0.5])}, "x.market_factors", "[0.5]", "must be an object of factor → number"),
    ({"x": {"name": 5}}, "x.name", 5, "must be text"),
    ({"x": {"name": "X", "description": ["d"]}}, "x.description", "['d']", "must be text"),
    ({"x": {"name": "n" * 121}}, "x.name", "n" * 80 + "…", "at most 120 characters"),
]


@pytest.mark.parametrize("data,column,value,rule", BAD_ENTRIES,
                         ids=[c + ":" + r[:24] for _, c, _, r in BAD_ENTRIES])
def test_a_bad_entry_is_refused_naming_key_field_value_and_rule(data, column, value, rule):
    with pytest.raises(ValidationError) as info:
        parse_custom_scenarios(data, subject="scenario file 'mine.json'")
    (issue,) = info.value.issues
    assert issue.column == column
    assert rule in issue.rule
    if value is not None:
        assert issue.value == value
    assert str(info.value).startswith("scenario file 'mine.json': 1 problem found")


def test_true_is_no_longer_read_as_one():
    """Finding 3: ``true`` was accepted as 1.0. Every path now refuses it."""
    with pytest.raises(ValidationError, match="not true/false"):
        scenarios_from_json('{"x": {"market_factors": {"prepayment_multiplier": true}}}')
    with pytest.raises(ScenarioError, match="prepayment_multiplier = True: must be a number"):
        make_scenario("X", market_factors={"prepayment_multiplier": True})
    with pytest.raises(ValidationError, match="not true/false"):
        StressRunRequest.build(pool_id="p", custom_scenarios={
            "x": {"name": "X", "market_factors": {"prepayment_multiplier": True}}})


def test_integers_are_read_as_floats():
    sc = scenarios_from_json('{"x": {"market_factors": {"default_multiplier": 2}}}')["x"]
    assert sc.market_factors.default_multiplier == 2.0
    assert type(sc.market_factors.default_multiplier) is float
    assert sc.name == "x"  # no name: the key


def test_every_problem_of_a_file_is_reported_at_once():
    text = json.dumps({"a": one({"default_multiplier": True}, colour=1),
                       "base": one(), "b": one({"spread_widening": 0.5})})
    with pytest.raises(ValidationError) as info:
        scenarios_from_json(text, name="scenario file 'three.json'")
    assert [i.column for i in info.value.issues] == [
        "a.market_factors.default_multiplier", "a.colour", "base",
        "b.market_factors.spread_widening"]
    assert "4 problems found" in str(info.value)


@pytest.mark.parametrize("text,fragment", [
    ("[1, 2]", "must be a JSON object of key → {name, description, market_factors}; it holds a list"),
    ('"base"', "it holds text"),
    ("5", "it holds int"),
    ("null", "it holds null"),
    ("true", "it holds true/false"),
    ("{}", "holds no scenario"),
    ("{not json", "not valid JSON at line 1"),
    ('{"x": {"market_factors": {"default_multiplier": NaN}}}', "NaN is not a JSON number"),
    ('{"x": {}, "x": {}}', "the key 'x' appears twice"),
])
def test_a_file_that_is_not_an_object_of_scenarios_is_an_input_error(text, fragment):
    with pytest.raises(InputError) as info:
        scenarios_from_json(text)
    assert fragment in str(info.value)


def test_deep_nesting_is_an_input_error_not_a_recursion_error():
    """Finding 3: 100,000 nested arrays raised RecursionError, reported as an internal error."""
    with pytest.raises(InputError, match="STRESSLAB_MAX_JSON_DEPTH"):
        scenarios_from_json('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")


# --------------------------------------------------------------------------- keys (finding 5)

@pytest.mark.parametrize("key,fragment", [
    ("base", "the key 'base' would shadow a built-in key: 'base' is a built-in scenario"),
    ("Base", "reads as 'base'"),
    ("BASE", "reads as 'base'"),
    ("ｂａｓｅ", "reads as 'base'"),  # full-width letters: NFKC makes them 'base'
    ("Credit Crisis", "reads as 'credit_crisis'"),
    ("credit-crisis", "reads as 'credit_crisis'"),
    ("fed_2025_severely_adverse", "is a built-in scenario"),
    ("all", "'all' stands for every library scenario"),
    ("ALL", "reads as 'all'"),
    (" base ", "remove the blanks around the key"),
    ("", "needs a key"),
    ("   ", "needs a key"),
    ("ba\u200bse", "control or invisible characters"),
    ("k" * 121, "at most 120 characters"),
])
def test_a_key_that_could_stand_in_for_a_built_in_one_is_refused(key, fragment):
    assert fragment in custom_key_problem(key)
    with pytest.raises(ValidationError) as info:
        parse_custom_scenarios({key: one()}, subject="scenario file")
    assert info.value.issues[0].rule == custom_key_problem(key)


def test_every_built_in_key_is_reserved():
    assert RESERVED_KEYS == {"base", "rate_shock_up", "rate_shock_down", "credit_crisis",
                             "liquidity_crisis", "housing_boom", "housing_bust",
                             "fed_2025_baseline", "fed_2025_severely_adverse",
                             "fed_2025_baseline_path", "fed_2025_severely_adverse_path", "all"}
    for key in ("my_base", "base_v2", "crisis", "basel"):
        assert custom_key_problem(key) is None


@pytest.mark.parametrize("key", ["base", " Base ", "Base", "ALL", "credit crisis"])
def test_save_scenario_refuses_a_shadowing_key_and_stores_nothing(store, key):
    with pytest.raises(ScenarioError, match="would shadow a built-in key"):
        wf.save_scenario(key, scenario=make_scenario("Evil", market_factors={"default_multiplier": 0.5}),
                         store=store)
    assert wf.custom_scenarios(store=store) == {}
    assert wf.scenario_library(store=store)["base"].name == "Base Case"


def test_save_scenario_strips_a_typed_key(store):
    wf.save_scenario("  mine ", scenario=make_scenario("Mine"), store=store)
    assert list(wf.custom_scenarios(store=store)) == ["mine"]


def test_import_refuses_a_base_key_in_any_spelling_and_stores_nothing(store):
    text = json.dumps({"ok": one(), "Base": one({"default_multiplier": 0.5})}).encode()
    with pytest.raises(ValidationError, match="'Base' reads as 'base'"):
        wf.import_scenarios(text, name="scenario file 'evil.json'", store=store)
    assert wf.custom_scenarios(store=store) == {}


def test_a_request_with_a_custom_base_is_refused_and_no_run_is_stored(tape, store):
    """Finding 5: a custom ``base`` replaced the real base case and the run was stored."""
    pool_id = wf.import_pool(ImportPoolRequest(path=tape), store=store).pool_id
    before = wf.count_runs(store=store)
    for key in ("base", "Base", "all"):
        with pytest.raises(ValidationError) as info:
            StressRunRequest.build(pool_id=pool_id, custom_scenarios={
                key: {"name": "Evil", "market_factors": {"default_multiplier": 0.5}}})
        assert info.value.issues[0].value == key
        assert "would shadow a built-in key" in info.value.issues[0].rule
    assert wf.count_runs(store=store) == before == 0


def test_a_custom_scenario_does_not_move_the_base_case(tape, store):
    """With a custom scenario beside it, Credit Crisis is measured against the real base."""
    pool_id = wf.import_pool(ImportPoolRequest(path=tape), store=store).pool_id
    plain = wf.run_stress(StressRunRequest.build(
        pool_id=pool_id, scenario_names=["credit_crisis"], record=False), store=store)
    mine = wf.run_stress(StressRunRequest.build(
        pool_id=pool_id, scenario_names=["all"], record=False,
        custom_scenarios={"my_base": {"market_factors": {"default_multiplier": 0.5}}}),
        store=store)
    crisis = mine.result.scenarios["credit_crisis"].metrics["npv_change_percent"]
    assert crisis == plain.result.scenarios["credit_crisis"].metrics["npv_change_percent"] < 0
    assert mine.result.scenarios["base"].scenario.name == "Base Case"
    assert mine.result.scenarios["my_base"].scenario.market_factors.default_multiplier == 0.5


def test_a_stored_custom_base_from_an_older_store_is_refused_before_running(tape, store):
    """A store written before keys were checked (or by hand) may hold a custom 'base'."""
    pool_id = wf.import_pool(ImportPoolRequest(path=tape), store=store).pool_id
    with store.write() as con:
        con.execute("INSERT INTO scenarios (scenario_key, name, description, market_factors,"
                    " source, created_at, updated_at) VALUES ('base', 'Evil', '',"
                    " '{\"default_multiplier\": 0.5}', 'custom', now(), now())")
    with pytest.raises(ScenarioError, match="built-in key 'base'"):
        wf.run_stress(StressRunRequest.build(pool_id=pool_id), store=store)
    assert wf.count_runs(store=store) == 0


def test_check_custom_key_returns_the_stripped_key():
    assert check_custom_key("  my_recession ") == "my_recession"
    with pytest.raises(ScenarioError, match="custom scenario key 'Base'"):
        check_custom_key("Base")
