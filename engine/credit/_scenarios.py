"""Stress scenarios: market factors, the predefined library, and the Federal Reserve translation.

A scenario moves six market factors; a factor not named is neutral (0 for shocks and spreads,
1 for multipliers). The predefined scenarios and the valid ranges of custom factors are those of
ARCHITECTURE.md ("Credit stress test"). The two Federal Reserve scenarios are derived from the
Board's 2025 supervisory tables by :func:`translate_fed_scenario`, whose rule is stated there.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError as PydanticValidationError
from pydantic import field_validator

from engine.bundled import data_file
from engine.errors import ScenarioError

__all__ = [
    "FACTOR_RANGES",
    "FACTOR_HELP",
    "MarketFactors",
    "Scenario",
    "PREDEFINED_SCENARIOS",
    "FedTranslation",
    "translate_fed_scenario",
    "fed_scenarios",
    "fed_translations",
    "FED_RULE",
    "builtin_scenarios",
    "make_scenario",
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


class MarketFactors(BaseModel):
    """The six market factors of a scenario, each within :data:`FACTOR_RANGES`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interest_rate_shock: float = _bounded("interest_rate_shock")
    discount_rate_shock: float = _bounded("discount_rate_shock")
    default_multiplier: float = _bounded("default_multiplier")
    recovery_multiplier: float = _bounded("recovery_multiplier")
    prepayment_multiplier: float = _bounded("prepayment_multiplier")
    spread_widening: float = _bounded("spread_widening")

    def named(self) -> dict[str, float]:
        """Only the factors that differ from neutral (how scenarios are written)."""
        return {k: v for k, v in self.model_dump().items() if v != _NEUTRAL[k]}


class Scenario(BaseModel):
    """A named set of market factors; ``source`` says where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    description: str = ""
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


def make_scenario(
    name: str, *, description: str = "", market_factors: dict[str, Any] | None = None,
    source: str = "custom",
) -> Scenario:
    """Build a scenario, turning any out-of-range or unknown factor into a clear error.

    Raises
    ------
    ScenarioError
        Naming each bad factor, its value and its valid range, or the unknown factor and the
        valid names.
    """
    try:
        return Scenario(name=name, description=description,
                        market_factors=MarketFactors(**(market_factors or {})), source=source)
    except PydanticValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"][-1] if err["loc"] else "scenario"
            if loc in FACTOR_RANGES:
                lo, hi = FACTOR_RANGES[loc]
                problems.append(f"{loc} = {err.get('input')!r} is outside its valid range "
                                f"{lo:g} … {hi:g}")
            elif err["type"] == "extra_forbidden":
                problems.append(f"unknown market factor {loc!r}; valid factors: "
                                f"{', '.join(FACTOR_RANGES)}")
            else:
                problems.append(f"{loc}: {err['msg']}")
        raise ScenarioError(f"scenario {name!r}: " + "; ".join(problems)) from None


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
