"""The whole validation: baseline, every scenario x every metric x every subgroup, drift,
degradation, decision and the six artifacts."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from engine import __version__
from engine.audit.manifest import MANIFEST_NAME, build_manifest
from engine.canonical import canonical, canonical_bytes
from engine.errors import InputError
from engine.mlrisk._artifacts import FLOAT_DIGITS, REPORT_NAME, artifacts_zip, decision_markdown
from engine.mlrisk._data import prepare_data
from engine.mlrisk._decision import PRIMARY_METRIC, decide, degradation_pct, metric_status, worsening_pct
from engine.mlrisk._drift import drift, histogram_pair
from engine.mlrisk._metrics import (
    classification_metrics,
    describe_binning,
    largest_subgroup_delta,
    regression_metrics,
    subgroup_metrics,
)
from engine.mlrisk._models import (
    CLASSIFICATION_METRICS,
    METRIC_DIRECTIONS,
    REGRESSION_METRICS,
    Handbook,
    Scenario,
    ValidationConfig,
)
from engine.mlrisk._stress import apply_stress, check_handbook, default_handbook, subgroup_mask
from engine.mlrisk._training import load_skops_model, model_description, predict_scores, train_model

__all__ = [
    "DegradationRow",
    "EvaluationData",
    "ScenarioMap",
    "ValidationRun",
    "evaluate_scenario",
    "map_scenarios_locally",
    "run_validation",
    "SUBGROUP_METRIC",
]

#: The metric whose largest subgroup delta is bounded (unitless, higher is better).
SUBGROUP_METRIC = {"classification": "AUC", "regression": "R2"}


class DegradationRow(BaseModel):
    """One row of performance_degradation_report.json (one scenario x one metric)."""

    model_config = ConfigDict(frozen=True)

    scenario_id: str
    stress_type: str
    severity_level: int
    metric_name: str
    direction: str
    baseline_value: float | None
    stressed_value: float | None
    degradation_pct: float | None
    worsening_pct: float | None
    threshold: float
    threshold_kind: str
    status: str
    binning: str | None = None


@dataclass(frozen=True)
class ValidationRun:
    """A finished validation: its results, report rows and the six artifacts' bytes."""

    run_id: str
    generated_at: str
    user: str
    config: ValidationConfig
    handbook: Handbook
    results: dict
    rows: list[dict]
    artifacts: dict[str, bytes]
    inputs_hash: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def decision(self) -> str:
        return self.results["decision"]["decision"]

    def report_frame(self) -> pd.DataFrame:
        """The degradation report as a table (one row per scenario x metric)."""
        return pd.DataFrame(self.rows)

    def zip_bytes(self) -> bytes:
        return artifacts_zip(self.artifacts)


@dataclass(frozen=True)
class EvaluationData:
    """What scoring one scenario needs besides the fitted model: the test split, the training
    statistics the stresses use, the baseline scores and the metric settings.

    It is picklable (plain data, no closures), so an executor can ship it to other processes
    once and evaluate every scenario there.

    Attributes
    ----------
    task : {"classification", "regression"}
    positive_index : int
        Column of ``predict_proba`` holding the positive class (1 for a regressor; unused).
    X_test : DataFrame of shape (n_test, n_features)
        Raw feature columns of the test split.
    y_test : ndarray of shape (n_test,)
        0/1 for a classifier, floats for a regressor.
    groups_test : DataFrame of shape (n_test, n_subgroups)
        The subgroup columns of the test rows.
    slices : DataFrame of shape (n_test, n_slice_columns)
        The test rows of the columns that SUBGROUP scenarios select on.
    numeric_features : tuple of str
    train_stats : dict
        Per numeric feature, its training ``mean``, ``median``, ``std``, ``min``, ``max``.
    base_scores : ndarray of shape (n_test,)
        Unstressed scores (probability of the positive class, or predictions).
    n_bins, strategy : int, str
        ECE binning.
    min_subgroup_rows : int
        Fewest rows a subgroup (or a SUBGROUP slice) needs to be evaluated.
    regression_bounds : (float, float, float) or None
        Regressor only: the baseline predictions' minimum and maximum and the test target's
        median, fixed by the baseline so every scenario is scored against the same ones.
    """

    task: str
    positive_index: int
    X_test: pd.DataFrame
    y_test: np.ndarray
    groups_test: pd.DataFrame
    slices: pd.DataFrame
    numeric_features: tuple[str, ...]
    train_stats: dict[str, dict[str, float]]
    base_scores: np.ndarray
    n_bins: int
    strategy: str
    min_subgroup_rows: int
    regression_bounds: tuple[float, float, float] | None = None


#: ``scenario_map(evaluate_scenario, *, scenarios=..., model=..., data=...)`` -> one entry per
#: scenario, in the order of ``scenarios``.
ScenarioMap = Callable[..., list[dict]]


