"""Fuzzing the scenario loader: hostile scenario files, raw bytes, Python values and requests
give scenarios or an engine error, never anything else; what is accepted is always valid
(issue 9, "Done when": fuzzing; findings 3 and 5)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine.credit.workflow as wf
from engine.credit._scenarios import FACTOR_RANGES, RESERVED_KEYS, custom_key_problem, make_scenario
from engine.credit._views import scenarios_from_json
from engine.credit.workflow import StressRunRequest
from engine.store import Store

from .strategies import (
    FACTOR_VALUES,
    FUZZ,
    JSON_SCALARS,
    JSON_VALUES,
    dumps,
    engine_errors_only,
    scenario_documents,
)


def assert_valid(scenarios) -> None:
    for key, sc in scenarios.items():
        assert custom_key_problem(key) is None and key not in RESERVED_KEYS
        for name, value in sc.market_factors.model_dump().items():
            lo, hi = FACTOR_RANGES[name]
            assert type(value) is float and math.isfinite(value) and lo <= value <= hi
        assert sc.source == "custom" and 1 <= len(sc.name) <= 120


@settings(FUZZ, max_examples=500)
@given(scenario_documents())
def test_a_hostile_scenario_file_is_read_or_refused(doc):
    scenarios = engine_errors_only(scenarios_from_json, dumps(doc), name="fuzz.json")
    if scenarios is not None:
        assert_valid(scenarios)


@settings(FUZZ, max_examples=300)
@given(st.one_of(st.binary(max_size=300),
                 st.binary(max_size=100).map(lambda b: b'{"mine": {"market_factors": ' + b)))
def test_raw_bytes_as_a_scenario_file_are_read_or_refused(data):
    scenarios = engine_errors_only(scenarios_from_json, data, name="fuzz.json")
    if scenarios is not None:
        assert_valid(scenarios)


@settings(FUZZ, max_examples=200)
@given(st.one_of(st.text(max_size=130), JSON_SCALARS), st.one_of(st.text(max_size=20), JSON_SCALARS),
       st.one_of(st.dictionaries(st.text(max_size=24), FACTOR_VALUES, max_size=6), JSON_VALUES))
def test_make_scenario_builds_a_valid_scenario_or_refuses(name, description, factors):
    sc = engine_errors_only(make_scenario, name, description=description, market_factors=factors)
    if sc is not None:
        assert all(math.isfinite(v) for v in sc.market_factors.model_dump().values())
        assert all(type(v) is float for v in sc.market_factors.model_dump().values())


@settings(FUZZ, max_examples=200)
@given(scenario_documents())
def test_a_request_with_hostile_custom_scenarios_is_built_or_refused(doc):
    request = engine_errors_only(StressRunRequest.build, pool_id="p", custom_scenarios=doc)
    if request is not None:
        assert_valid({k: sc.to_scenario(k) for k, sc in request.custom_scenarios.items()})


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb", timeout=5.0)


@settings(FUZZ, max_examples=100)
@given(scenario_documents())
def test_import_stores_every_scenario_or_none(store, doc):
    before = wf.custom_scenarios(store=store)
    keys = engine_errors_only(wf.import_scenarios, dumps(doc), name="fuzz.json", store=store)
    after = wf.custom_scenarios(store=store)
    if keys is None:
        assert after == before  # nothing half-written
    else:
        assert set(keys) <= set(after)
        assert_valid(after)
        assert wf.scenario_library(store=store)["base"].name == "Base Case"
