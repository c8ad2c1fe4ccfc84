"""The live risk desk: positions and P&L on a replayed price feed, the risk score, alert rules.

One private module per concept, re-exported here:

- :mod:`engine.live._inputs`: the trade blotter, the price feed and the accounts file;
- :mod:`engine.live._positions`: positions at average cost (NautilusTrader's conventions),
  marks, P&L and account ratios of many accounts (:class:`Book`);
- :mod:`engine.live._var`: daily closes, var_95 and the exposure correlation;
- :mod:`engine.live._risk`: the risk score, limit breaches, trading states, the pre-trade check
  and the circuit breaker;
- :mod:`engine.live._analytics`: Sharpe, volatility, max drawdown and attribution
  (quantstats/empyrical definitions);
- :mod:`engine.live._alerts`: alert rules, de-duplication and escalation;
- :mod:`engine.live._compliance`: compliance rules in YAML and their check;
- :mod:`engine.live._replay`: the replay loop (pre-trade check, risk updates, batches).

Each module's docstring states its conventions and their sources. Everything above is pure
computation: no store, no clock (times are passed in). The user actions are in
:mod:`engine.live.workflow` (storage in :mod:`engine.live._store`, SQL only there), the command
in :mod:`engine.live.cli`. Names load on first use (PEP 562).
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_LAZY: dict[str, str] = {
    # inputs
    "CLOSE_TIME_UTC": "engine.live._inputs",
    "PRICE_COLUMNS": "engine.live._inputs",
    "TRADE_COLUMNS": "engine.live._inputs",
    "Account": "engine.live._inputs",
    "AccountLimits": "engine.live._inputs",
    "AccountsConfig": "engine.live._inputs",
    "bundled_price_feed": "engine.live._inputs",
    "parse_accounts": "engine.live._inputs",
    "read_accounts": "engine.live._inputs",
    "read_price_feed": "engine.live._inputs",
    "read_trades": "engine.live._inputs",
    "read_yaml": "engine.live._inputs",
    "YamlDocument": "engine.live._inputs",
    "validate_price_feed": "engine.live._inputs",
    "validate_trades": "engine.live._inputs",
    "wide_to_long": "engine.live._inputs",
    # positions and P&L
    "NS_PER_DAY": "engine.live._positions",
    "QTY_TOLERANCE": "engine.live._positions",
    "AccountSnapshot": "engine.live._positions",
    "Book": "engine.live._positions",
    "Fill": "engine.live._positions",
    "PLSnapshot": "engine.live._positions",
    "apply_fill": "engine.live._positions",
    "merge_events": "engine.live._positions",
    "timestamps_ns": "engine.live._positions",
    # VaR and correlation
    "MIN_VAR_OBSERVATIONS": "engine.live._var",
    "VAR_CONFIDENCE": "engine.live._var",
    "VAR_LOOKBACK_DAYS": "engine.live._var",
    "ReturnWindow": "engine.live._var",
    "daily_closes": "engine.live._var",
    "exposure_correlation": "engine.live._var",
    "var_95": "engine.live._var",
    # risk score, states, pre-trade check
    "COMPONENTS": "engine.live._risk",
    "LIMIT_KEYS": "engine.live._risk",
    "RISK_LEVELS": "engine.live._risk",
    "WEIGHTS": "engine.live._risk",
    "AccountRisk": "engine.live._risk",
    "Breach": "engine.live._risk",
    "CircuitBreaker": "engine.live._risk",
    "RiskScoreConfig": "engine.live._risk",
    "TradeCheck": "engine.live._risk",
    "TradingState": "engine.live._risk",
    "assess_risk": "engine.live._risk",
    "check_trade": "engine.live._risk",
    "circuit_breaker_state": "engine.live._risk",
    "limit_breaches": "engine.live._risk",
    "risk_components": "engine.live._risk",
    "risk_level": "engine.live._risk",
    "risk_score": "engine.live._risk",
    # portfolio analytics
    "BUNDLED_SECTORS": "engine.live._analytics",
    "TRADING_DAYS": "engine.live._analytics",
    "PortfolioAnalytics": "engine.live._analytics",
    "annual_volatility": "engine.live._analytics",
    "equity_returns": "engine.live._analytics",
    "max_drawdown": "engine.live._analytics",
    "performance_attribution": "engine.live._analytics",
    "portfolio_analytics": "engine.live._analytics",
    "sharpe_ratio": "engine.live._analytics",
    # compliance
    "ACCOUNT_METRICS": "engine.live._compliance",
    "INSTRUMENT_METRICS": "engine.live._compliance",
    "ComplianceReport": "engine.live._compliance",
    "ComplianceRule": "engine.live._compliance",
    "ComplianceRules": "engine.live._compliance",
    "RuleResult": "engine.live._compliance",
    "check_compliance": "engine.live._compliance",
    "parse_compliance_rules": "engine.live._compliance",
    "read_compliance_rules": "engine.live._compliance",
    # the replay loop
    "ReplayConfig": "engine.live._replay",
    # alerts
    "BREACH_SEVERITY": "engine.live._alerts",
    "LEVEL_SEVERITY": "engine.live._alerts",
    "Alert": "engine.live._alerts",
    "AlertConfig": "engine.live._alerts",
    "AlertState": "engine.live._alerts",
    "escalate": "engine.live._alerts",
    "evaluate_alerts": "engine.live._alerts",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