def _metrics(y: np.ndarray, scores: np.ndarray, *, data: EvaluationData):
    if data.task == "classification":
        return classification_metrics(y, y_prob=scores, n_bins=data.n_bins, strategy=data.strategy)
    low, high, median = data.regression_bounds
    return regression_metrics(y, pred=scores, median=median, low=low, high=high, n_bins=data.n_bins,
                              strategy=data.strategy)


def _evaluate(y: np.ndarray, *, scores: np.ndarray, groups: pd.DataFrame, data: EvaluationData):
    """Metrics, ECE, subgroup metrics and the largest subgroup delta of one set of scores."""
    metrics, ece = _metrics(y, scores, data=data)
    sub = subgroup_metrics(groups, metric_fn=lambda m: _metrics(y[m], scores[m], data=data)[0],
                           min_rows=data.min_subgroup_rows, task=data.task, y_true=y) if len(groups.columns) else []
    delta = largest_subgroup_delta(sub, overall=metrics, metric=SUBGROUP_METRIC[data.task])
    return metrics, ece, sub, delta


def evaluate_scenario(scenario: Scenario, *, model, data: EvaluationData) -> dict:
    """Stress the test split with one scenario, score it with the model and measure it.

    A pure function of its arguments: the randomness of a stress comes from
    ``np.random.default_rng(scenario.seed)`` (:func:`apply_stress`), never from the order in
    which scenarios run, so any executor gives the same entry.

    Parameters
    ----------
    scenario : Scenario
        One scenario of the handbook (its feature or column already checked against the data).
    model : estimator
        The fitted scikit-learn pipeline (or the loaded skops model).
    data : EvaluationData

    Returns
    -------
    dict
        The scenario's entry in robustness_results.json: scenario_id, stress_type,
        severity_level, parameters, seed, evaluated, reason, n_rows, metrics, ece, stress_detail,
        drift, subgroups, largest_subgroup_delta, distributions (unrounded).
    """
    sc = scenario
    entry = {"scenario_id": sc.scenario_id, "stress_type": sc.stress_type, "severity_level": sc.severity_level,
             "parameters": sc.parameters, "seed": sc.seed, "evaluated": True, "reason": None,
             "n_rows": int(len(data.y_test)), "metrics": None, "ece": None, "stress_detail": None,
             "drift": None, "subgroups": [], "largest_subgroup_delta": None, "distributions": {}}
    if sc.stress_type == "SUBGROUP":
        col = sc.parameters["column"]
        mask = subgroup_mask(data.slices[col], sc.parameters["value"])
        n = int(mask.sum())
        entry["n_rows"] = n
        entry["stress_detail"] = {"slice": f"{col} == {sc.parameters['value']!r}", "rows_in_slice": n}
        if n < data.min_subgroup_rows:
            entry["evaluated"] = False
            entry["reason"] = (f"subgroup {col} == {sc.parameters['value']!r} has {n} test rows, fewer than "
                               f"the minimum {data.min_subgroup_rows}")
        else:
            m, ece, sub, delta = _evaluate(data.y_test[mask], scores=data.base_scores[mask],
                                           groups=data.groups_test[mask].reset_index(drop=True), data=data)
            entry.update(metrics=m, ece=ece.as_dict(), subgroups=sub, largest_subgroup_delta=delta)
        for f in data.numeric_features:
            before = data.X_test[f].to_numpy(dtype=float)
            entry["distributions"][f] = histogram_pair(before, after=before[mask])
    else:
        f = sc.parameters["feature"]
        before = data.X_test[f].to_numpy(dtype=float)
        after, detail = apply_stress(before, scenario=sc, stats=data.train_stats[f])
        Xs = data.X_test.copy()
        Xs[f] = after
        scores = predict_scores(model, X=Xs, task=data.task, positive_index=data.positive_index)
        m, ece, sub, delta = _evaluate(data.y_test, scores=scores, groups=data.groups_test, data=data)
        entry.update(metrics=m, ece=ece.as_dict(), subgroups=sub, largest_subgroup_delta=delta,
                     stress_detail=detail, drift={"feature": f, **drift(before, after)})
        for g in data.numeric_features:
            b = data.X_test[g].to_numpy(dtype=float)
            entry["distributions"][g] = histogram_pair(b, after=after if g == f else b)
    return entry


def map_scenarios_locally(fn: Callable[..., dict], *, scenarios: Sequence[Scenario], model,
                          data: EvaluationData) -> list[dict]:
    """The local executor: ``fn(scenario, model=model, data=data)`` for each scenario, in order,
    in this process.

    Returns
    -------
    list of dict
        One entry per scenario, in the order of ``scenarios``.
    """
    return [fn(sc, model=model, data=data) for sc in scenarios]


