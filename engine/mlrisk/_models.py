"""Pydantic models at the workbench's boundaries: handbook, thresholds, configuration, results.

The configuration of a check is separate from its calculation (``_metrics``, ``_drift``,
``_stress``) and from the artifacts that render it (``_artifacts``).
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from engine.canonical import canonical_json
from engine.errors import InputError, Issue, NotFoundError, ValidationError

__all__ = [
    "STRESS_TYPES",
    "Scenario",
    "Handbook",
    "Thresholds",
    "ValidationConfig",
    "METRIC_DIRECTIONS",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "parse_handbook",
    "parse_config",
    "issues_from_pydantic",
]

StressType = Literal["NOISE", "FEATURE_SHIFT", "MISSINGNESS", "OUT_OF_DISTRIBUTION", "SUBGROUP"]
STRESS_TYPES: tuple[str, ...] = (
    "NOISE", "FEATURE_SHIFT", "MISSINGNESS", "OUT_OF_DISTRIBUTION", "SUBGROUP",
)

#: Metric name -> True when higher is better. Names are the field's own, used everywhere.
METRIC_DIRECTIONS: dict[str, bool] = {
    "AUC": True,
    "accuracy": True,
    "Brier": False,
    "log_loss": False,
    "ECE": False,
    "RMSE": False,
    "MAE": False,
    "R2": True,
    "subgroup_delta": False,
}
CLASSIFICATION_METRICS: tuple[str, ...] = ("AUC", "accuracy", "Brier", "log_loss", "ECE")
REGRESSION_METRICS: tuple[str, ...] = ("RMSE", "MAE", "R2", "ECE")

_ID_PATTERN = r"^[A-Za-z0-9_.\-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoiseParameters(_Strict):
    """NOISE: add N(0, (std_dev_multiplier x std of the feature in the training split))^2."""

    feature: str = Field(min_length=1)
    std_dev_multiplier: float = Field(gt=0.0, le=10.0)


class ShiftParameters(_Strict):
    """FEATURE_SHIFT: ``x * (1 + shift_percentage)`` or ``x + shift_amount`` (exactly one)."""

    feature: str = Field(min_length=1)
    shift_percentage: float | None = Field(default=None, ge=-0.99, le=10.0)
    shift_amount: float | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ShiftParameters:
        if (self.shift_percentage is None) == (self.shift_amount is None):
            raise ValueError(
                "give exactly one of shift_percentage (multiplicative, decimal: 0.30 = +30 %) "
                "or shift_amount (additive, in the feature's units)"
            )
        if self.shift_amount is not None and not math.isfinite(self.shift_amount):
            raise ValueError("shift_amount must be a finite number")
        return self


class MissingnessParameters(_Strict):
    """MISSINGNESS: a fraction of rows set to NaN, then imputed with the training mean or median."""

    feature: str = Field(min_length=1)
    missing_percentage: float = Field(gt=0.0, le=0.99)
    imputation: Literal["mean", "median"] = "median"


class OutOfDistributionParameters(_Strict):
    """OUT_OF_DISTRIBUTION: ``max + (x - min) * (scale_factor - 1)`` on a fraction of rows."""

    feature: str = Field(min_length=1)
    scale_factor: float = Field(gt=1.0, le=100.0)
    fraction: float = Field(default=1.0, gt=0.0, le=1.0)


class SubgroupParameters(_Strict):
    """SUBGROUP: the metrics on the slice ``column == value``."""

    column: str = Field(min_length=1)
    value: str | int | float | bool

    @field_validator("value")
    @classmethod
    def _finite(cls, value: str | int | float | bool) -> str | int | float | bool:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a subgroup value must be a label or a finite number")
        return value


PARAMETER_MODELS: dict[str, type[_Strict]] = {
    "NOISE": NoiseParameters,
    "FEATURE_SHIFT": ShiftParameters,
    "MISSINGNESS": MissingnessParameters,
    "OUT_OF_DISTRIBUTION": OutOfDistributionParameters,
    "SUBGROUP": SubgroupParameters,
}


class Scenario(_Strict):
    """One entry of the scenario handbook (stress_scenarios.json)."""

    scenario_id: str = Field(pattern=_ID_PATTERN)
    stress_type: StressType
    description: str = Field(min_length=1)
    parameters: dict[str, Any]
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    real_world_event: str = ""
    expected_business_impact: str = ""
    severity_level: int = Field(ge=1, le=5)

    @field_validator("parameters")
    @classmethod
    def _check_parameters(cls, value: dict[str, Any], info: pydantic.ValidationInfo) -> dict[str, Any]:
        stress_type = info.data.get("stress_type")
        if stress_type not in PARAMETER_MODELS:
            return value  # the stress_type error is reported on its own
        model = PARAMETER_MODELS[stress_type]
        try:
            typed = model.model_validate(value)
        except pydantic.ValidationError as exc:
            parts = []
            for err in exc.errors():
                where = ".".join(str(p) for p in err.get("loc", ())) or stress_type
                parts.append(f"{where}: {err.get('msg')}")
            allowed = ", ".join(model.model_fields)
            raise ValueError(
                f"{stress_type} parameters: " + "; ".join(parts) + f" (allowed keys: {allowed})"
            ) from None
        return typed.model_dump(exclude_none=True)

    @property
    def feature(self) -> str | None:
        """The stressed feature, or ``None`` for SUBGROUP."""
        return self.parameters.get("feature")


class Handbook(_Strict):
    """The scenario handbook: scenarios with unique ids, in the order they run."""

    scenarios: list[Scenario] = Field(min_length=1)

    @field_validator("scenarios")
    @classmethod
    def _unique(cls, value: list[Scenario]) -> list[Scenario]:
        seen: set[str] = set()
        for s in value:
            if s.scenario_id in seen:
                raise ValueError(f"scenario_id {s.scenario_id!r} appears twice; ids must be unique")
            seen.add(s.scenario_id)
        return value

    def to_json(self) -> str:
        """stress_scenarios.json: a JSON list of scenarios, sorted keys, two-space indent."""
        return canonical_json([s.model_dump(mode="json") for s in self.scenarios], indent=2)

    def with_scenario(self, scenario: dict[str, Any], *, replacing: str | None = None) -> Handbook:
        """This handbook with ``scenario`` in place of the one named ``replacing`` (or appended).

        Raises
        ------
        ValidationError
            If the new scenario is invalid or its id is already taken (row = scenario number).
        """
        rows = [s.model_dump() for s in self.scenarios]
        if replacing is not None and any(r["scenario_id"] == replacing for r in rows):
            rows = [scenario if r["scenario_id"] == replacing else r for r in rows]
        else:
            rows.append(scenario)
        return parse_handbook(rows)

    def without_scenario(self, scenario_id: str) -> Handbook:
        """This handbook without the scenario ``scenario_id``.

        Raises
        ------
        NotFoundError
            If no scenario has this id.
        ValidationError
            If it is the last one (a handbook holds at least one scenario).
        """
        if scenario_id not in {s.scenario_id for s in self.scenarios}:
            raise NotFoundError(f"the handbook has no scenario {scenario_id!r}")
        return parse_handbook([s.model_dump() for s in self.scenarios if s.scenario_id != scenario_id])


class Thresholds(_Strict):
    """Largest tolerated worsening per metric, in percent of the baseline value.

    ``subgroup_delta`` is an absolute bound on the largest subgroup delta of the subgroup metric
    (AUC for classifiers, R2 for regressors), in that metric's units.
    """

    AUC: float = Field(default=5.0, ge=0.0, le=1000.0)
    accuracy: float = Field(default=5.0, ge=0.0, le=1000.0)
    Brier: float = Field(default=10.0, ge=0.0, le=1000.0)
    log_loss: float = Field(default=10.0, ge=0.0, le=1000.0)
    ECE: float = Field(default=5.0, ge=0.0, le=1000.0)
    RMSE: float = Field(default=10.0, ge=0.0, le=1000.0)
    MAE: float = Field(default=10.0, ge=0.0, le=1000.0)
    R2: float = Field(default=10.0, ge=0.0, le=1000.0)
    subgroup_delta: float = Field(default=0.10, ge=0.0, le=1000.0)

    def for_metric(self, name: str) -> float:
        return float(getattr(self, name))


ModelKind = Literal["logistic_regression", "random_forest", "gradient_boosting"]


class ValidationConfig(_Strict):
    """The whole workflow's configuration (``stresslab validate --config``)."""

    data: str | None = None
    target: str = Field(min_length=1)
    positive_class: str | int | float | bool | None = None
    task: Literal["classification", "regression"] | None = None
    model: ModelKind = "random_forest"
    model_path: str | None = None
    features: list[str] | None = None
    categorical: list[str] = Field(default_factory=list)
    subgroups: list[str] = Field(default_factory=list)
    test_size: float = Field(default=0.2, ge=0.05, le=0.9)
    seed: int = Field(default=42, ge=0, le=2**32 - 1)
    handbook: str | None = None
    thresholds: Thresholds = Field(default_factory=Thresholds)
    ece_bins: int = Field(default=10, ge=2, le=100)
    ece_strategy: Literal["uniform", "quantile"] = "uniform"
    row_limit: int | None = Field(default=None, ge=100)
    min_subgroup_rows: int = Field(default=50, ge=1)
    n_jobs: int = Field(default=2, ge=1, le=64)

    @model_validator(mode="before")
    @classmethod
    def _null_thresholds(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("thresholds") is None:
            data = {k: v for k, v in data.items() if k != "thresholds"}
        return data


def issues_from_pydantic(exc: pydantic.ValidationError, *, row_key: str | None = None) -> list[Issue]:
    """Turn pydantic's errors into :class:`Issue` rows (1-based row for list items)."""
    issues = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        row = None
        if row_key is not None and len(loc) >= 2 and loc[0] == row_key and isinstance(loc[1], int):
            row = loc[1] + 1
            loc = loc[2:]
        column = ".".join(str(p) for p in loc) or None
        value = err.get("input")
        if isinstance(value, (dict, list)):
            value = None
        msg = err.get("msg", "invalid")
        issues.append(Issue(row=row, column=column, value=value, rule=msg, where="field"))
    return issues


def parse_handbook(source: str | bytes | list | dict, *, subject: str = "scenario handbook") -> Handbook:
    """Read a handbook from JSON text or already-parsed JSON.

    Accepts a list of scenarios (the stress_scenarios.json shape) or ``{"scenarios": [...]}``.

    Raises
    ------
    InputError
        If the text is not JSON or not a list of scenarios.
    ValidationError
        With one issue per bad field (row = scenario number, 1-based): unknown stress type,
        parameters out of range, duplicate ids.
    """
    data: Any = source
    if isinstance(source, (str, bytes)):
        try:
            data = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{subject} is not valid JSON: {exc}. Export a handbook from the "
                             "Scenario handbook page to see the expected shape.") from exc
    if isinstance(data, dict) and "scenarios" in data:
        data = data["scenarios"]
    if not isinstance(data, list):
        raise InputError(f"{subject} must be a JSON list of scenarios (stress_scenarios.json).")
    try:
        return Handbook(scenarios=data)
    except pydantic.ValidationError as exc:
        raise ValidationError(issues_from_pydantic(exc, row_key="scenarios"), subject=subject) from None


def parse_config(source: str | bytes | dict, *, subject: str = "configuration") -> ValidationConfig:
    """Read a :class:`ValidationConfig` from JSON text or a dict.

    Raises
    ------
    InputError
        If the text is not a JSON object.
    ValidationError
        With one issue per bad or unknown key.
    """
    data: Any = source
    if isinstance(source, (str, bytes)):
        try:
            data = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{subject} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{subject} must be a JSON object with at least 'target'.")
    try:
        return ValidationConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(issues_from_pydantic(exc), subject=subject) from None
