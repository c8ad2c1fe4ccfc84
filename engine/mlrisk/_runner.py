"""The whole validation: baseline, every scenario x every metric x every subgroup, drift,
degradation, decision and the six artifacts."""

from __future__ import annotations

import hashlib
import time
import uuid
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
    ValidationConfig,
)
from engine.mlrisk._stress import apply_stress, check_handbook, default_handbook, subgroup_mask
from engine.mlrisk._training import load_skops_model, model_description, predict_scores, train_model

__all__ = ["DegradationRow", "ValidationRun", "run_validation", "SUBGROUP_METRIC"]

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
    if task == "classification":
        def compute(y, s):
            return classification_metrics(y, y_prob=s, n_bins=bins, strategy=strategy)
        metric_names = CLASSIFICATION_METRICS
    else:
        low, high, median = float(base_scores.min()), float(base_scores.max()), float(np.median(data.y_test))

        def compute(y, s):
            return regression_metrics(y, pred=s, median=median, low=low, high=high, n_bins=bins, strategy=strategy)
        metric_names = REGRESSION_METRICS
    sub_metric = SUBGROUP_METRIC[task]

    def _evaluate(y, scores, groups):
        metrics, ece = compute(y, scores)
        sub = subgroup_metrics(groups, metric_fn=lambda m: compute(y[m], scores[m])[0],
                               min_rows=config.min_subgroup_rows, task=task, y_true=y) if len(groups.columns) else []
        delta = largest_subgroup_delta(sub, overall=metrics, metric=sub_metric)
        return metrics, ece, sub, delta

    base_metrics, base_ece, base_sub, base_delta = _evaluate(data.y_test, base_scores, data.groups_test)
    timings["baseline"] = time.perf_counter() - t

    t = time.perf_counter()
    stats = data.train_stats
    scenario_results = []
    for sc in handbook.scenarios:
        entry = {"scenario_id": sc.scenario_id, "stress_type": sc.stress_type, "severity_level": sc.severity_level,
                 "parameters": sc.parameters, "seed": sc.seed, "evaluated": True, "reason": None,
                 "n_rows": int(len(data.y_test)), "metrics": None, "ece": None, "stress_detail": None,
                 "drift": None, "subgroups": [], "largest_subgroup_delta": None, "distributions": {}}
        if sc.stress_type == "SUBGROUP":
            col = sc.parameters["column"]
            mask = subgroup_mask(frame[col].iloc[data.test_index].reset_index(drop=True), sc.parameters["value"])
            n = int(mask.sum())
            entry["n_rows"] = n
            entry["stress_detail"] = {"slice": f"{col} == {sc.parameters['value']!r}", "rows_in_slice": n}
            if n < config.min_subgroup_rows:
                entry["evaluated"] = False
                entry["reason"] = f"subgroup {col} == {sc.parameters['value']!r} has {n} test rows, fewer than the minimum {config.min_subgroup_rows}"
            else:
                m, ece, sub, delta = _evaluate(data.y_test[mask], base_scores[mask],
                                              data.groups_test[mask].reset_index(drop=True))
                entry.update(metrics=m, ece=ece.as_dict(), subgroups=sub, largest_subgroup_delta=delta)
            for f in data.numeric_features:
                before = data.X_test[f].to_numpy(dtype=float)
                entry["distributions"][f] = histogram_pair(before, after=before[mask])
        else:
            f = sc.parameters["feature"]
            before = data.X_test[f].to_numpy(dtype=float)
            after, detail = apply_stress(before, scenario=sc, stats=stats[f])
            Xs = data.X_test.copy()
            Xs[f] = after
            scores = predict_scores(model, X=Xs, task=task, positive_index=pos)
            m, ece, sub, delta = _evaluate(data.y_test, scores, data.groups_test)
            entry.update(metrics=m, ece=ece.as_dict(), subgroups=sub, largest_subgroup_delta=delta,
                         stress_detail=detail, drift={"feature": f, **drift(before, after)})
            for g in data.numeric_features:
                b = data.X_test[g].to_numpy(dtype=float)
                entry["distributions"][g] = histogram_pair(b, after=after if g == f else b)
        scenario_results.append(entry)
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
