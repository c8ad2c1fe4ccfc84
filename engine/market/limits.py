"""Limits configuration: a YAML file validated into a frozen pydantic model.

Example (the shipped default is ``engine/market/data/limits.yaml``)::

    mode: monitoring                 # monitoring | gradual | full
    false_positive_threshold_per_week: 1.0
    capital: 2000000                 # currency; leverage = gross exposure / capital
    limits:
      var:
        - {confidence: 0.99, max: 150000, action: throttle}
      stress_loss: {max: 1500000, action: reduce_position}
      scenario_failures: {max: 1, action: halt}
      tail_ratio: {max: 1.6, action: warn}
    sensors:
      concentration: {max: 0.15, action: warn}
      ...

Actions, least to most severe: none, warn, throttle, reduce_position, halt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from engine.errors import InputError, Issue, ValidationError

__all__ = [
    "ACTIONS",
    "DEFAULT_LIMITS",
    "MODES",
    "Action",
    "LimitsConfig",
    "Mode",
    "Rule",
    "VaRLimit",
    "load_default_limits",
    "load_limits",
    "parse_limits",
]

Action = Literal["none", "warn", "throttle", "reduce_position", "halt"]
Mode = Literal["monitoring", "gradual", "full"]
#: Actions ordered by severity.
ACTIONS: tuple[str, ...] = ("none", "warn", "throttle", "reduce_position", "halt")
MODES: tuple[str, ...] = ("monitoring", "gradual", "full")
DEFAULT_LIMITS = Path(__file__).resolve().parent / "data" / "limits.yaml"


class Rule(BaseModel):
    """A threshold and the action taken when the metric exceeds it (breach: metric > max)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max: float = Field(ge=0)
    action: Action


class VaRLimit(Rule):
    """A VaR limit in currency at one confidence."""

    confidence: float = Field(gt=0, lt=1)
    max: float = Field(gt=0)


class MarketLimits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    var: list[VaRLimit] = Field(min_length=1)
    stress_loss: Rule
    scenario_failures: Rule
    tail_ratio: Rule

    @field_validator("var")
    @classmethod
    def _unique(cls, v: list[VaRLimit]) -> list[VaRLimit]:
        seen = [x.confidence for x in v]
        if len(seen) != len(set(seen)):
            raise ValueError("two VaR limits share a confidence")
        return v


class SensorRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    concentration: Rule
    leverage: Rule
    liquidity: Rule
    correlation_breakdown: Rule
    volatility_spike: Rule
    drawdown: Rule
    turnover: Rule


class LimitsConfig(BaseModel):
    """Every limit and sensor threshold, the default mode and the false-positive policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Mode = "monitoring"
    false_positive_threshold_per_week: float = Field(default=1.0, gt=0)
    false_positive_window_days: int = Field(default=28, ge=7)
    min_observation_days: int = Field(default=7, ge=0)
    var_method: Literal["historical", "parametric", "cornish_fisher", "monte_carlo"] = "historical"
    var_window: int = Field(default=500, ge=20)
    es_confidence: float = Field(default=0.975, gt=0, lt=1)
    capital: float = Field(default=2_000_000.0, gt=0)
    participation_rate: float = Field(default=0.10, gt=0, le=1)
    default_adv: float = Field(default=50_000_000.0, gt=0)
    short_window: int = Field(default=20, ge=5)
    long_window: int = Field(default=250, ge=20)
    drawdown_window: int = Field(default=250, ge=2)
    limits: MarketLimits
    sensors: SensorRules


def _issues(exc: PydanticValidationError) -> list[Issue]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        value = err.get("input")
        if isinstance(value, (dict, list)):
            value = None
        out.append(Issue(None, loc or None, value, err["msg"]))
    return out


def parse_limits(data: Any, *, subject: str = "limits") -> LimitsConfig:
    """Validate a parsed YAML mapping into :class:`LimitsConfig`.

    Raises
    ------
    ValidationError
        Every unknown key, unknown action or mode, and out-of-range threshold, by field path.
    """
    if not isinstance(data, dict):
        raise ValidationError([Issue(None, None, type(data).__name__,
                                     "the limits file must be a YAML mapping")], subject=subject)
    try:
        return LimitsConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(_issues(exc), subject=subject) from None


def load_limits(source: str | Path | bytes, *, subject: str | None = None) -> LimitsConfig:
    """Read a limits YAML file (path, or its bytes/text) with ``yaml.safe_load`` and validate it.

    Raises
    ------
    InputError
        Missing file or malformed YAML (with the line and column).
    ValidationError
        Invalid content (see :func:`parse_limits`).
    """
    import yaml

    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.endswith((".yaml", ".yml"))):
        path = Path(source)
        subj = subject or f"limits file {path.name}"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise InputError(f"{subj}: file not found: {path}") from exc
    else:
        subj = subject or "limits"
        text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"{subj}: malformed YAML{where}: {problem}; nothing was stored") from None
    return parse_limits(data, subject=subj)


def load_default_limits() -> LimitsConfig:
    """The limits shipped with the engine (``engine/market/data/limits.yaml``)."""
    return load_limits(DEFAULT_LIMITS)
