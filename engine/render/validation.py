"""The validation report: one ML validation run's decision, metrics against thresholds,
degradation chart and sign-off state.

The same renderer makes the report kept in the run's evidence (``validation_report.html``, made
when the run is and hashed in its manifest; its sign-off state is the run's at that moment, as
later sign-offs are appended to the evidence as ``signoff_NNN.json``) and the report built later
from the store (with the sign-offs recorded since).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.display import label, pct
from engine.render import _charts
from engine.render._html import Provenance, esc, figure, key_figures, page, section, table

__all__ = ["ValidationReportData", "validation_html", "degradation_rows", "DEGRADATION_COLUMNS",
           "metric_text", "evidence_report"]

#: The degradation table's columns, in the report and its tests.
DEGRADATION_COLUMNS = ("Scenario", "Stress type", "Severity", "Metric", "Baseline", "Stressed",
                       "Worsening", "Threshold", "Status")


@dataclass(frozen=True)
class ValidationReportData:
    """What the validation report shows, whether read from the store or made with the run.

    Attributes
    ----------
    run_id, generated_at, validator : str
        The run, its time (ISO-8601, UTC, as the manifest states it) and the validator.
    requested_by : str or None
        The signed-in user or API token user who asked, when recorded.
    results : dict
        robustness_results.json, parsed.
    rows : list of dict
        performance_degradation_report.json, parsed.
    input_hashes : mapping of str to str
        File name -> SHA-256 hex (the manifest's ``inputs_hash``).
    engine_version : str
    signoffs : sequence of dict, optional
        Each {signed_at, name, comment, decision}; None for the copy made with the run (no
        sign-off can exist yet).
    """

    run_id: str
    generated_at: str
    validator: str
    requested_by: str | None
    results: dict
    rows: list[dict]
    input_hashes: Mapping[str, str]
    engine_version: str
    signoffs: Sequence[Mapping[str, Any]] | None = None


def metric_text(value: Any, *, digits: int = 4) -> str:
    """A model metric (AUC, Brier, ECE …) with ``digits`` decimals; "–" when absent."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def _threshold(row: Mapping[str, Any]) -> str:
    t = row.get("threshold")
    if t is None:
        return "–"
    if row.get("threshold_kind") == "relative_pct":
        return f"≤ {pct(t, decimal=False)}"
    return f"≤ {metric_text(t)}"


def degradation_rows(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """The degradation table as the report shows it (:data:`DEGRADATION_COLUMNS`)."""
    out = []
    for r in rows:
        worse = r.get("worsening_pct")
        out.append((r["scenario_id"], r.get("stress_type", ""), str(r.get("severity_level", "")),
                     label(r["metric_name"]), metric_text(r.get("baseline_value")),
                     metric_text(r.get("stressed_value")),
                     "–" if worse is None else pct(worse, decimal=False, signed=True),
                     _threshold(r), r["status"]))
    return out


def _figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    evaluated = [r for r in rows if r["status"] != "NOT_EVALUATED" and r.get("worsening_pct") is not None
                 and r.get("threshold_kind") == "relative_pct"]
    for metric in dict.fromkeys(r["metric_name"] for r in evaluated):
        part = [r for r in evaluated if r["metric_name"] == metric]
        fig.add_trace(go.Bar(x=[_charts.chart_text(r["scenario_id"]) for r in part],
                             y=[r["worsening_pct"] for r in part], name=_charts.chart_text(label(metric))))
    fig.update_layout(**_charts.base_layout(title="Worsening of each metric under stress (% of baseline)",
                                            x_title="Scenario", y_title="Worsening (%)"))
    fig.update_layout(barmode="group")
    return fig


def _signoff_html(data: ValidationReportData) -> tuple[str, str]:
    """(state in words, section body)."""
    if data.signoffs is None:
        state = "awaiting sign-off"
        return state, ("<p>Awaiting sign-off. This copy was made with the run; each validator "
                       "sign-off is appended to the evidence as signoff_NNN.json.</p>")
    if not data.signoffs:
        return "awaiting sign-off", "<p>Awaiting sign-off: no validator has signed off this run.</p>"
    n = len(data.signoffs)
    rows = [(str(s["signed_at"])[:19] + " UTC", s["name"], s["decision"], s.get("comment") or "")
            for s in data.signoffs]
    return (f"signed off ({n})",
            table(("Signed at", "Validator", "Decision signed", "Comment"), rows=rows))


def validation_html(data: ValidationReportData) -> str:
    """The validation report's HTML (deterministic: the same data gives the same bytes).

    Parameters
    ----------
    data : ValidationReportData
    """
    res = data.results
    d = res["decision"]
    model = res["model"]
    primary = res["primary_metric"]
    base = res["baseline"]["metrics"]
    evaluated = [s for s in res["scenarios"] if s.get("evaluated")]
    failing = d["failing_scenarios"]
    state, signoff_body = _signoff_html(data)
    tiles = [("Decision", d["decision"], f"severity-weighted failure share "
                                         f"{d['severity_weighted_failure_share']:.2f}"),
             ("Failing scenarios", f"{len(failing)} of {len(evaluated)}", "evaluated scenarios"),
             (f"Baseline {label(primary)}", metric_text(base.get(primary)), "primary metric"),
             ("Sign-off", state, "")]
    svg = _charts.svg_images([_figure(data.rows)], prefix="valid")[0]
    reasons = "".join(f"<li>{esc(r)}</li>" for r in d["rationale"])
    actions = "".join(f"<li>{esc(a)}</li>" for a in d["recommended_actions"])
    decision = (f'<p><span class="badge {esc(d["decision"])}">{esc(d["decision"])}</span> '
                f"{esc(d['rule'])}</p><h3>Reasons</h3><ul>{reasons}</ul>"
                f"<h3>Recommended actions</h3><ul>{actions}</ul>")
    thresholds = table(("Metric", "Baseline", "Threshold (largest tolerated worsening)"),
                       rows=[(label(k), metric_text(base.get(k)),
                         f"≤ {metric_text(v, digits=2)}" if k == "subgroup_delta"
                         else f"≤ {pct(v, decimal=False)}")
                        for k, v in res["thresholds"].items() if k in base or k == "subgroup_delta"],
                       numeric=(1, 2))
    data_info = res["data"]
    settings = table(("Setting", "Value"), rows=[
        ("Task", res["task"]), ("Model", f"{model['kind']} ({model.get('estimator', '')})"),
        ("Target", res["target"]),
        ("Data", f"{data_info['name']}: {data_info['n_rows']:,} rows, {data_info['n_train']:,} train "
                 f"/ {data_info['n_test']:,} test, seed {data_info['seed']}"),
        ("Subgroups", ", ".join(res["subgroups"]) or "none"),
    ])
    body = (key_figures(tiles)
            + section("Decision", decision)
            + section("Metrics against thresholds", thresholds
                      + table(DEGRADATION_COLUMNS, rows=degradation_rows(data.rows), numeric=(2, 4, 5, 6, 7)))
            + section("Degradation", figure(svg, caption="Worsening of each metric by scenario"))
            + section("Sign-off", signoff_body)
            + section("Model and data", settings))
    who = data.validator + (f" (requested by {data.requested_by})"
                            if data.requested_by and data.requested_by != data.validator else "")
    prov = Provenance(run_ids=(data.run_id,), input_hashes=tuple(sorted(data.input_hashes.items())),
                      engine_version=data.engine_version, run_by=who, run_at=data.generated_at,
                      extra=(("Sign-off", state),))
    return page(title=f"Model validation: {d['decision']}",
                subtitle=f"Validation run {data.run_id}, {model['kind']} on {data_info['name']}",
                provenance=prov, body=body)


def evidence_report(results: dict, *, rows: list[dict], run_id: str, generated_at: str, user: str,
                    input_hashes: Mapping[str, str], engine_version: str) -> bytes:
    """The validation report kept in a run's evidence (``validation_report.html``), made with
    the run, before its manifest, which hashes it. Its time is the run's (``generated_at``) and
    its sign-off state "awaiting sign-off", so the same run gives the same bytes.

    Parameters
    ----------
    results : dict
        robustness_results.json of the run.
    rows : list of dict
        performance_degradation_report.json of the run.
    input_hashes : mapping of str to str
        File name -> SHA-256 hex of the inputs (as the manifest lists them).

    Raises
    ------
    StressLabError
        If the chart cannot be drawn (no Chromium).
    """
    data = ValidationReportData(run_id=run_id, generated_at=generated_at, validator=user,
                                requested_by=None, results=results, rows=rows,
                                input_hashes=dict(input_hashes), engine_version=engine_version,
                                signoffs=None)
    return validation_html(data).encode("utf-8")