def _positive_index(model, positive, *, trained: bool) -> int:
    if trained:
        return 1
    classes = list(getattr(model, "classes_", []))
    for i, c in enumerate(classes):
        if c == positive or str(c) == str(positive):
            return i
    if len(classes) == 2:
        return 1
    raise InputError(f"the loaded model's classes {classes} do not include the positive class {positive!r}")


def run_validation(
    config: ValidationConfig,
    *,
    frame: pd.DataFrame,
    data_name: str,
    data_bytes: bytes,
    handbook: Handbook | None = None,
    model_bytes: bytes | None = None,
    model_name: str | None = None,
    user: str = "unknown",
    run_id: str | None = None,
    generated_at: str | None = None,
    scenario_map: ScenarioMap | None = None,
) -> ValidationRun:
    """Run the whole validation on a table.

    Parameters
    ----------
    config : ValidationConfig
        Target, features, subgroups, model, split, seed, thresholds, ECE binning.
    frame : DataFrame of shape (n_rows, n_columns)
        The table (already limited to ``config.row_limit`` rows by the reader).
    data_name, data_bytes : str, bytes
        The input file's name and bytes, hashed into the manifest.
    handbook : Handbook, optional
        Default: :func:`default_handbook` mapped to the table.
    model_bytes : bytes, optional
        A model saved with skops; when given it is evaluated instead of training ``config.model``.
    run_id, generated_at : str, optional
        Default a new UUID and the current UTC time; they appear only in the manifest and in the
        "Run" lines of validation_decision.md, so the other artifacts are byte-identical for the
        same inputs and seeds.
    scenario_map : callable, optional
        Runs :func:`evaluate_scenario` over the handbook's scenarios and returns their entries in
        the handbook's order (see :data:`ScenarioMap`); default :func:`map_scenarios_locally`, one
        after the other in this process. :func:`engine.mlrisk._dask.dask_scenario_map` runs them
        as Dask tasks; the artifacts are the same bytes either way.

    Raises
    ------
    ValidationError, InputError
        Bad data, columns, handbook or model; nothing has been stored.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    run_id = run_id or uuid.uuid4().hex
    generated_at = generated_at or datetime.now(UTC).replace(microsecond=0).isoformat()
    data = prepare_data(frame, target=config.target, features=config.features, categorical=config.categorical,
                        subgroups=config.subgroups, task=config.task, positive_class=config.positive_class,
                        test_size=config.test_size, seed=config.seed)
    if handbook is None:
        handbook = default_handbook(data, groups=frame[list(config.subgroups)] if config.subgroups else None)
    check_handbook(handbook, data=data, columns=list(frame.columns))
    timings["prepare"] = time.perf_counter() - t0

    t = time.perf_counter()
    if model_bytes is not None:
        model = load_skops_model(model_bytes, filename=model_name or "model.skops")
        trained = False
    else:
        model = train_model(config.model, data=data, seed=config.seed, n_jobs=config.n_jobs)
        trained = True
    timings["train"] = time.perf_counter() - t

    t = time.perf_counter()
    task = data.task
    pos = _positive_index(model, data.positive_class, trained=trained) if task == "classification" else 1
    base_scores = predict_scores(model, X=data.X_test, task=task, positive_index=pos)
    bins, strategy = config.ece_bins, config.ece_strategy
    metric_names = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    sub_metric = SUBGROUP_METRIC[task]
    slice_columns = sorted({sc.parameters["column"] for sc in handbook.scenarios if sc.stress_type == "SUBGROUP"})
    evaluation = EvaluationData(
        task=task, positive_index=pos, X_test=data.X_test, y_test=data.y_test, groups_test=data.groups_test,
        slices=frame[slice_columns].iloc[data.test_index].reset_index(drop=True),
        numeric_features=tuple(data.numeric_features), train_stats=data.train_stats, base_scores=base_scores,
        n_bins=bins, strategy=strategy, min_subgroup_rows=config.min_subgroup_rows,
        regression_bounds=None if task == "classification" else (
            float(base_scores.min()), float(base_scores.max()), float(np.median(data.y_test))))
    base_metrics, base_ece, base_sub, base_delta = _evaluate(data.y_test, scores=base_scores,
                                                             groups=data.groups_test, data=evaluation)
    timings["baseline"] = time.perf_counter() - t

    t = time.perf_counter()
    run_scenarios = scenario_map or map_scenarios_locally
    scenario_results = run_scenarios(evaluate_scenario, scenarios=list(handbook.scenarios), model=model,
                                     data=evaluation)
    timings["scenarios"] = time.perf_counter() - t

    th = config.thresholds
    rows: list[dict] = []
    for s in scenario_results:
        names = list(metric_names) + (["subgroup_delta"] if config.subgroups else [])
        for name in names:
            if name == "subgroup_delta":
                b = base_delta["value"]
                v = s["largest_subgroup_delta"]["value"] if s["largest_subgroup_delta"] else None
            else:
                b = base_metrics.get(name)
                v = s["metrics"].get(name) if s["metrics"] else None
            thr = th.for_metric(name)
            rows.append(DegradationRow(
                scenario_id=s["scenario_id"], stress_type=s["stress_type"], severity_level=s["severity_level"],
                metric_name=name,
                direction="higher_is_better" if METRIC_DIRECTIONS[name] else "lower_is_better",
                baseline_value=b, stressed_value=v,
                degradation_pct=degradation_pct(b, v), worsening_pct=worsening_pct(name, baseline=b, stressed=v),
                threshold=thr, threshold_kind="absolute" if name == "subgroup_delta" else "relative_pct",
                status=metric_status(name, baseline=b, stressed=v, threshold=thr),
                binning=describe_binning(bins, strategy=strategy, n_empty=s["ece"]["n_empty_bins"] if s["ece"] else None)
                if name == "ECE" else None,
            ).model_dump())
    rows = canonical(rows, digits=FLOAT_DIGITS)
    decision = decide(rows, scenarios=[{k: s[k] for k in ("scenario_id", "stress_type", "severity_level", "evaluated", "reason")}
                             for s in scenario_results], task=task)

    results = {
        "schema_version": 1,
        "task": task,
        "target": data.target,
        "positive_class": _plain(data.positive_class),
        "primary_metric": PRIMARY_METRIC[task],
        "subgroup_metric": sub_metric,
        "model": {"kind": config.model if trained else "loaded_skops", "source": "trained" if trained else (model_name or "model.skops"),
                  **model_description(model)},
        "features": list(data.features),
        "numeric_features": list(data.numeric_features),
        "categorical_features": list(data.categorical_features),
        "encoding": "numeric: median-imputed as is; categorical: most-frequent-imputed, one-hot (handle_unknown=ignore)",
        "subgroups": list(data.subgroups),
        "data": {"name": data_name, "sha256": _sha(data_bytes), "n_rows": data.n_rows,
                 "n_train": int(len(data.y_train)), "n_test": int(len(data.y_test)),
                 "test_size": config.test_size, "seed": config.seed, "row_limit": config.row_limit},
        "ece_binning": {"n_bins": bins, "strategy": strategy, "statement": describe_binning(bins, strategy=strategy),
                        "baseline_empty_bins": base_ece.n_empty_bins},
        "thresholds": th.model_dump(),
        "baseline": {"metrics": base_metrics, "ece": base_ece.as_dict(), "subgroups": base_sub,
                     "largest_subgroup_delta": base_delta},
        "scenarios": scenario_results,
        "decision": decision,
    }
    results = canonical(results, digits=FLOAT_DIGITS)

    t = time.perf_counter()
    scen_json = handbook.to_json().encode("utf-8")
    outputs = {
        "stress_scenarios.json": scen_json,
        "robustness_results.json": canonical_bytes(results, indent=2, digits=FLOAT_DIGITS),
        "performance_degradation_report.json": canonical_bytes(rows, indent=2, digits=FLOAT_DIGITS),
        "validation_decision.md": decision_markdown(results, rows=rows, run_id=run_id, generated_at=generated_at,
                                                    user=user).encode("utf-8"),
    }
    config_bytes = canonical_bytes(config.model_dump(mode="json"), indent=2, digits=FLOAT_DIGITS)
    inputs = {data_name: data_bytes, "validation_config.json": config_bytes}
    if model_bytes is not None:
        inputs[model_name or "model.skops"] = model_bytes
    # the run's HTML report, hashed in the manifest with the other outputs (engine.render)
    from engine.render.validation import evidence_report

    outputs[REPORT_NAME] = evidence_report(
        results, rows=rows, run_id=run_id, generated_at=generated_at, user=user,
        input_hashes={k: _sha(v) for k, v in sorted(inputs.items())}, engine_version=__version__)
    seeds = {"split": config.seed, "model": config.seed, **{f"scenario:{s.scenario_id}": s.seed for s in handbook.scenarios}}
    manifest = build_manifest(run_id=run_id, generated_at=generated_at, team_or_user=user,
                              app_version=__version__, seeds=seeds, inputs=inputs, outputs=outputs)
    artifacts = {**outputs, MANIFEST_NAME: manifest.to_json().encode("utf-8")}
    timings["artifacts"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return ValidationRun(run_id=run_id, generated_at=generated_at, user=user, config=config, handbook=handbook,
                         results=results, rows=rows, artifacts=artifacts,
                         inputs_hash=dict(manifest.inputs_hash), timings=timings)


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _plain(value: object) -> object:
    """A target level as JSON carries it: numbers, text, booleans and None as they are (numpy
    scalars as Python's), anything else (a date, a decimal) as its text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
    return str(value)
