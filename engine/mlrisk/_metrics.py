"""Performance metrics: ECE (our own), the rest from scikit-learn; per-subgroup metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

__all__ = [
    "ECEResult",
    "expected_calibration_error",
    "classification_metrics",
    "regression_metrics",
    "regression_score",
    "subgroup_levels",
    "subgroup_metrics",
    "largest_subgroup_delta",
    "describe_binning",
]


@dataclass(frozen=True)
class ECEResult:
    """ECE and its bins (non-empty bins only, in bin order)."""

    ece: float
    n_bins: int
    strategy: str
    n_empty_bins: int
    bin_edges: list[float] = field(default_factory=list)
    bin_counts: list[int] = field(default_factory=list)
    bin_accuracy: list[float] = field(default_factory=list)
    bin_confidence: list[float] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "ECE": self.ece, "n_bins": self.n_bins, "strategy": self.strategy,
            "n_empty_bins": self.n_empty_bins, "bin_edges": self.bin_edges,
            "bin_counts": self.bin_counts, "bin_accuracy": self.bin_accuracy,
            "bin_confidence": self.bin_confidence,
        }


def describe_binning(n_bins: int, *, strategy: str, n_empty: int | None = None) -> str:
    """The sentence every report carries about the ECE binning."""
    kind = "equal-width" if strategy == "uniform" else "equal-mass (quantile)"
    text = f"ECE over {n_bins} {kind} bins of the predicted probability on [0, 1]; empty bins are skipped"
    if n_empty is not None:
        text += f" ({n_empty} empty)"
    return text


def expected_calibration_error(
    y_true: np.ndarray, *, y_prob: np.ndarray, n_bins: int = 10, strategy: str = "uniform"
) -> ECEResult:
    """Expected calibration error of binary probabilities.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,)
        Outcomes, 0 or 1.
    y_prob : ndarray of shape (n_samples,)
        Predicted probability of outcome 1, in [0, 1].
    n_bins : int, default 10
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1], or equal-mass bins at the quantiles of ``y_prob``. Bins are
        closed on the right, as in scikit-learn's ``calibration_curve``, so its
        ``prob_true``/``prob_pred`` are this function's ``bin_accuracy``/``bin_confidence``.

    Returns
    -------
    ECEResult
        ``ECE = sum_b (n_b / n) * |acc_b - conf_b|`` over the non-empty bins b, where ``acc_b`` is
        the share of outcome 1 and ``conf_b`` the mean probability in bin b; empty bins are
        skipped and counted in ``n_empty_bins``.

    Raises
    ------
    ValueError
        If the arrays differ in length, are empty, or a probability lies outside [0, 1].

    References
    ----------
    Naeini, Cooper & Hauskrecht (2015), "Obtaining well calibrated probabilities using Bayesian
    binning", AAAI; Guo, Pleiss, Sun & Weinberger (2017), "On calibration of modern neural
    networks", ICML.
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_prob = np.asarray(y_prob, dtype=float).ravel()
    if y_true.shape != y_prob.shape or y_true.size == 0:
        raise ValueError("y_true and y_prob must be non-empty and of the same length")
    if np.any(~np.isfinite(y_prob)) or y_prob.min() < 0 or y_prob.max() > 1:
        raise ValueError("y_prob must lie in [0, 1]")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.percentile(y_prob, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', not {strategy!r}")
    ids = np.searchsorted(edges[1:-1], y_prob)
    counts = np.bincount(ids, minlength=n_bins)
    sums = np.bincount(ids, weights=y_prob, minlength=n_bins)
    trues = np.bincount(ids, weights=y_true, minlength=n_bins)
    nz = counts > 0
    acc = trues[nz] / counts[nz]
    conf = sums[nz] / counts[nz]
    ece = float(np.sum(counts[nz] / y_true.size * np.abs(acc - conf)))
    return ECEResult(
        ece=ece, n_bins=n_bins, strategy=strategy, n_empty_bins=int(np.sum(~nz)),
        bin_edges=[float(e) for e in edges], bin_counts=[int(c) for c in counts[nz]],
        bin_accuracy=[float(a) for a in acc], bin_confidence=[float(c) for c in conf],
    )


def classification_metrics(
    y_true: np.ndarray, *, y_prob: np.ndarray, n_bins: int = 10, strategy: str = "uniform"
) -> tuple[dict[str, float | None], ECEResult]:
    """AUC, accuracy (cut-off 0.5), Brier score, log loss and ECE of binary probabilities.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,), 0/1
    y_prob : ndarray of shape (n_samples,), probability of 1

    Returns
    -------
    (dict, ECEResult)
        Keys AUC, accuracy, Brier, log_loss, ECE. AUC is ``None`` when only one class is present.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_prob = np.clip(np.asarray(y_prob, dtype=float), 0.0, 1.0)
    ece = expected_calibration_error(y_true, y_prob=y_prob, n_bins=n_bins, strategy=strategy)
    both = np.unique(y_true).size == 2
    return {
        "AUC": float(roc_auc_score(y_true, y_prob)) if both else None,
        "accuracy": float(accuracy_score(y_true, (y_prob >= 0.5).astype(np.int64))),
        "Brier": float(brier_score_loss(y_true, y_prob, pos_label=1)),
        "log_loss": float(log_loss(y_true, y_prob, labels=[0, 1])),
        "ECE": ece.ece,
    }, ece


def regression_score(pred: np.ndarray, *, low: float, high: float) -> np.ndarray:
    """Map predictions to [0, 1] for ECE: ``clip((pred - low) / (high - low), 0, 1)``.

    ``low``/``high`` are the baseline predictions' minimum and maximum, kept fixed under stress so
    a stressed score is on the baseline's scale. A constant baseline maps everything to 0.5.
    """
    pred = np.asarray(pred, dtype=float)
    if not high > low:
        return np.full(pred.shape, 0.5)
    return np.clip((pred - low) / (high - low), 0.0, 1.0)


def regression_metrics(
    y_true: np.ndarray, *, pred: np.ndarray, median: float, low: float, high: float,
    n_bins: int = 10, strategy: str = "uniform",
) -> tuple[dict[str, float | None], ECEResult]:
    """RMSE, MAE, R2, and ECE of the score against the median-binarized target.

    ECE here compares :func:`regression_score` with ``y_true > median`` (median of the test
    target), a documented proxy: a calibrated regressor's scaled score tracks the chance of an
    above-median outcome.
    """
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    ece = expected_calibration_error((y_true > median).astype(float), y_prob=regression_score(pred, low=low, high=high),
                                     n_bins=n_bins, strategy=strategy)
    r2 = float(r2_score(y_true, pred)) if y_true.size >= 2 and np.ptp(y_true) > 0 else None
    return {
        "RMSE": float(root_mean_squared_error(y_true, pred)),
        "MAE": float(mean_absolute_error(y_true, pred)),
        "R2": r2,
        "ECE": ece.ece,
    }, ece


#: A numeric subgroup column with more distinct values than this is cut at its quartiles.
MAX_SUBGROUP_LEVELS = 20


def subgroup_levels(column: pd.Series) -> pd.Series:
    """Subgroup label of each row: the value itself, or its quartile interval for a numeric
    column with more than 20 distinct values (e.g. AGE). Missing values get the label "missing".
    """
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) \
            and column.nunique(dropna=True) > MAX_SUBGROUP_LEVELS:
        cut = pd.qcut(column, q=4, duplicates="drop")
        labels = cut.astype(str)
    else:
        labels = column.map(lambda v: _label(v))
    return labels.where(column.notna(), "missing").astype(str)


def _label(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def subgroup_metrics(
    groups: pd.DataFrame, *, metric_fn, min_rows: int = 50, task: str = "classification",
    y_true: np.ndarray,
) -> list[dict]:
    """Metrics for every level of every subgroup column.

    Parameters
    ----------
    groups : DataFrame of shape (n_samples, n_subgroup_columns)
    metric_fn : callable(mask) -> dict of metric values
        Computes the metrics on the rows selected by a boolean mask of shape (n_samples,).
    min_rows : int
        Levels with fewer rows are reported with ``status="too_few_rows"`` and no metrics; a
        classifier's level with one class only gets ``status="single_class"`` and no AUC.
    y_true : ndarray of shape (n_samples,)

    Returns
    -------
    list of dict
        One row per (column, level): column, level, n, status, metrics, sorted by column order and
        level label.
    """
    rows = []
    for col in groups.columns:
        labels = subgroup_levels(groups[col])
        for level in sorted(labels.unique(), key=_sort_key):
            mask = (labels == level).to_numpy()
            n = int(mask.sum())
            if n < min_rows:
                rows.append({"column": col, "level": level, "n": n, "status": "too_few_rows",
                             "metrics": None, "reason": f"{n} rows < minimum {min_rows}"})
                continue
            metrics = metric_fn(mask)
            status = "evaluated"
            if task == "classification" and np.unique(y_true[mask]).size < 2:
                status = "single_class"
            rows.append({"column": col, "level": level, "n": n, "status": status, "metrics": metrics,
                         "reason": "one class only: AUC undefined" if status == "single_class" else None})
    return rows


def _sort_key(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def largest_subgroup_delta(rows: list[dict], *, overall: dict, metric: str) -> dict:
    """The largest ``|metric(level) - metric(overall)|`` over evaluated levels.

    Returns
    -------
    dict
        metric, value (``None`` when no level could be evaluated), column, level.
    """
    best = {"metric": metric, "value": None, "column": None, "level": None}
    base = overall.get(metric)
    if base is None:
        return best
    for r in rows:
        if not r["metrics"] or r["metrics"].get(metric) is None:
            continue
        d = abs(r["metrics"][metric] - base)
        if best["value"] is None or d > best["value"]:
            best = {"metric": metric, "value": float(d), "column": r["column"], "level": r["level"]}
    return best
