"""The limit-evaluation report: one market-risk limit evaluation's VaR and ES against their
limits, every rule's decision, the breaches and the enforcement mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.display import label, money, money_short, pct
from engine.render._html import Provenance, key_figures, page, section, table, when_text

__all__ = ["limits_html", "rule_rows", "metric_text", "RULE_COLUMNS", "VAR_COLUMNS", "var_rows"]

RULE_COLUMNS = ("Rule", "Sensor", "Figure", "Limit", "Use of limit", "Breached",
                "Configured action", "Action taken", "Enforced")
VAR_COLUMNS = ("Measure", "Confidence", "Value (USD)", "Limit (USD)", "Use of limit", "Breached")
#: Rules whose figure is an amount (USD); the others are ratios or counts.
_AMOUNT_PREFIXES = ("var_", "stress_loss")
_SHARES = {"concentration", "drawdown", "turnover"}


def metric_text(rule: str, value: float) -> str:
    """A rule's figure as the report shows it: amounts exact in USD, shares as percentages,
    counts whole, other ratios with three decimals."""
    if rule.startswith(_AMOUNT_PREFIXES):
        return money(value)
    if rule in _SHARES:
        return pct(value)
    if rule == "scenario_failures":
        return f"{value:,.0f}"
    return f"{value:,.3f}"


def _yes(b: bool) -> str:
    return "yes" if b else "no"


def rule_rows(decisions: list[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """Every rule's decision as the report's table shows it (:data:`RULE_COLUMNS`)."""
    return [(d["rule"], label(d["sensor"]), metric_text(d["rule"], d["metric"]),
             metric_text(d["rule"], d["threshold"]), pct(d["utilisation"], digits=1),
             _yes(d["breached"]), d["configured_action"], d["action"], _yes(d["enforced"]))
            for d in decisions]


def var_rows(snapshot: Mapping[str, Any], decisions: list[Mapping[str, Any]]) -> list[tuple[str, ...]]:
    """VaR at each confidence and ES, against their limits (:data:`VAR_COLUMNS`)."""
    by_rule = {d["rule"]: d for d in decisions}
    rows = []
    for conf, value in sorted(snapshot["var"].items(), key=lambda kv: float(kv[0])):
        d = by_rule.get(f"var_{conf}")
        rows.append((label("var"), pct(float(conf), digits=1), money(value),
                     money(d["threshold"]) if d else "no limit",
                     pct(d["utilisation"], digits=1) if d else "–", _yes(d["breached"]) if d else "–"))
    rows.append((label("es"), pct(snapshot["es_confidence"], digits=1), money(snapshot["es"]),
                 "no limit (see tail ratio)", "–", "–"))
    return rows


def limits_html(evaluation: Mapping[str, Any], *, row: Mapping[str, Any]) -> str:
    """The limit-evaluation report's HTML.

    Parameters
    ----------
    evaluation : mapping
        The stored evaluation (:func:`engine.reports._store.evaluation_row`).
    row : mapping
        Its ``runs`` row (:func:`engine.reports._store.run_row`).
    """
    snap, decisions = evaluation["snapshot"], evaluation["decisions"]
    breached = [d for d in decisions if d["breached"]]
    var99 = snap["var"].get("0.99")
    var_limit = next((d for d in decisions if d["rule"] == "var_0.99"), None)
    tiles = [("Mode", evaluation["mode"], "enforcement mode"),
             ("Action", evaluation["action"], "the strongest action decided"),
             (f"{label('var')} 99%", money_short(var99),
              f"limit {money_short(var_limit['threshold'])}" if var_limit else "no limit"),
             (f"{label('es')} {pct(snap['es_confidence'], digits=1)}", money_short(snap["es"]),
              f"{snap['var_method']} method"),
             ("Breaches", f"{len(breached)}", f"of {len(decisions)} rules")]
    if breached:
        brows = [(d["rule"], metric_text(d["rule"], d["metric"]), metric_text(d["rule"], d["threshold"]),
                  d["configured_action"], d["action"], _yes(d["enforced"])) for d in breached]
        breach_body = table(("Rule", "Figure", "Limit", "Configured action", "Action taken", "Enforced"),
                            rows=brows, numeric=(1, 2))
        if evaluation["mode"] == "monitoring":
            breach_body += ('<p class="note">Monitoring mode: breaches are recorded and warned '
                            "about; no action is enforced.</p>")
    else:
        breach_body = "<p>No limit is breached.</p>"
    settings = table(("Setting", "Value"), rows=[
        ("Prices as of", snap["as_of"]), ("Gross exposure", money(snap["gross_exposure"])),
        (f"{label('var')} method", label(snap["var_method"])),
        ("Stress losses", "; ".join(f"{k}: {money(v)}" for k, v in snap["stress_losses"].items())
         or "none"),
    ])
    body = (key_figures(tiles)
            + section(f"{label('var')} and {label('es')} against limits",
                      table(VAR_COLUMNS, rows=var_rows(snap, decisions), numeric=(2, 3, 4)))
            + section("Breaches", breach_body)
            + section("Every rule", table(RULE_COLUMNS, rows=rule_rows(decisions), numeric=(2, 3, 4)))
            + section("Inputs", settings))
    prov = Provenance(run_ids=(evaluation["evaluation_id"],),
                      input_hashes=(("limit evaluation request", row.get("inputs_hash") or "–"),),
                      engine_version=row.get("engine_version") or "–",
                      run_by=row.get("requested_by") or "not recorded",
                      run_at=when_text(evaluation["evaluated_at"]),
                      extra=(("Audit record", f"#{evaluation['audit_seq']}"),))
    return page(title=f"Limit evaluation: {evaluation['action']} ({evaluation['mode']} mode)",
                subtitle=f"Market-risk limit evaluation {evaluation['evaluation_id']}, prices as of "
                         f"{snap['as_of']}",
                provenance=prov, body=body)
