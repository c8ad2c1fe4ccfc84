"""Custom scenario keys follow one rule everywhere, and a scenario that changes nothing is
warned about, not refused (issue 13, "Scenario keys").

The rule: lower-case letters a–z, digits and _, starting with a letter, at most 120 characters
(besides the older rules: no built-in key in any spelling, no blanks around, no invisible
characters). The app's form (:class:`ScenarioDraft`), a scenario file (the CLI's ``--custom``
and the app's import), a stress-run request and the HTTP API's body refuse the same keys with
the same rule text, naming the field and the value.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.credit.workflow as wf
from engine.credit._scenarios import (
    KEY_PATTERN,
    KEY_RULE,
    MAX_KEY_CHARS,
    builtin_scenarios,
    custom_key_problem,
    make_scenario,
    neutral_warning,
    neutral_warnings,
    parse_custom_scenarios,
    suggest_key,
)
from engine.credit.models import ScenarioDraft, StressTestBody
from engine.credit.workflow import StressRunRequest
from engine.errors import ScenarioError, ValidationError
from engine.store import Store

GOOD_KEYS = ["my_recession", "a", "x1", "deep_recession_2025", "rates_up_300bp", "k" * 120,
             "basel", "my_base"]

# (key, the key the message suggests instead)
BAD_KEYS = [
    ("my bad key!", "my_bad_key"),
    ("My_Recession", "my_recession"),
    ("9lives", "s_9lives"),
    ("_hidden", "hidden"),
    ("rates-up", "rates_up"),
    ("key.v2", "key_v2"),
    ("récession", "recession"),
    ("ключ", "my_scenario"),
    ("a/b", "a_b"),
]


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "keys.duckdb", timeout=5.0)


def _rule(suggested: str) -> str:
    return ("a key holds only lower-case letters a–z, digits 0–9 and _, and starts with a "
            f"letter; write it e.g. as {suggested!r}")


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_a_key_of_lower_case_letters_digits_and_underscores_is_accepted(key):
    assert custom_key_problem(key) is None
    assert ScenarioDraft.build(key, market_factors={"default_multiplier": 2.0}).key == key
    assert list(parse_custom_scenarios({key: {}}, subject="f")) == [key]


@pytest.mark.parametrize("key,suggested", BAD_KEYS)
def test_a_key_outside_the_rule_is_refused_naming_field_value_and_rule(key, suggested):
    assert custom_key_problem(key) == _rule(suggested)
    with pytest.raises(ValidationError) as info:
        ScenarioDraft.build(key, name="Mine", market_factors={"default_multiplier": 2.0})
    (issue,) = info.value.issues
    assert (issue.row, issue.column, issue.value, issue.rule) == (None, "key", key, _rule(suggested))
    assert str(info.value).startswith(f"custom scenario {key!r}: 1 problem found; nothing was stored")


def test_my_bad_key_reads_clearly():
    """The issue's own example, as the app shows it (head line, then field, value, rule)."""
    with pytest.raises(ValidationError) as info:
        ScenarioDraft.build("my bad key!", name="Mine")
    assert str(info.value) == (
        "custom scenario 'my bad key!': 1 problem found; nothing was stored. Fix these and try "
        "again:\n  - field 'key' (value 'my bad key!'): a key holds only lower-case letters "
        "a–z, digits 0–9 and _, and starts with a letter; write it e.g. as 'my_bad_key'")
    assert info.value.to_records() == [{"row": None, "column": "key", "value": "my bad key!",
                                        "rule": _rule("my_bad_key")}]


def test_every_way_in_refuses_the_same_key_with_the_same_rule(store):
    key, rule = "my bad key!", _rule("my_bad_key")
    scenario = {"name": "Mine", "market_factors": {"default_multiplier": 2.0}}
    with pytest.raises(ValidationError) as from_file:  # the CLI's --custom and the app's import
        parse_custom_scenarios({key: scenario}, subject="scenario file 'mine.json'")
    with pytest.raises(ValidationError) as from_request:  # a stress run's request
        StressRunRequest.build(pool_id="p", custom_scenarios={key: scenario})
    with pytest.raises(ValidationError) as from_import:
        wf.import_scenarios(json.dumps({key: scenario}).encode(), name="mine.json", store=store)
    for info in (from_file, from_request, from_import):
        (issue,) = info.value.issues
        assert (issue.value, issue.rule) == (key, rule)
    with pytest.raises(ScenarioError, match="write it e.g. as 'my_bad_key'"):
        wf.save_scenario(key, scenario=make_scenario("Mine"), store=store)
    assert wf.custom_scenarios(store=store) == {}


