"""Stress scenarios: market factors, the predefined library, and the Federal Reserve translation.

A scenario moves six market factors; a factor not named is neutral (0 for shocks and spreads,
1 for multipliers). The predefined scenarios and the valid ranges of custom factors are those of
ARCHITECTURE.md ("Credit stress test"). The two Federal Reserve scenarios are derived from the
Board's 2025 supervisory tables by :func:`translate_fed_scenario`, whose rule is stated there.

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

import csv
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic import field_validator
from pydantic_core import PydanticCustomError

from engine.bundled import data_file
from engine.errors import InputError, Issue, ScenarioError, ValidationError

__all__ = [
    "FACTOR_RANGES",
    "FACTOR_HELP",
    "MarketFactors",
    "Scenario",
    "monthly_factors",
    "PREDEFINED_SCENARIOS",
    "FedTranslation",
    "translate_fed_scenario",
    "fed_scenarios",
    "fed_translations",
    "FED_RULE",
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


class MarketFactors(BaseModel):
    """The six market factors of a scenario, each within :data:`FACTOR_RANGES`.

    A factor is a strict number: an ``int`` or a ``float`` (an integer such as ``2`` is read as
    ``2.0``); ``True``/``False``, text such as ``"2"`` and ``None`` are refused, as is NaN or
    an infinity (outside every range).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    interest_rate_shock: float = _bounded("interest_rate_shock")
    discount_rate_shock: float = _bounded("discount_rate_shock")
    default_multiplier: float = _bounded("default_multiplier")
    recovery_multiplier: float = _bounded("recovery_multiplier")
    prepayment_multiplier: float = _bounded("prepayment_multiplier")
    spread_widening: float = _bounded("spread_widening")

    @field_validator("*", mode="before")
    @classmethod
    def _strict_number_in_range(cls, value: Any, info: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PydanticCustomError("factor_type", "must be a number such as 2 or 0.03, not {kind}",
                                      {"kind": _json_kind(value)})
        lo, hi = FACTOR_RANGES[info.field_name]
        if not lo <= value <= hi:  # NaN fails too; a huge int is compared without overflow
            raise PydanticCustomError("factor_range", "outside its valid range {lo} … {hi}",
                                      {"lo": f"{lo:g}", "hi": f"{hi:g}"})
        return float(value)

    def named(self) -> dict[str, float]:
        """Only the factors that differ from neutral (how scenarios are written)."""
        return {k: v for k, v in self.model_dump().items() if v != _NEUTRAL[k]}


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


def monthly_factors(scenario: Scenario, n_months: int) -> dict[str, np.ndarray]:
    """Each market factor of ``scenario`` month by month.

    Parameters
    ----------
    scenario : Scenario
    n_months : int
        Months wanted, >= 0; month ``k`` (1-based) is entry ``k - 1``.

    Returns
    -------
    dict of str to ndarray of shape (n_months,)
        One float64 array per factor of :data:`FACTOR_RANGES`, in its own unit (decimal
        shocks and spreads, multipliers). A scenario with constant factors gives constant arrays.
    """
    return {name: np.full(n_months, value, dtype=np.float64)
            for name, value in scenario.market_factors.model_dump().items()}


#: The fields of a custom scenario written as JSON.
SCENARIO_FIELDS: tuple[str, ...] = ("name", "description", "market_factors")


def _rule(err: Any) -> str:
    """A pydantic error about a scenario as a rule that says what to fix."""
    loc, kind = err["loc"], err["type"]
    if kind == "extra_forbidden":
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
_FED_FILES = {
    "fed_2025_baseline": ("2025-Table_2A_Supervisory_Baseline_Domestic.csv",
                          "Fed 2025 Supervisory Baseline"),
    "fed_2025_severely_adverse": ("2025-Table_3A_Supervisory_Severely_Adverse_Domestic.csv",
                                  "Fed 2025 Supervisory Severely Adverse"),
}
_HISTORIC_FILE = "2025-Table_1A_Historic_Domestic.csv"


class FedTranslation(BaseModel):
    """The figures a Federal Reserve scenario was translated from, and the factors it gave."""

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
    rule: str


FED_RULE = (
    "Jump-off = the last actual quarter (2024 Q4, Table 1A). "
    "interest_rate_shock = the largest move (either sign) of the 5-year Treasury yield from "
    "jump-off over the 13 projected quarters, in decimal. "
    "default_multiplier = peak unemployment rate / jump-off unemployment rate. "
    "recovery_multiplier = trough House Price Index / jump-off HPI, capped at 1 (a rise in house "
    "prices does not lift recoveries). "
    "spread_widening = peak (BBB corporate yield − 10-year Treasury yield) − jump-off spread, "
    "floored at 0. prepayment_multiplier and discount_rate_shock are neutral: the scenario "
    "tables give no prepayment variable, and falling rates (more refinancing) and rising "
    "unemployment (less) pull in opposite directions. Each factor is clipped to its valid range."
)


def _read_quarters(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _clip(name: str, value: float) -> float:
    lo, hi = FACTOR_RANGES[name]
    return round(min(max(value, lo), hi), 6)


def translate_fed_scenario(
    scenario_rows: list[dict[str, str]], *, jump_off: dict[str, str], scenario: str
) -> FedTranslation:
    """Translate a Fed supervisory path into StressLab market factors by :data:`FED_RULE`.

    Parameters
    ----------
    scenario_rows : list of dict
        The scenario table's quarters (columns as in the Board's Table 2A/3A), percent units.
    jump_off : dict
        The last actual quarter (Table 1A), same columns.
    scenario : str
        Its name, for the record.

    Returns
    -------
    FedTranslation
        The inputs read and the resulting factors.

    References
    ----------
    Board of Governors of the Federal Reserve System, "2025 Stress Test Scenarios" (Feb 2025),
    Tables 1A, 2A and 3A.
    """
    def col(rows: list[dict[str, str]], name: str) -> list[float]:
        return [float(r[name]) for r in rows]

    t5_0 = float(jump_off["5-year Treasury yield"])
    t5 = col(scenario_rows, "5-year Treasury yield")
    moves = [v - t5_0 for v in t5]
    peak_move = max(moves, key=abs)
    u0 = float(jump_off["Unemployment rate"])
    u_peak = max(col(scenario_rows, "Unemployment rate"))
    hpi0 = float(jump_off["House Price Index (Level)"])
    hpi_trough = min(col(scenario_rows, "House Price Index (Level)"))
    spread0 = float(jump_off["BBB corporate yield"]) - float(jump_off["10-year Treasury yield"])
    spreads = [b - t for b, t in zip(col(scenario_rows, "BBB corporate yield"),
                                     col(scenario_rows, "10-year Treasury yield"), strict=True)]
    spread_peak = max(spreads)
    factors = MarketFactors(
        interest_rate_shock=_clip("interest_rate_shock", peak_move / 100.0),
        default_multiplier=_clip("default_multiplier", u_peak / u0),
        recovery_multiplier=_clip("recovery_multiplier", min(hpi_trough / hpi0, 1.0)),
        spread_widening=_clip("spread_widening", max(spread_peak - spread0, 0.0) / 100.0),
    )
    return FedTranslation(
        scenario=scenario,
        jump_off_quarter=jump_off["Date"],
        horizon=f"{scenario_rows[0]['Date']} – {scenario_rows[-1]['Date']}",
        treasury_5y_jump_off=t5_0,
        treasury_5y_peak_move_pp=round(peak_move, 6),
        unemployment_jump_off=u0,
        unemployment_peak=u_peak,
        house_price_jump_off=hpi0,
        house_price_trough=hpi_trough,
        bbb_spread_jump_off_pp=round(spread0, 6),
        bbb_spread_peak_pp=round(spread_peak, 6),
        market_factors=factors,
        rule=FED_RULE,
    )


@lru_cache(maxsize=1)
def fed_translations() -> dict[str, FedTranslation]:
    """The two 2025 supervisory scenarios translated from the bundled tables, by key.

    Raises
    ------
    StoreError
        If a bundled table is missing (see :func:`engine.bundled.data_file`).
    """
    historic = _read_quarters(data_file(_FED_FOLDER, _HISTORIC_FILE))
    jump_off = historic[-1]
    out = {}
    for key, (fname, name) in _FED_FILES.items():
        out[key] = translate_fed_scenario(_read_quarters(data_file(_FED_FOLDER, fname)), jump_off=jump_off,
                                          scenario=name)
    return out


def fed_scenarios() -> dict[str, Scenario]:
    """The Federal Reserve 2025 Baseline and Severely Adverse scenarios as StressLab scenarios."""
    out = {}
    for key, tr in fed_translations().items():
        f = tr.market_factors
        desc = (f"Translated from the Board's 2025 tables ({tr.horizon}, jump-off "
                f"{tr.jump_off_quarter}): 5-year Treasury peak move {tr.treasury_5y_peak_move_pp:+.1f}pp, "
                f"unemployment {tr.unemployment_jump_off:.1f}% → {tr.unemployment_peak:.1f}%, "
                f"house prices trough {tr.house_price_trough / tr.house_price_jump_off - 1:+.1%}.")
        out[key] = Scenario(name=tr.scenario, description=desc, market_factors=f,
                            source="federal_reserve")
    return out


def builtin_scenarios() -> dict[str, Scenario]:
    """The seven predefined scenarios then the two Federal Reserve ones, by key."""
    return {**PREDEFINED_SCENARIOS, **fed_scenarios()}


# --------------------------------------------------------------------------- custom scenarios

#: Keys no custom scenario may take: every predefined and Federal Reserve key, and ``all``
#: (which stands for the whole library).
RESERVED_KEYS: frozenset[str] = frozenset({*PREDEFINED_SCENARIOS, *_FED_FILES, "all"})
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
