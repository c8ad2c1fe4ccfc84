"""Market risk: VaR and ES, backtests, stress replay, limits, enforcement and its audit trail.

The user's actions (record a VaR report, backtest, evaluate the limits, switch the mode, mark a
false positive, read the stored state and metrics) are the functions of
:mod:`engine.market.workflow`, called alike by the CLI and the page; :mod:`engine.market._store`
holds the market tables' SQL.

Conventions (ARCHITECTURE.md, "Market risk conventions"): simple returns, loss positive,
historical VaR = the ``ceil(c * n)``-th smallest loss, ES = mean of the losses at or beyond VaR.
Names are imported lazily on first use (PEP 562), so that ``stresslab --help`` (which imports
``engine.market.cli``) does not load numpy, pandas or scipy.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "BacktestResult": "engine.market.backtest",
    "BacktestRun": "engine.market.backtest",
    "Decision": "engine.market.enforcement",
    "Evaluation": "engine.market.enforcement",
    "LimitsConfig": "engine.market.limits",
    "METHODS": "engine.market.var",
    "PREDEFINED_WINDOWS": "engine.market.stress",
    "RiskSnapshot": "engine.market.sensors",
    "SENSORS": "engine.market.sensors",
    "SensorStatus": "engine.market.sensors",
    "StressResult": "engine.market.stress",
    "StressWindow": "engine.market.stress",
    "TrafficLight": "engine.market.backtest",
    "VaRReport": "engine.market.var",
    "backtest": "engine.market.backtest",
    "christoffersen": "engine.market.backtest",
    "compare_methods": "engine.market.var",
    "compute_snapshot": "engine.market.sensors",
    "cornish_fisher_es": "engine.market.var",
    "cornish_fisher_var": "engine.market.var",
    "decide": "engine.market.enforcement",
    "evaluate": "engine.market.enforcement",
    "historical_es": "engine.market.var",
    "historical_var": "engine.market.var",
    "kupiec_pof": "engine.market.backtest",
    "load_bundled_prices": "engine.market.data_io",
    "load_default_limits": "engine.market.limits",
    "load_default_positions": "engine.market.data_io",
    "load_limits": "engine.market.limits",
    "monte_carlo_losses": "engine.market.var",
    "parametric_es": "engine.market.var",
    "parametric_var": "engine.market.var",
    "parse_limits": "engine.market.limits",
    "portfolio_losses": "engine.market.var",
    "position_values": "engine.market.data_io",
    "read_positions_csv": "engine.market.data_io",
    "read_prices_csv": "engine.market.data_io",
    "replay": "engine.market.stress",
    "replay_all": "engine.market.stress",
    "rolling_var": "engine.market.backtest",
    "sensor_status": "engine.market.sensors",
    "sensor_statuses": "engine.market.sensors",
    "simple_returns": "engine.market.data_io",
    "traffic_light": "engine.market.backtest",
    "validate_positions": "engine.market.data_io",
    "validate_prices": "engine.market.data_io",
}

__all__ = [
    "METHODS", "PREDEFINED_WINDOWS", "SENSORS",
    "BacktestResult", "BacktestRun", "Decision", "Evaluation", "LimitsConfig", "RiskSnapshot",
    "SensorStatus", "StressResult", "StressWindow", "TrafficLight", "VaRReport",
    "backtest", "christoffersen", "compare_methods", "compute_snapshot", "cornish_fisher_es",
    "cornish_fisher_var", "decide", "evaluate", "historical_es", "historical_var", "kupiec_pof",
    "load_bundled_prices", "load_default_limits", "load_default_positions", "load_limits",
    "monte_carlo_losses", "parametric_es", "parametric_var", "parse_limits", "portfolio_losses",
    "position_values", "read_positions_csv", "read_prices_csv", "replay", "replay_all",
    "rolling_var", "sensor_status", "sensor_statuses", "simple_returns", "traffic_light",
    "validate_positions", "validate_prices",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
