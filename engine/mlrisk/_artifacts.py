"""Artifact rendering: validation_decision.md and the evidence zip.

The evidence zip holds a run's evidence files side by side: the six :data:`ARTIFACT_NAMES`
(among them :data:`REPORT_NAME`, the run's HTML report, made with the run by
:func:`engine.render.validation.evidence_report` and hashed in the manifest like the others),
``evidence_manifest.sig`` when the run was signed, and each sign-off addendum
(``signoff_NNN.json`` and ``.sig``); see :mod:`engine.audit.manifest`.

The JSON artifacts are written by :func:`engine.canonical.canonical_bytes` with
``indent=2, digits=FLOAT_DIGITS``: sorted keys, two-space indent, a final newline, floats rounded
to 12 significant digits and NaN/inf as ``null``, so the same inputs and seeds give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

__all__ = ["ARTIFACT_NAMES", "REQUIRED_OUTPUTS", "REPORT_NAME", "FLOAT_DIGITS", "decision_markdown",
           "artifacts_zip"]

#: The run's report (self-contained HTML) in its evidence; see :mod:`engine.reports`.
REPORT_NAME = "validation_report.html"

ARTIFACT_NAMES: tuple[str, ...] = (
    "stress_scenarios.json",
    "robustness_results.json",
    "performance_degradation_report.json",
    "validation_decision.md",
    REPORT_NAME,
    "evidence_manifest.json",
)
#: The outputs a manifest must list for its evidence to verify. The report is not among them:
#: evidence made before reports existed (0.1.0 without it) still verifies; when a manifest lists
#: the report, its hash is checked like every listed file's.
REQUIRED_OUTPUTS: tuple[str, ...] = ("stress_scenarios.json", "robustness_results.json",
                                     "performance_degradation_report.json", "validation_decision.md")
#: Floats are written with 12 significant digits, so results are byte-identical across runs.
FLOAT_DIGITS = 12


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def decision_markdown(results: dict, *, rows: list[dict], run_id: str, generated_at: str, user: str) -> str:
    """validation_decision.md: decision, rationale, key failures, actions, thresholds, binning.

    Only the "Run" lines carry the run id, time and user; everything else depends on the inputs
    and seeds alone.
    """
    d = results["decision"]
    m = results["model"]
    lines = [
        f"# Model validation decision: {d['decision']}",
        "",
        "## Run",
        f"- run_id: `{run_id}`",
        f"- generated_at: {generated_at}",
        f"- validator: {user}",
        "",
        "## Model and data",
        f"- task: {results['task']}; model: {m['kind']} ({m['estimator']}); target: `{results['target']}`"
        + (f" (positive class {results['positive_class']!r})" if results["positive_class"] is not None else ""),
        f"- data: {results['data']['name']} (sha256 {results['data']['sha256'][:16]}…), "
        f"{results['data']['n_rows']} rows, {results['data']['n_train']} train / {results['data']['n_test']} test, "
        f"seed {results['data']['seed']}",
        f"- features: {len(results['features'])} ({len(results['categorical_features'])} one-hot encoded); "
        f"subgroups: {', '.join(results['subgroups']) or 'none'}",
        f"- {results['ece_binning']['statement']}",
        "",
        "## Decision",
        f"**{d['decision']}**: severity-weighted failure share {d['severity_weighted_failure_share']:.2f}.",
        "",
        f"Rule: {d['rule']}",
        "",
        "### Rationale",
        *[f"- {r}" for r in d["rationale"]],
        "",
        "### Key failures",
    ]
    if d["key_failures"]:
        lines += ["| scenario_id | severity | metric | baseline | stressed | worsening % | threshold |",
                  "|---|---|---|---|---|---|---|"]
        for k in d["key_failures"]:
            lines.append(f"| {k['scenario_id']} | {k['severity_level']} | {k['metric_name']} | "
                         f"{_fmt(k['baseline_value'])} | {_fmt(k['stressed_value'])} | "
                         f"{_fmt(k['worsening_pct'], 2)} | {_fmt(k['threshold'])} |")
    else:
        lines.append("None: every evaluated metric is within its threshold.")
    lines += ["", "### Recommended actions", *[f"- {a}" for a in d["recommended_actions"]], "",
              "## Baseline", "| metric | value |", "|---|---|"]
    for k, v in results["baseline"]["metrics"].items():
        lines.append(f"| {k} | {_fmt(v)} |")
    lines += ["", "## Scenarios", "| scenario_id | stress_type | severity | status | failing metrics |",
              "|---|---|---|---|---|"]
    for s in results["scenarios"]:
        failing = [r["metric_name"] for r in rows if r["scenario_id"] == s["scenario_id"] and r["status"] == "FAIL"]
        status = "not evaluated: " + s["reason"] if not s["evaluated"] else ("FAIL" if failing else "PASS")
        lines.append(f"| {s['scenario_id']} | {s['stress_type']} | {s['severity_level']} | {status} | "
                     f"{', '.join(failing) or '-'} |")
    lines += ["", "## Thresholds",
              "Relative thresholds are the largest tolerated worsening in percent of the baseline; "
              "subgroup_delta is an absolute bound.", "| metric | threshold |", "|---|---|"]
    for k, v in results["thresholds"].items():
        lines.append(f"| {k} | {v:g} |")
    lines += ["", "## Sign-off",
              "Each validator sign-off (name, comment, time) is recorded in the StressLab store with this run_id "
              "and appended to this evidence as signoff_NNN.json, signed in signoff_NNN.sig when a signing key "
              "exists; `stresslab verify-manifest` checks them.", ""]
    return "\n".join(lines)


def artifacts_zip(artifacts: dict[str, bytes]) -> bytes:
    """A zip of the evidence files (name -> bytes) with fixed member times, so the same files give
    the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(artifacts):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, artifacts[name])
    return buf.getvalue()