def test_the_http_body_refuses_the_key():
    from pydantic import ValidationError as PydanticValidationError

    body = {"request": {"pool": {"pool_id": "p"}},
            "custom_scenarios": {"My Key": {"market_factors": {"default_multiplier": 2.0}}}}
    with pytest.raises(PydanticValidationError) as info:
        StressTestBody.model_validate(body)
    (err,) = info.value.errors()
    assert err["msg"] == _rule("my_key") and err["input"] == "My Key"


def test_the_length_limit_is_unchanged():
    assert MAX_KEY_CHARS == 120
    assert custom_key_problem("k" * 120) is None
    assert custom_key_problem("k" * 121) == "a key holds at most 120 characters; this one holds 121"


def test_a_shadowing_key_still_gets_the_more_specific_reason():
    assert "reads as 'base' and would shadow a built-in key" in custom_key_problem("Base")
    assert "reads as 'credit_crisis'" in custom_key_problem("credit-crisis")


def test_every_bundled_key_follows_the_rule():
    keys = list(builtin_scenarios())
    assert keys == ["base", "rate_shock_up", "rate_shock_down", "credit_crisis",
                    "liquidity_crisis", "housing_boom", "housing_bust", "fed_2025_baseline",
                    "fed_2025_severely_adverse", "fed_2025_baseline_path",
                    "fed_2025_severely_adverse_path"]
    assert all(KEY_PATTERN.fullmatch(k) for k in [*keys, "all"])


def test_the_form_strips_the_blanks_a_user_typed():
    assert ScenarioDraft.build("  my_recession ").key == "my_recession"


def test_an_empty_key_is_refused_by_the_form():
    with pytest.raises(ValidationError) as info:
        ScenarioDraft.build("   ")
    assert info.value.issues[0].column == "key"
    assert "needs a key" in info.value.issues[0].rule


def test_the_form_reports_the_key_and_a_factor_at_once():
    with pytest.raises(ValidationError) as info:
        ScenarioDraft.build("Mine!", market_factors={"default_multiplier": 9.0})
    assert [(i.column, i.value) for i in info.value.issues] == [
        ("key", "Mine!"), ("market_factors.default_multiplier", 9.0)]
    assert info.value.issues[1].rule == "outside its valid range 0.5 … 5"
    assert KEY_RULE in info.value.issues[0].rule


@pytest.mark.parametrize("text,key", [("my bad key!", "my_bad_key"), ("Credit Crisis", "my_credit_crisis"),
                                      ("2025 shock", "s_2025_shock"), ("!!!", "my_scenario"),
                                      ("Réduction des taux", "reduction_des_taux")])
def test_suggest_key(text, key):
    assert suggest_key(text) == key


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_a_suggested_key_is_always_accepted(text):
    assert custom_key_problem(suggest_key(text)) is None


# --------------------------------------------------------------------------- neutral scenarios

def test_a_scenario_that_changes_nothing_is_warned_about():
    neutral = make_scenario("Flat")
    assert neutral_warning("flat", neutral) == (
        "Scenario 'flat' changes nothing: every market factor is at its neutral value (0 for "
        "shocks and spreads, 1 for multipliers), so its results equal the base case. Move at "
        "least one factor for it to stress the pool.")


@pytest.mark.parametrize("factors", [{"default_multiplier": 1.01}, {"spread_widening": 0.0025},
                                     {"interest_rate_shock": -0.0001}])
def test_one_moved_factor_is_enough(factors):
    assert neutral_warning("mine", make_scenario("Mine", market_factors=factors)) is None


def test_neutral_factors_written_out_are_still_neutral():
    written = make_scenario("Flat", market_factors={"interest_rate_shock": 0, "default_multiplier": 1,
                                                    "recovery_multiplier": 1.0})
    assert neutral_warning("flat", written) is not None


def test_neutral_warnings_keep_the_order_and_skip_the_others():
    scenarios = {"b_flat": make_scenario("B"), "moves": make_scenario("M", market_factors={
        "default_multiplier": 2.0}), "a_flat": make_scenario("A")}
    warnings = neutral_warnings(scenarios)
    assert [w.split("'")[1] for w in warnings] == ["b_flat", "a_flat"]


def test_a_neutral_scenario_is_saved_not_refused(store):
    draft = ScenarioDraft.build("flat", name="Flat")
    assert draft.warning() is not None
    wf.save_scenario(draft.key, scenario=draft.to_scenario(), store=store)
    stored = wf.custom_scenarios(store=store)
    assert list(stored) == ["flat"] and stored["flat"].market_factors.named() == {}


def test_a_draft_without_a_name_is_named_after_its_key():
    draft = ScenarioDraft.build("deep_recession", market_factors={"default_multiplier": 3.0})
    assert draft.to_scenario().name == "deep_recession"
    assert draft.to_scenario().source == "custom"
    assert draft.warning() is None
