"""The stress-run report: one credit stress run's pool, scenarios and results."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from engine.display import label, money, money_short, pct
from engine.render import _charts
from engine.render._html import Provenance, figure, key_figures, page, section, table, when_text

if TYPE_CHECKING:
    from engine.credit.workflow import StressRun

__all__ = ["stress_html", "scenario_rows", "SCENARIO_COLUMNS"]

#: The per-scenario table's columns (amounts USD; rates as percentages; WAL in years).
SCENARIO_COLUMNS = ("Scenario", "Key", "Status", "NPV (USD)", "NPV change (USD)", "NPV change",
                    "Loss (USD)", "Loss", f"{label('wal')} (years)", label("irr"))


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else None


def _years(x: Any) -> str:
    v = _num(x)
    return "–" if v is None else f"{v:.2f}"


def scenario_rows(run: StressRun) -> list[tuple[str, ...]]:
    """One row per scenario, as the report's table shows it (:data:`SCENARIO_COLUMNS`)."""
    rows = []
    for key, r in run.result.scenarios.items():
        m = r.metrics
        rows.append((r.scenario.name, key, r.status, money(_num(m.get("npv"))),
                     money(_num(m.get("npv_change"))),
                     pct(_num(m.get("npv_change_percent")), decimal=False, signed=True),
                     money(_num(m.get("total_loss"))),
                     pct(_num(m.get("loss_percent")), decimal=False),
                     _years(m.get("weighted_average_life")), pct(_num(m.get("irr")))))
    return rows


def _figures(run: StressRun) -> list[Any]:
    import plotly.graph_objects as go

    scen = [(k, r) for k, r in run.result.scenarios.items() if k != "base" and r.status == "success"]
    names = [_charts.chart_text(r.scenario.name) for _, r in scen]
    changes = [_num(r.metrics.get("npv_change")) or 0.0 for _, r in scen]
    npv_fig = go.Figure(go.Bar(x=names, y=changes, name="NPV change",
                               marker_color=["#cf222e" if c < 0 else "#1a7f37" for c in changes],
                               text=[money_short(c) for c in changes], textposition="outside",
                               cliponaxis=False))
    npv_fig.update_layout(**_charts.base_layout(title="NPV change by scenario (USD)",
                                                x_title="Scenario", y_title="NPV change (USD)"))
    npv_fig.update_layout(showlegend=False)
    npv_fig.update_yaxes(tickprefix="$", tickformat="~s")

    cf = run.result.cashflows_frame()
    runoff = go.Figure()
    for key, r in run.result.scenarios.items():
        part = cf[cf["scenario"] == key]
        if part.empty:
            continue
        runoff.add_trace(go.Scatter(x=part["period"].tolist(), y=part["ending_balance"].tolist(),
                                    mode="lines", name=_charts.chart_text(r.scenario.name)))
    runoff.update_layout(**_charts.base_layout(title="Balance run-off (USD)",
                                               x_title="Month", y_title="Outstanding balance (USD)"))
    runoff.update_yaxes(tickprefix="$", tickformat="~s")
    return [npv_fig, runoff]


def stress_html(run: StressRun, *, row: dict[str, Any]) -> str:
    """The stress-run report's HTML.

    Parameters
    ----------
    run : StressRun
        The stored run (:func:`engine.credit.workflow.load_run`).
    row : dict
        Its ``runs`` row (:func:`engine.reports._store.run_row`): input hash, engine version,
        requester and times.
    """
    res, req = run.result, run.request
    base = res.scenarios.get("base")
    base_npv = _num(base.metrics.get("npv")) if base is not None else None
    balance = _num(base.metrics.get("starting_balance")) if base is not None else None
    worst = res.worst_scenario()
    tiles = [("Pool balance", money_short(balance), f"{res.n_assets:,} loans"),
             (f"Base-case {label('npv')}", money_short(base_npv), "discounted at "
              + pct(res.discount_rate))]
    if worst is not None:
        tiles.append((f"Worst {label('npv')} change", money_short(_num(worst.metrics["npv_change"])),
                      f"{worst.scenario.name}, "
                      + pct(_num(worst.metrics.get("npv_change_percent")), decimal=False, signed=True)))
        tiles.append(("Worst loss", money_short(_num(worst.metrics.get("total_loss"))),
                      worst.scenario.name))
    svgs = _charts.svg_images(_figures(run), prefix="stress")
    settings = table(("Setting", "Value"), rows=[
        ("Pool", f"{res.pool_name} ({res.pool_id})"),
        ("Analysis date", res.analysis_date.isoformat()),
        ("Discount rate (annual, monthly compounded)", pct(res.discount_rate)),
        ("Projection", f"{res.projection_periods} months"),
        ("Scenarios", ", ".join(res.scenarios)),
        ("Status", row.get("status") or run.status),
    ])
    body = (key_figures(tiles)
            + section("Results by scenario",
                      table(SCENARIO_COLUMNS, rows=scenario_rows(run), numeric=range(3, 10))
                      + '<p class="note">NPV change is against the base case; loss is defaults '
                        "less recoveries over the projection, also as a share of the starting "
                        "balance. IRR is annual.</p>")
            + section("Charts", figure(svgs[0], caption="NPV change by scenario")
                      + figure(svgs[1], caption="Balance run-off by scenario"))
            + section("Settings", settings))
    who = row.get("requested_by") or f"not recorded (made from the {req.source})"
    prov = Provenance(run_ids=(run.run_id or "",),
                      input_hashes=((f"pool {res.pool_id} content", res.inputs_hash
                                     or row.get("inputs_hash") or "–"),),
                      engine_version=res.engine_version or row.get("engine_version") or "–",
                      run_by=who, run_at=when_text(row.get("started_at")),
                      extra=(("Source", req.source),))
    return page(title=f"Stress test: {res.pool_name}",
                subtitle=f"Credit stress run {run.run_id}, analysis date "
                         f"{res.analysis_date.isoformat()}",
                provenance=prov, body=body)

