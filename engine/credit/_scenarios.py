"""Stress scenarios: market factors, the predefined library, and the Federal Reserve translation.

A scenario moves six market factors; a factor not named is neutral (0 for shocks and spreads,
1 for multipliers). The predefined scenarios and the valid ranges of custom factors are those of
ARCHITECTURE.md ("Credit stress test"). The two Federal Reserve scenarios are derived from the
Board's 2025 supervisory tables by :func:`translate_fed_scenario`, whose rule is stated there.

**Paths.** A scenario's factors may move month by month: ``market_factors.path`` holds, for
some factors, one value per step of ``step_months`` months (:class:`FactorPath`). The rule
(:data:`PATH_RULE`): each step's value is held for its months (a quarterly path holds each
quarter's value for its three months, no interpolation), and after the last step its last value
is held. A factor without a path is constant, as before. For a factor with a path, the scalar
field holds the path's headline value (:func:`headline`, its most severe step), which
tables show; the engine applies the path (:func:`monthly_factors`). The Federal Reserve tables
give each scenario twice: by its peak (constant factors, ``fed_2025_severely_adverse``) and as
its 13-quarter path (``fed_2025_severely_adverse_path``), so both readings can be compared.

Custom scenarios written as JSON (a file, a request) are read strictly by
:func:`parse_custom_scenarios`: every factor is a JSON number (an integer such as ``2`` is read
as ``2.0``; ``true``, ``"2"`` and ``null`` are refused), every unknown field or factor is
refused by name, and a key may not shadow a built-in scenario (:func:`custom_key_problem`).

A custom scenario key is written in lower-case letters, digits and ``_``, starting with a letter
(:data:`KEY_PATTERN`), so it reads the same in a URL, a file name, a request and a command line.
A scenario whose factors are all neutral is accepted but changes nothing; the front ends say so
(:func:`neutral_warning`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic import field_validator, model_serializer, model_validator
from pydantic_core import PydanticCustomError

from engine.errors import InputError, Issue, ScenarioError, ValidationError

__all__ = [
    "FACTOR_RANGES",
    "FACTOR_HELP",
    "MarketFactors",
    "FactorPath",
    "PATH_RULE",
    "MAX_PATH_STEPS",
    "headline",
    "Scenario",
    "monthly_factors",
    "path_months",
    "PREDEFINED_SCENARIOS",
    "FedTranslation",
    "translate_fed_scenario",
    "fed_scenarios",
    "fed_translations",
    "FED_RULE",
    "FED_KEYS",
    "builtin_scenarios",
    "make_scenario",
    "SCENARIO_FIELDS",
    "RESERVED_KEYS",
    "MAX_KEY_CHARS",
    "KEY_PATTERN",
    "KEY_RULE",
    "custom_key_problem",
    "suggest_key",
    "neutral_warning",
    "neutral_warnings",
    "check_custom_key",
    "CustomKey",
    "CustomScenario",
    "parse_custom_scenarios",
]

#: Valid range of each factor, inclusive (ARCHITECTURE.md).
FACTOR_RANGES: dict[str, tuple[float, float]] = {
    "interest_rate_shock": (-0.05, 0.10),
    "discount_rate_shock": (-0.05, 0.10),
    "default_multiplier": (0.5, 5.0),
    "recovery_multiplier": (0.2, 1.5),
    "prepayment_multiplier": (0.2, 3.0),
    "spread_widening": (0.0, 0.20),
}

#: What each factor does, for forms and docs.
FACTOR_HELP: dict[str, str] = {
    "interest_rate_shock": "Parallel move in rates, decimal (0.03 = +300bp). Moves floating-rate "
    "coupons (floored at 0) and the discount yield.",
    "discount_rate_shock": "Extra move in the discount yield only, decimal.",
    "default_multiplier": "Multiplies each loan's monthly default rate (MDR), capped at 1.",
    "recovery_multiplier": "Multiplies each loan's recovery rate, capped at 1.",
    "prepayment_multiplier": "Multiplies each loan's monthly prepayment rate (SMM), capped at 1.",
    "spread_widening": "Credit spread added to the discount yield, decimal (0.05 = +500bp).",
}

_NEUTRAL = {
    "interest_rate_shock": 0.0,
    "discount_rate_shock": 0.0,
    "default_multiplier": 1.0,
    "recovery_multiplier": 1.0,
    "prepayment_multiplier": 1.0,
    "spread_widening": 0.0,
}


def _bounded(name: str) -> Any:
    lo, hi = FACTOR_RANGES[name]
    return Field(default=_NEUTRAL[name], ge=lo, le=hi, description=FACTOR_HELP[name],
                 allow_inf_nan=False)


def _json_kind(value: Any) -> str:
    """What a non-number is, in the words of JSON ("true/false", "text", …)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: How a path's steps become months (the one rule; :func:`monthly_factors` applies it).
