"""Shared formatting of every page: one ``show_error``, number formats and table column formats.

Numbers are formatted for reading here; every number itself comes from an engine function.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.state import BUSY_MESSAGE
from engine.errors import StoreBusyError, StressLabError, ValidationError

__all__ = ["show_error", "money", "money_short", "pct", "metric_columns", "USD", "USD_CHANGE"]


def show_error(exc: StressLabError) -> None:
    """An engine error as a readable message; a validation error also as a table of issues.

    A busy store gets the plain busy message (who holds it, as plain text), never a traceback.
    """
    if isinstance(exc, StoreBusyError):
        st.warning(BUSY_MESSAGE, icon=":material/hourglass_top:")
        st.text(str(exc))
        return
    if isinstance(exc, ValidationError):
        head = str(exc).split("\n", 1)[0]
        st.error(head)
        issues = pd.DataFrame(exc.to_records()).rename(columns={"column": "field"})
        issues["value"] = issues["value"].astype("string")
        st.dataframe(issues, hide_index=True, width="stretch",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    else:
        st.error(str(exc))


def money(x: float | None) -> str:
    """USD with thousands separators, no cents ("$144,674,740")."""
    if x is None or pd.isna(x):
        return "–"
    return f"-${-x:,.0f}" if x < 0 else f"${x:,.0f}"


def money_short(x: float | None) -> str:
    """USD in thousands, millions or billions with 2 decimals ("$144.67M"), for headline figures."""
    if x is None or pd.isna(x):
        return "–"
    sign, v = ("-" if x < 0 else ""), abs(x)
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if v >= div:
            return f"{sign}${v / div:,.2f}{unit}"
    return f"{sign}${v:,.0f}"


def pct(x: float | None, *, decimal: bool = True, signed: bool = False) -> str:
    """A percentage with 2 decimals; ``decimal`` True means 0.05 is 5.00 %."""
    if x is None or pd.isna(x):
        return "–"
    v = x * 100.0 if decimal else x
    return f"{v:+.2f}%" if signed else f"{v:.2f}%"


#: Table format for currency: whole dollars with thousands separators.
USD = "$%,.0f"
#: A change in currency: signed whole dollars (the column label carries "USD").
USD_CHANGE = "%,.0f"

#: How each metric column is shown in tables (unit in the label).
_METRIC_FORMATS: dict[str, tuple[str, str]] = {
    "npv": ("NPV (USD)", USD),
    "npv_change": ("NPV change (USD)", USD_CHANGE),
    "npv_change_percent": ("NPV change (%)", "%.2f%%"),
    "irr": ("IRR (annual)", "percent"),
    "starting_balance": ("Starting balance (USD)", USD),
    "total_principal": ("Principal (USD)", USD),
    "total_principal_change": ("Principal change (USD)", USD_CHANGE),
    "total_interest": ("Interest (USD)", USD),
    "total_interest_change": ("Interest change (USD)", USD_CHANGE),
    "total_prepayment": ("Prepayment (USD)", USD),
    "total_scheduled_principal": ("Scheduled principal (USD)", USD),
    "total_default": ("Defaults (USD)", USD),
    "total_recovery": ("Recoveries (USD)", USD),
    "total_loss": ("Loss (USD)", USD),
    "total_loss_change": ("Loss change (USD)", USD_CHANGE),
    "loss_percent": ("Loss (% of balance)", "%.2f%%"),
    "loss_percent_change": ("Loss change (pp)", "%+.2f"),
    "residual_balance": ("Residual balance (USD)", USD),
    "duration": ("Duration (years)", "%.2f"),
    "duration_change": ("Duration change (years)", "%+.2f"),
    "modified_duration": ("Modified duration (years)", "%.2f"),
    "convexity": ("Convexity", "%.2f"),
    "weighted_average_life": ("WAL (years)", "%.2f"),
    "weighted_average_life_change": ("WAL change (years)", "%+.2f"),
    "discount_yield": ("Discount yield (annual)", "percent"),
    "irr_change": ("IRR change (annual)", "percent"),
    "npv_change_change": ("", USD),
    "execution_time": ("Time (s)", "%.3f"),
    "starting_balance_change": ("", USD),
    "n_assets": ("Loans", "%,d"),
    "balance": ("Balance (USD)", USD),
    "total_balance": ("Balance (USD)", USD),
    "balance_share": ("Share of balance", "percent"),
}


def metric_columns(columns: list[str] | pd.Index) -> dict[str, Any]:
    """``column_config`` for every known numeric column among ``columns``."""
    out: dict[str, Any] = {}
    for c in columns:
        if c in _METRIC_FORMATS:
            label, fmt = _METRIC_FORMATS[c]
            out[c] = st.column_config.NumberColumn(label or c, format=fmt)
        elif c == "npv_change" or c.endswith("_change"):
            out[c] = st.column_config.NumberColumn(c, format="%.2f")
    return out
