"""Limit rules as a reader writes them: each rule's name and its metric in the rule's unit.

A decision keeps its metric and threshold as numbers (``Decision.metric``,
``Decision.threshold``, stored as such); its ``reason`` and the page's tables show them through
:func:`reading`: amounts in whole USD ("$1,219,960"), shares as percentages ("9.2%"), ratios
with two decimals ("2.05×"), days and counts as such. The units are those of
``engine/market/data/limits.yaml`` and :func:`engine.market.sensors.sensor_rules`.
"""

from __future__ import annotations


from engine.display import CURRENCY, is_missing, money, pct

__all__ = ["RULES", "rule_label", "reading", "comparison", "action_words"]

#: Rule → (reader's name, unit). Units: ``money`` (USD), ``share`` (decimal shown as %),
#: ``ratio`` (×), ``days``, ``count``, ``number`` (two decimals). VaR rules are ``var_<c>``.
RULES: dict[str, tuple[str, str]] = {
    "stress_loss": ("Worst stress loss", "money"),
    "scenario_failures": ("Stress windows over the loss limit", "count"),
    "tail_ratio": ("Tail ratio (ES / VaR)", "number"),
    "concentration": ("Concentration (largest position / gross)", "share"),
    "leverage": ("Leverage (gross / capital)", "ratio"),
    "liquidity": ("Liquidity (days to sell the largest position)", "days"),
    "correlation_breakdown": ("Correlation breakdown (short minus long mean correlation)",
                              "number"),
    "volatility_spike": ("Volatility spike (short / long volatility)", "ratio"),
    "drawdown": ("Drawdown from the peak", "share"),
    "turnover": ("Turnover (traded value / gross)", "share"),
}


def _rule(rule: str) -> tuple[str, str]:
    if rule.startswith("var_"):
        try:
            confidence = float(rule[4:])
        except ValueError:
            return rule, "number"
        return f"VaR {confidence * 100:g}%", "money"
    return RULES.get(rule, (rule.replace("_", " ").capitalize(), "number"))


def rule_label(rule: str) -> str:
    """The reader's name of a limit rule: ``"var_0.99"`` → ``"VaR 99%"``, ``"stress_loss"`` →
    ``"Worst stress loss"``; an unknown rule reads as itself with spaces."""
    return _rule(rule)[0]


def reading(rule: str, value: float | None) -> str:
    """A rule's metric or threshold formatted for reading in the rule's unit.

    Parameters
    ----------
    rule : str
        The rule (``Decision.rule``): ``var_<confidence>`` or a key of :data:`RULES`.
    value : float or None
        The metric or threshold; None or NaN gives "–".

    Returns
    -------
    str
        ``"$1,219,960"`` (VaR and stress loss, whole USD), ``"9.2%"`` (shares), ``"2.05×"``
        (ratios), ``"0.01 days"``, ``"1"`` (counts), ``"0.18"`` (other numbers). Never
        scientific notation.

    Examples
    --------
    >>> reading("stress_loss", 1_219_960.4)
    '$1,219,960'
    >>> reading("concentration", 0.0917766)
    '9.2%'
    """
    if is_missing(value):
        return "–"
    unit = _rule(rule)[1]
    if unit == "money":
        return money(value, currency=CURRENCY)
    if unit == "share":
        return pct(value, digits=1)
    if unit == "ratio":
        return f"{value:,.2f}×"
    if unit == "days":
        return f"{value:,.2f} days"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def comparison(rule: str, *, metric: float, threshold: float) -> str:
    """A rule's metric against its limit in words, currency named once for amounts.

    Examples
    --------
    >>> comparison("stress_loss", metric=1_219_960.4, threshold=1_200_000)
    'Worst stress loss $1,219,960 above the limit $1,200,000 (USD)'
    >>> comparison("leverage", metric=2.054, threshold=2.5)
    'Leverage (gross / capital) 2.05× within the limit 2.50×'
    """
    where = "above" if metric > threshold else "within"
    currency = f" ({CURRENCY})" if _rule(rule)[1] == "money" else ""
    return (f"{rule_label(rule)} {reading(rule, metric)} {where} the limit "
            f"{reading(rule, threshold)}{currency}")


def action_words(action: str) -> str:
    """An action code in words: ``"reduce_position"`` → ``"reduce position"``."""
    return action.replace("_", " ")