PATH_RULE = ("Each step's value is held for the months of its step (a quarterly path holds "
             "each quarter's value for its three months; no interpolation); after the last "
             "step the last value is held for the rest of the projection.")
#: Most steps a factor's path may hold (600 months at one step a month).
MAX_PATH_STEPS = 600


def _check_factor_value(name: str, value: Any) -> float:
    """``value`` as a float if it is a strict number within ``name``'s range, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PydanticCustomError("factor_type", "must be a number such as 2 or 0.03, not {kind}",
                                  {"kind": _json_kind(value)})
    lo, hi = FACTOR_RANGES[name]
    if not lo <= value <= hi:  # NaN fails too; a huge int is compared without overflow
        raise PydanticCustomError("factor_range", "outside its valid range {lo} … {hi}",
                                  {"lo": f"{lo:g}", "hi": f"{hi:g}"})
    return float(value)


def headline(name: str, values: tuple[float, ...]) -> float:
    """The value of a factor's path that tables show: its most severe step.

    ``default_multiplier`` and ``spread_widening``: the largest; ``recovery_multiplier``: the
    smallest; the two rate shocks: the largest move of either sign; ``prepayment_multiplier``
    (no adverse direction): the farthest from 1. Ties go to the earliest step. For the Federal
    Reserve paths this is the peak reading of :data:`FED_RULE`.

    Parameters
    ----------
    name : str
        A factor of :data:`FACTOR_RANGES`.
    values : tuple of float
        The path's steps, non-empty.
    """
    if name in ("default_multiplier", "spread_widening"):
        return max(values)
    if name == "recovery_multiplier":
        return min(values)
    neutral = _NEUTRAL[name]
    return max(values, key=lambda v: abs(v - neutral))


class FactorPath(BaseModel):
    """Month-by-month values of some factors, written as steps (see :data:`PATH_RULE`).

    Attributes
    ----------
    step_months : int
        Months per step, 1 … 12 (3 for a quarterly path such as the Federal Reserve's).
    factors : dict of str to tuple of float
        Factor → its value at each step, 1 … :data:`MAX_PATH_STEPS` steps, each a strict number
        within the factor's range (:data:`FACTOR_RANGES`). At least one factor.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    step_months: int = Field(default=1, ge=1, le=12, strict=True)
    factors: dict[str, tuple[float, ...]]

    @field_validator("factors", mode="before")
    @classmethod
    def _strict_steps(cls, value: Any) -> dict[str, tuple[float, ...]]:
        if not isinstance(value, dict):
            raise PydanticCustomError(
                "path_type", "must be an object of factor → list of numbers, e.g. "
                '{{"default_multiplier": [1.0, 1.5, 2.0]}}, not {kind}', {"kind": _json_kind(value)})
        if not value:
            raise PydanticCustomError("path_empty", "a path names at least one factor")
        out = {}
        for name, steps in value.items():
            if name not in FACTOR_RANGES:
                raise PydanticCustomError(
                    "path_factor", "unknown market factor {name}; valid factors: {valid}",
                    {"name": repr(_shown(name)), "valid": ", ".join(FACTOR_RANGES)})
            if not isinstance(steps, (list, tuple)):
                raise PydanticCustomError("path_steps", "{name} must be a list of numbers, not "
                                          "{kind}", {"name": name, "kind": _json_kind(steps)})
            if not 1 <= len(steps) <= MAX_PATH_STEPS:
                raise PydanticCustomError(
                    "path_length", "{name} holds {n} steps; a path holds 1 … {most}",
                    {"name": name, "n": len(steps), "most": MAX_PATH_STEPS})
            checked = []
            for i, v in enumerate(steps, start=1):
                try:
                    checked.append(_check_factor_value(name, v))
                except PydanticCustomError as exc:
                    raise PydanticCustomError(
                        "path_step", "{name} step {step} (value {value}): {rule}",
                        {"name": name, "step": i, "value": repr(_shown(v)),
                         "rule": exc.message()}) from None
            out[name] = tuple(checked)
        return out

    def monthly(self, name: str, n_months: int) -> np.ndarray:
        """Factor ``name``'s path month by month, shape (n_months,), by :data:`PATH_RULE`."""
        steps = np.repeat(np.asarray(self.factors[name], dtype=np.float64), self.step_months)
        if steps.size >= n_months:
            return steps[:n_months].copy()
        return np.concatenate([steps, np.full(n_months - steps.size, steps[-1])])


class MarketFactors(BaseModel):
    """The six market factors of a scenario, each within :data:`FACTOR_RANGES`, and an optional
    path.

    A factor is a strict number: an ``int`` or a ``float`` (an integer such as ``2`` is read as
    ``2.0``); ``True``/``False``, text such as ``"2"`` and ``None`` are refused, as is NaN or
    an infinity (outside every range).

    ``path`` (a :class:`FactorPath`) makes some factors move month by month. For each factor it
    names, the scalar field is set to the path's :func:`headline`; a scalar given that differs
    from it is refused (give a number or a path, not two values). Without a path the model and
    its dump are exactly the six numbers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interest_rate_shock: float = _bounded("interest_rate_shock")
    discount_rate_shock: float = _bounded("discount_rate_shock")
    default_multiplier: float = _bounded("default_multiplier")
    recovery_multiplier: float = _bounded("recovery_multiplier")
    prepayment_multiplier: float = _bounded("prepayment_multiplier")
    spread_widening: float = _bounded("spread_widening")
    path: FactorPath | None = Field(
        default=None, description="Month-by-month values of some factors (see PATH_RULE).")

    @field_validator(*FACTOR_RANGES, mode="before")
    @classmethod
    def _strict_number_in_range(cls, value: Any, info: Any) -> float:
        return _check_factor_value(info.field_name, value)

    @model_validator(mode="after")
    def _headlines_of_the_path(self) -> "MarketFactors":
        if self.path is None:
            return self
        for name, steps in self.path.factors.items():
            value = headline(name, steps)
            if name in self.model_fields_set and getattr(self, name) != value:
                raise PydanticCustomError(
                    "path_conflict", "{name} is given both as a number ({given}) and as a path "
                    "whose headline is {value}; give it one way",
                    {"name": name, "given": getattr(self, name), "value": value})
            self.__dict__[name] = value  # frozen model: set once, while validating
        return self

    @model_serializer(mode="wrap")
    def _dump_without_empty_path(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if self.path is None:
            data.pop("path", None)
        return data

    @property
    def is_path(self) -> bool:
        """True when some factor moves month by month."""
        return self.path is not None

    def constant(self) -> dict[str, float]:
        """The six scalar factors (a path's headlines for the factors it names)."""
        return {k: getattr(self, k) for k in FACTOR_RANGES}

    def named(self) -> dict[str, float]:
        """Only the factors that differ from neutral (how scenarios are written)."""
        return {k: v for k, v in self.constant().items() if v != _NEUTRAL[k]}


#: Longest scenario name, characters.
MAX_NAME_CHARS = 120


class Scenario(BaseModel):
    """A named set of market factors; ``source`` says where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS, strict=True)
    description: str = Field(default="", strict=True)
    market_factors: MarketFactors = Field(default_factory=MarketFactors)
    source: Literal["predefined", "federal_reserve", "custom"] = "custom"

    @field_validator("name")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("a scenario needs a name")
        return v

    def response_dict(self) -> dict[str, Any]:
        """{name, description, market_factors} as in the response JSON (all six factors)."""
        return {"name": self.name, "description": self.description,
                "market_factors": self.market_factors.model_dump()}


def monthly_factors(scenario: Scenario | MarketFactors, n_months: int) -> dict[str, np.ndarray]:
    """Each market factor of ``scenario`` month by month.

    Parameters
    ----------
    scenario : Scenario or MarketFactors
    n_months : int
        Months wanted, >= 0; month ``k`` (1-based) is entry ``k - 1``.

    Returns
    -------
    dict of str to ndarray of shape (n_months,)
        One float64 array per factor of :data:`FACTOR_RANGES`, in its own unit (decimal
        shocks and spreads, multipliers). A factor without a path gives a constant array; one
        with a path follows it by :data:`PATH_RULE` (each step held for ``step_months`` months,
        the last value held after the path ends).
    """
    factors = scenario.market_factors if isinstance(scenario, Scenario) else scenario
    path = factors.path
    return {name: (path.monthly(name, n_months) if path is not None and name in path.factors
                   else np.full(n_months, value, dtype=np.float64))
            for name, value in factors.constant().items()}


def path_months(scenario: Scenario | MarketFactors) -> int:
    """Months a scenario's path covers (steps × ``step_months`` of its longest factor); 0 for
    constant factors. After them each factor holds its last value."""
    factors = scenario.market_factors if isinstance(scenario, Scenario) else scenario
    if factors.path is None:
        return 0
    return max(map(len, factors.path.factors.values())) * factors.path.step_months


#: The fields of a custom scenario written as JSON.
SCENARIO_FIELDS: tuple[str, ...] = ("name", "description", "market_factors")


def _rule(err: Any) -> str:
    """A pydantic error about a scenario as a rule that says what to fix."""
    loc, kind = err["loc"], err["type"]
    if kind == "extra_forbidden":
        if len(loc) >= 2 and loc[-2] == "path":
            return f"unknown field {loc[-1]!r}; a path has only step_months and factors"
        if len(loc) >= 2 and loc[-2] == "market_factors":
            return f"unknown market factor {loc[-1]!r}; valid factors: {', '.join(FACTOR_RANGES)}"
        return f"unknown field {loc[-1]!r}; a scenario has only {', '.join(SCENARIO_FIELDS)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        if loc and loc[-1] == "market_factors":
            return ("must be an object of factor → number, e.g. "
                    '{"default_multiplier": 2.0}')
        return "must be an object {name, description, market_factors}"
    if kind == "string_type":
        return "must be text"
    if kind == "missing" and loc and loc[-1] == "factors":
        return ('a path needs "factors": factor → list of numbers, e.g. '
                '{"step_months": 3, "factors": {"default_multiplier": [1.0, 2.0]}}')
    return str(err["msg"])


def _shown(value: Any, keep: int = 80) -> Any:
    """A value short enough to echo in a message (text, or the value itself when short)."""
    if value is None or isinstance(value, (bool, float)):
        return value
    text = value if isinstance(value, str) else str(value)
    if len(text) > keep:
        return text[:keep] + "…"
    return value if isinstance(value, (str, int)) else text


def _issues(exc: PydanticValidationError) -> list[Issue]:
    """Each pydantic error as an :class:`Issue`: the dotted field path, the value, the rule."""
    out = []
    for err in exc.errors(include_url=False):
        path = [str(p) for p in err["loc"] if p != "[key]"]
        out.append(Issue(row=None, column=".".join(path) or None, value=_shown(err.get("input")),
                         rule=_rule(err), where="field"))
    return out


def make_scenario(
    name: str, *, description: str = "", market_factors: dict[str, Any] | None = None,
    source: str = "custom",
) -> Scenario:
    """Build a scenario, turning any out-of-range, non-numeric or unknown factor into a clear
    error.

    Parameters
    ----------
    name : str
        1 … 120 characters once stripped.
    description : str
    market_factors : dict of str to number, optional
        Factor → value (see :data:`FACTOR_RANGES`); a factor not named is neutral. Values are
        strict numbers (an ``int`` is read as a ``float``; ``bool`` and text are refused).
    source : {"custom", "predefined", "federal_reserve"}

    Raises
    ------
    ScenarioError
        Naming each bad field or factor, its value and the rule: the factor's valid range, "must
        be a number", or the unknown factor and the valid names.
    """
    data = {"name": name, "description": description, "source": source,
            "market_factors": {} if market_factors is None else market_factors}
    try:
        return Scenario.model_validate(data)
    except PydanticValidationError as exc:
        problems = [f"{i.column or 'scenario'} = {i.value!r}: {i.rule}" for i in _issues(exc)]
        raise ScenarioError(f"scenario {_shown(name)!r}: " + "; ".join(problems)) from None


#: The seven predefined scenarios of ARCHITECTURE.md, by key.
PREDEFINED_SCENARIOS: dict[str, Scenario] = {
    "base": make_scenario("Base Case", description="Tape assumptions, no stress.",
                          source="predefined"),
    "rate_shock_up": make_scenario(
        "Rate Shock Up (+300bp)", source="predefined",
        description="Rates up 300bp: slower prepayment, somewhat more default.",
        market_factors={"interest_rate_shock": 0.03, "prepayment_multiplier": 0.7,
                        "default_multiplier": 1.2}),
    "rate_shock_down": make_scenario(
        "Rate Shock Down (−200bp)", source="predefined",
        description="Rates down 200bp: faster prepayment, slightly less default.",
        market_factors={"interest_rate_shock": -0.02, "prepayment_multiplier": 1.5,
                        "default_multiplier": 0.9}),
    "credit_crisis": make_scenario(
        "Credit Crisis", source="predefined",
        description="Defaults triple, recoveries fall 40 %, prepayment halves, rates +100bp.",
        market_factors={"default_multiplier": 3.0, "recovery_multiplier": 0.6,
                        "prepayment_multiplier": 0.5, "interest_rate_shock": 0.01}),
    "liquidity_crisis": make_scenario(
        "Liquidity Crisis", source="predefined",
        description="Spreads widen 500bp, refinancing dries up, defaults rise 80 %.",
        market_factors={"spread_widening": 0.05, "prepayment_multiplier": 0.4,
                        "default_multiplier": 1.8}),
    "housing_boom": make_scenario(
        "Housing Boom", source="predefined",
        description="Prepayment doubles, recoveries up 30 %, defaults down 30 %.",
        market_factors={"prepayment_multiplier": 2.0, "recovery_multiplier": 1.3,
                        "default_multiplier": 0.7}),
    "housing_bust": make_scenario(
        "Housing Bust", source="predefined",
        description="Recoveries halve, defaults ×2.5, prepayment falls 40 %.",
        market_factors={"recovery_multiplier": 0.5, "default_multiplier": 2.5,
                        "prepayment_multiplier": 0.6}),
}

#: Folder of the bundled Federal Reserve tables, under :func:`engine.bundled.data_dir`.
_FED_FOLDER = "fed_supervisory_scenarios_2025"
#: The built-in Federal Reserve keys: each scenario by its peak, then as its path.
FED_KEYS: tuple[str, ...] = ("fed_2025_baseline", "fed_2025_severely_adverse",
                             "fed_2025_baseline_path", "fed_2025_severely_adverse_path")


class FedTranslation(BaseModel):
    """The figures a Federal Reserve scenario was translated from, and the factors it gave.

    ``market_factors`` is the peak reading (constant factors); ``path`` the same rule applied
    quarter by quarter (one step per quarter of ``quarters``, three months each).
    """

    model_config = ConfigDict(frozen=True)

    scenario: str
    jump_off_quarter: str
    horizon: str
    treasury_5y_jump_off: float
    treasury_5y_peak_move_pp: float
    unemployment_jump_off: float
    unemployment_peak: float
    house_price_jump_off: float
    house_price_trough: float
    bbb_spread_jump_off_pp: float
    bbb_spread_peak_pp: float
    market_factors: MarketFactors
    quarters: tuple[str, ...]
    path: FactorPath
    rule: str


FED_RULE = (
    "Jump-off = the last actual quarter of the Historic Domestic table (2024 Q4 for the 2025 "
    "scenarios). Per projected quarter q: interest_rate_shock(q) = 5-year Treasury yield(q) − "
    "jump-off, in decimal; default_multiplier(q) = unemployment rate(q) / jump-off unemployment "
    "rate; recovery_multiplier(q) = min(House Price Index(q) / jump-off HPI, 1) (a rise in house "
    "prices does not lift recoveries); spread_widening(q) = max((BBB corporate yield(q) − "
    "10-year Treasury yield(q)) − jump-off spread, 0). Each is clipped to its valid range, at "
    "full precision. The peak reading (key without _path) takes one constant value per factor "
    "over the 13 quarters: the largest move (either sign) of the 5-year yield, the peak "
    "unemployment, the trough HPI, the widest spread. The path reading (key ending _path) "
    "applies each quarter's factors for its three months (held, not interpolated) and holds "
    "the last quarter's after the path ends. prepayment_multiplier and discount_rate_shock are "
    "neutral: the scenario tables give no prepayment variable, and falling rates (more "
    "refinancing) and rising unemployment (less) pull in opposite directions."
)


def _clip(name: str, value: float) -> float:
    """``value`` clipped to ``name``'s valid range, at full precision."""
    lo, hi = FACTOR_RANGES[name]
    return min(max(value, lo), hi)


def translate_fed_scenario(
    scenario_rows: list[dict[str, str]], *, jump_off: dict[str, str], scenario: str
) -> FedTranslation:
    """Translate a Fed supervisory path into StressLab market factors by :data:`FED_RULE`.

    Parameters
    ----------
    scenario_rows : list of dict
        The scenario table's quarters (columns as in the Board's Table 2A/3A), percent units,
        as text; checked numbers (see :func:`engine.credit._fed.read_fed_tables`).
    jump_off : dict
        The last actual quarter (Table 1A), same columns.
    scenario : str
        Its name, for the record.

    Returns
    -------
    FedTranslation
        The inputs read, the peak factors and the quarterly path.

    References
    ----------
    Board of Governors of the Federal Reserve System, "2025 Stress Test Scenarios" (Feb 2025),
    Tables 1A, 2A and 3A.
    """
    def col(name: str) -> list[float]:
        return [float(r[name]) for r in scenario_rows]

    t5_0 = float(jump_off["5-year Treasury yield"])
    moves = [v - t5_0 for v in col("5-year Treasury yield")]
    peak_move = max(moves, key=abs)
    u0 = float(jump_off["Unemployment rate"])
    unemployment = col("Unemployment rate")
    hpi0 = float(jump_off["House Price Index (Level)"])
    hpi = col("House Price Index (Level)")
    spread0 = float(jump_off["BBB corporate yield"]) - float(jump_off["10-year Treasury yield"])
    spreads = [b - t for b, t in zip(col("BBB corporate yield"), col("10-year Treasury yield"),
                                     strict=True)]
    spread_peak = max(spreads)
    factors = MarketFactors(
        interest_rate_shock=_clip("interest_rate_shock", peak_move / 100.0),
        default_multiplier=_clip("default_multiplier", max(unemployment) / u0),
        recovery_multiplier=_clip("recovery_multiplier", min(min(hpi) / hpi0, 1.0)),
        spread_widening=_clip("spread_widening", max(spread_peak - spread0, 0.0) / 100.0),
    )
    path = FactorPath(step_months=3, factors={
        "interest_rate_shock": [_clip("interest_rate_shock", m / 100.0) for m in moves],
        "default_multiplier": [_clip("default_multiplier", u / u0) for u in unemployment],
        "recovery_multiplier": [_clip("recovery_multiplier", min(h / hpi0, 1.0)) for h in hpi],
        "spread_widening": [_clip("spread_widening", max(sp - spread0, 0.0) / 100.0)
                            for sp in spreads],
    })
    return FedTranslation(
        scenario=scenario,
        jump_off_quarter=jump_off["Date"],
        horizon=f"{scenario_rows[0]['Date']} – {scenario_rows[-1]['Date']}",
        treasury_5y_jump_off=t5_0,
        treasury_5y_peak_move_pp=peak_move,
        unemployment_jump_off=u0,
        unemployment_peak=max(unemployment),
        house_price_jump_off=hpi0,
        house_price_trough=min(hpi),
        bbb_spread_jump_off_pp=spread0,
        bbb_spread_peak_pp=spread_peak,
        market_factors=factors,
        quarters=tuple(r["Date"] for r in scenario_rows),
        path=path,
        rule=FED_RULE,
    )


@lru_cache(maxsize=1)
def _bundled_fed() -> tuple[tuple[str, FedTranslation], ...]:
    from engine.bundled import data_dir
    from engine.credit._fed import read_fed_tables, translate_fed_tables

    tables = read_fed_tables(data_dir() / _FED_FOLDER)
    return tuple(translate_fed_tables(tables).items())


def fed_translations() -> dict[str, FedTranslation]:
    """The two 2025 supervisory scenarios translated from the bundled tables, by peak key.

    Read by the same loader as ``stresslab scenarios import-fed``
    (:func:`engine.credit._fed.read_fed_tables`), so the built-in scenarios are what an import
    of ``data/fed_supervisory_scenarios_2025`` gives.

    Raises
    ------
    StoreError
        If the bundled folder is missing (see :func:`engine.bundled.data_dir`).
    """
    return dict(_bundled_fed())


def fed_scenarios() -> dict[str, Scenario]:
    """The Federal Reserve 2025 Baseline and Severely Adverse scenarios, by peak then as paths
    (keys :data:`FED_KEYS`)."""
    from engine.credit._fed import fed_scenarios_from

    return fed_scenarios_from(fed_translations(), prefix="fed_2025")


def builtin_scenarios() -> dict[str, Scenario]:
    """The seven predefined scenarios then the two Federal Reserve ones, by key."""
    return {**PREDEFINED_SCENARIOS, **fed_scenarios()}


# --------------------------------------------------------------------------- custom scenarios

#: Keys no custom scenario may take: every predefined and Federal Reserve key, and ``all``
#: (which stands for the whole library).
RESERVED_KEYS: frozenset[str] = frozenset({*PREDEFINED_SCENARIOS, *FED_KEYS, "all"})
#: Longest custom scenario key, characters.
MAX_KEY_CHARS = 120
#: Longest description of a custom scenario read from JSON, characters.
MAX_DESCRIPTION_CHARS = 2_000


def _key_form(key: str) -> str:
    """``key`` as a reader would take it: NFKC, case folded, blanks and hyphens as ``_``."""
    return "_".join(unicodedata.normalize("NFKC", key).casefold().replace("-", " ").split())


_RESERVED_FORMS = {_key_form(k): k for k in RESERVED_KEYS}


#: What a custom scenario key holds: lower-case letters, digits and ``_``, a letter first.
KEY_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
#: :data:`KEY_PATTERN` in words, as messages and help texts give it.
KEY_RULE = ("a key holds only lower-case letters a–z, digits 0–9 and _, and starts with a "
            "letter")


def suggest_key(text: str) -> str:
    """A key that follows :data:`KEY_PATTERN`, made from ``text`` (a name, or a refused key).

    Letters are case-folded and reduced to a–z where NFKD gives one (``é`` → ``e``); every run of
    other characters becomes one ``_``; a key that would start with a digit gets ``s_`` in
    front, one that would shadow a built-in key ``my_``; an empty result is ``my_scenario``.
    The result is cut to :data:`MAX_KEY_CHARS`.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        A key for which :func:`custom_key_problem` gives None.

    Examples
    --------
    >>> suggest_key("my bad key!")
    'my_bad_key'
    >>> suggest_key("Credit Crisis")
    'my_credit_crisis'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text.casefold()).strip("_") or "my_scenario"
    if not key[0].isalpha():
        key = f"s_{key}"
    if _key_form(key) in _RESERVED_FORMS:
        key = f"my_{key}"
    return key[:MAX_KEY_CHARS].rstrip("_")


def custom_key_problem(key: str) -> str | None:
    """Why ``key`` cannot name a custom scenario, or None when it can.

    A key is refused when it is empty, longer than :data:`MAX_KEY_CHARS`, has blanks around it,
    holds a control or invisible character, reads as a key of :data:`RESERVED_KEYS` once
    case, width (NFKC), blanks and hyphens are set aside (``Base``, ``" base "``,
    ``credit-crisis``), so a custom scenario can never stand in for a built-in one, or does not
    follow :data:`KEY_PATTERN` (lower-case letters, digits and ``_``, a letter first:
    ``my bad key!`` is refused, ``my_bad_key`` accepted). The checks run in that order, so a
    key gets the most specific reason.

    Parameters
    ----------
    key : str

    Returns
    -------
    str or None
        The rule broken, worded for the user.
    """
    if not key.strip():
        return "a custom scenario needs a key (a short id such as 'my_recession')"
    if len(key) > MAX_KEY_CHARS:
        return f"a key holds at most {MAX_KEY_CHARS} characters; this one holds {len(key):,}"
    if key != key.strip():
        return "remove the blanks around the key"
    if any(unicodedata.category(c).startswith("C") for c in key):
        return "a key may not hold control or invisible characters; use letters, digits and _"
    taken = _RESERVED_FORMS.get(_key_form(key))
    if taken is not None:
        what = ("'all' stands for every library scenario" if taken == "all"
                else f"{taken!r} is a built-in scenario")
        same = "" if key == taken else f" reads as {taken!r} and"
        return (f"the key {key!r}{same} would shadow a built-in key: {what}. Custom scenarios may "
                f"not reuse a predefined or Federal Reserve key; rename it, e.g. "
                f"'my_{_key_form(key)}'")
    if KEY_PATTERN.fullmatch(key) is None:
        return f"{KEY_RULE}; write it e.g. as {suggest_key(key)!r}"
    return None


def check_custom_key(key: str) -> str:
    """``key`` stripped of surrounding blanks, if it may name a custom scenario.

    Used where a key is typed (the app's form) and where one is stored; a key inside a file or
    request is checked as written by :data:`CustomKey`.

    Raises
    ------
    ScenarioError
        If the stripped key breaks a rule of :func:`custom_key_problem`; the message names it.
    """
    stripped = key.strip() if isinstance(key, str) else key
    problem = custom_key_problem(stripped) if isinstance(stripped, str) else "a key must be text"
    if problem is not None:
        raise ScenarioError(f"custom scenario key {_shown(key)!r}: {problem}")
    return stripped


def _valid_key(key: str) -> str:
    problem = custom_key_problem(key)
    if problem is not None:
        raise PydanticCustomError("scenario_key", problem)
    return key


#: A custom scenario's key in a file or request: checked as written (:func:`custom_key_problem`).
CustomKey = Annotated[str, AfterValidator(_valid_key)]


def neutral_warning(key: str, scenario: Scenario) -> str | None:
    """The warning for a scenario that changes nothing, or None when a factor moves.

    A scenario whose six factors are all neutral (0 for shocks and spreads, 1 for multipliers)
    is valid, and its results equal the base case's; it is accepted with this warning, never
    refused.

    Parameters
    ----------
    key : str
        The scenario's key, named in the message.
    scenario : Scenario

    Returns
    -------
    str or None
        The warning, worded for the user.
    """
    if scenario.market_factors.named():
        return None
    return (f"Scenario {_shown(key)!r} changes nothing: every market factor is at its neutral "
            "value (0 for shocks and spreads, 1 for multipliers), so its results equal the base "
            "case. Move at least one factor for it to stress the pool.")


def neutral_warnings(scenarios: Mapping[str, Scenario]) -> list[str]:
    """:func:`neutral_warning` of each scenario that changes nothing, in the given order."""
    return [w for k, sc in scenarios.items() if (w := neutral_warning(k, sc)) is not None]


class CustomScenario(BaseModel):
    """One custom scenario as a user writes it in JSON: ``{name, description, market_factors}``.

    Every field is optional: ``name`` defaults to the key, ``description`` to empty and each
    factor to neutral. Unknown fields and unknown factors are refused by name; ``name`` and
    ``description`` must be text; factors are strict numbers (see :class:`MarketFactors`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=MAX_NAME_CHARS, strict=True)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS, strict=True)
    market_factors: MarketFactors = Field(default_factory=MarketFactors)

    def to_scenario(self, key: str) -> Scenario:
        """The scenario, named after ``key`` when it has no name of its own."""
        return Scenario(name=(self.name or "").strip() or key, description=self.description,
                        market_factors=self.market_factors, source="custom")


_CUSTOM_SCENARIOS = TypeAdapter(dict[CustomKey, CustomScenario])


def parse_custom_scenarios(data: Any, *, subject: str) -> dict[str, Scenario]:
    """Custom scenarios from parsed JSON: key → ``{name, description, market_factors}``.

    Parameters
    ----------
    data : any
        What :func:`engine.limits.parse_json` returned.
    subject : str
        Where the scenarios come from, for messages ("scenario file 'mine.json'").

    Returns
    -------
    dict of key to Scenario
        In the order given; ``source`` is ``custom``.

    Raises
    ------
    InputError
        If ``data`` is not a JSON object, or holds no scenario.
    ValidationError
        Every problem at once, each naming the key and field (``x.market_factors.
        default_multiplier``), the value and the rule: a key that shadows a built-in scenario or
        is blank, an entry that is not an object, an unknown field or factor, a name or
        description that is not text, a factor that is not a number or is out of its range.
    """
    if not isinstance(data, dict):
        raise InputError(f"{subject} must be a JSON object of key → {{name, description, "
                         f"market_factors}}; it holds {_json_kind(data)}")
    if not data:
        raise InputError(f"{subject} holds no scenario; write key → {{name, description, "
                         "market_factors}")
    try:
        entries = _CUSTOM_SCENARIOS.validate_python(data)
    except PydanticValidationError as exc:
        raise ValidationError(_issues(exc), subject=subject) from None
    return {key: entry.to_scenario(key) for key, entry in entries.items()}
