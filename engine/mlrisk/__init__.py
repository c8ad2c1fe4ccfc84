"""ML robustness workbench: stress scenarios on ML models, degradation, decision and evidence.

Public API, re-exported from one private module per concept.
"""

from engine.mlrisk._artifacts import ARTIFACT_NAMES, artifacts_zip, canonical_json, decision_markdown
from engine.mlrisk._data import (
    DEFAULT_DATASET_NAME,
    DEFAULT_SUBGROUPS,
    DEFAULT_TARGET,
    PreparedData,
    default_dataset_bytes,
    infer_task,
    load_default_dataset,
    prepare_data,
    read_table,
)
from engine.mlrisk._decision import DECISION_RULE, decide, degradation_pct, metric_status, worsening_pct
from engine.mlrisk._drift import PSI_BANDS, drift, histogram_pair, psi, psi_band
from engine.mlrisk._metrics import (
    ECEResult,
    classification_metrics,
    describe_binning,
    expected_calibration_error,
    regression_metrics,
)
from engine.mlrisk._models import (
    METRIC_DIRECTIONS,
    STRESS_TYPES,
    Handbook,
    Scenario,
    Thresholds,
    ValidationConfig,
    parse_config,
    parse_handbook,
)
from engine.mlrisk._runner import DegradationRow, ValidationRun, run_from_config, run_validation
from engine.mlrisk._stress import apply_stress, default_handbook
from engine.mlrisk._training import MODEL_KINDS, build_model, load_skops_model, train_model

__all__ = [
    "ARTIFACT_NAMES", "artifacts_zip", "canonical_json", "decision_markdown",
    "DEFAULT_DATASET_NAME", "DEFAULT_SUBGROUPS", "DEFAULT_TARGET", "PreparedData", "default_dataset_bytes",
    "infer_task", "load_default_dataset", "prepare_data", "read_table",
    "DECISION_RULE", "decide", "degradation_pct", "metric_status", "worsening_pct",
    "PSI_BANDS", "drift", "histogram_pair", "psi", "psi_band",
    "ECEResult", "classification_metrics", "describe_binning", "expected_calibration_error", "regression_metrics",
    "METRIC_DIRECTIONS", "STRESS_TYPES", "Handbook", "Scenario", "Thresholds", "ValidationConfig",
    "parse_config", "parse_handbook",
    "DegradationRow", "ValidationRun", "run_from_config", "run_validation",
    "apply_stress", "default_handbook",
    "MODEL_KINDS", "build_model", "load_skops_model", "train_model",
]
