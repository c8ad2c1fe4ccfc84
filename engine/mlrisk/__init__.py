"""ML robustness workbench: stress scenarios on ML models, degradation, decision and evidence.

Public API, re-exported from one private module per concept. The user's actions (validate,
sign off, save a handbook, read stored runs, verify a manifest) are the functions of
:mod:`engine.mlrisk.workflow`, called alike by ``stresslab`` and the pages.

Names load on first use (PEP 562), so ``import engine.mlrisk.cli`` (and ``stresslab --help``) does
not import scikit-learn, scipy or pandas.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "ARTIFACT_NAMES": "_artifacts",
    "FLOAT_DIGITS": "_artifacts",
    "artifacts_zip": "_artifacts",
    "decision_markdown": "_artifacts",
    "DEFAULT_DATASET_FOLDER": "_data",
    "DEFAULT_DATASET_NAME": "_data",
    "DEFAULT_SUBGROUPS": "_data",
    "DEFAULT_TARGET": "_data",
    "PreparedData": "_data",
    "default_dataset_bytes": "_data",
    "default_dataset_path": "_data",
    "infer_task": "_data",
    "load_default_dataset": "_data",
    "prepare_data": "_data",
    "read_table": "_data",
    "DECISION_RULE": "_decision",
    "decide": "_decision",
    "degradation_pct": "_decision",
    "metric_status": "_decision",
    "worsening_pct": "_decision",
    "PSI_BANDS": "_drift",
    "drift": "_drift",
    "histogram_pair": "_drift",
    "psi": "_drift",
    "psi_band": "_drift",
    "ECEResult": "_metrics",
    "classification_metrics": "_metrics",
    "describe_binning": "_metrics",
    "expected_calibration_error": "_metrics",
    "regression_metrics": "_metrics",
    "METRIC_DIRECTIONS": "_models",
    "STRESS_TYPES": "_models",
    "Handbook": "_models",
    "Scenario": "_models",
    "Thresholds": "_models",
    "ValidationConfig": "_models",
    "parse_config": "_models",
    "parse_handbook": "_models",
    "DegradationRow": "_runner",
    "ValidationRun": "_runner",
    "run_validation": "_runner",
    "apply_stress": "_stress",
    "default_handbook": "_stress",
    "MODEL_KINDS": "_training",
    "build_model": "_training",
    "load_skops_model": "_training",
    "train_model": "_training",
    "baseline_table": "_views",
    "chart_rows": "_views",
    "distribution": "_views",
    "drift_table": "_views",
    "handbook_table": "_views",
    "report_table": "_views",
    "subgroup_matrix": "_views",
    "ValidateRequest": "workflow",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "ARTIFACT_NAMES", "FLOAT_DIGITS", "artifacts_zip", "decision_markdown",
    "DEFAULT_DATASET_FOLDER", "DEFAULT_DATASET_NAME", "DEFAULT_SUBGROUPS", "DEFAULT_TARGET", "PreparedData",
    "default_dataset_bytes", "default_dataset_path",
    "infer_task", "load_default_dataset", "prepare_data", "read_table",
    "DECISION_RULE", "decide", "degradation_pct", "metric_status", "worsening_pct",
    "PSI_BANDS", "drift", "histogram_pair", "psi", "psi_band",
    "ECEResult", "classification_metrics", "describe_binning", "expected_calibration_error", "regression_metrics",
    "METRIC_DIRECTIONS", "STRESS_TYPES", "Handbook", "Scenario", "Thresholds", "ValidationConfig",
    "parse_config", "parse_handbook",
    "DegradationRow", "ValidationRun", "run_validation",
    "apply_stress", "default_handbook",
    "MODEL_KINDS", "build_model", "load_skops_model", "train_model",
    "baseline_table", "chart_rows", "distribution", "drift_table", "handbook_table", "report_table",
    "subgroup_matrix",
    "ValidateRequest",
]
