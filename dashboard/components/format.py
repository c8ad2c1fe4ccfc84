"""Shared formatting of every page: one ``show_error``, user text shown as text, number formats
and table column formats.

Numbers are formatted for reading here; every number itself comes from an engine function.

User text (pool names and ids, scenario keys and names, column names, file names, validator
names, and engine messages that echo them) goes through :func:`plain` wherever Streamlit renders
Markdown, and through :func:`chart_text` inside Plotly figures. Where Streamlit renders Markdown
(Streamlit 1.67 docstrings, https://docs.streamlit.io/develop/api-reference): ``st.markdown``,
``st.write`` of a string, ``st.caption``, ``st.title``/``st.subheader``, the alert bodies
(``st.success``/``info``/``warning``/``error``), ``st.toast``, every ``help`` tooltip, and the
labels of widgets, ``st.metric`` (label, value and delta), ``st.expander``, ``st.status``,
``st.tabs``, ``st.progress`` text and ``st.radio`` options; labels allow "Links and Images",
which is how ``![p](http://host/x.png)`` in a pool name made every viewer's browser fetch that
URL. Shown as text, so passed as they are: ``st.text``, ``st.code``, widget *values*
(``st.text_input``), ``st.selectbox``/``st.multiselect`` options and their ``format_func``
labels, and ``st.dataframe``/``st.data_editor`` cells and headers (drawn on a canvas). Checked in
Chromium by ``tests/e2e/test_hostile_text_e2e.py``.
"""

from __future__ import annotations

import re
import string
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.state import BUSY_MESSAGE
from engine.display import chart_text, money, money_short, pct  # shared with the reports
from engine.errors import StoreBusyError, StressLabError, ValidationError

__all__ = ["plain", "chart_text", "show_error", "money", "money_short", "pct", "metric_columns", "USD",
           "USD_CHANGE"]

#: Every ASCII punctuation character: CommonMark lets a backslash escape each one, and the
#: backslash is not shown (https://spec.commonmark.org/0.31.2/#backslash-escapes).
_PUNCTUATION = re.compile(f"([{re.escape(string.punctuation)}])")


def plain(text: object) -> str:
    r"""``text`` escaped so that Streamlit's Markdown shows it as written.

    Every ASCII punctuation character gets a backslash, which Markdown drops on display: images
    and links (``![p](http://host/x.png)``), emphasis, code spans, headings, lists and tables,
    HTML tags and entities (``<img ...>``, ``&lt;``), Streamlit's directives (``:red[...]``,
    ``:material/home:``, emoji short codes) and LaTeX (``$...$``) all read literally, and the
    browser fetches nothing. Use it only where Streamlit renders Markdown (see the module
    docstring); a widget that shows text as text would show the backslashes. A bare URL such as
    ``http://host/x`` still becomes a link (Streamlit links bare URLs after escapes are read);
    nothing is fetched unless a user clicks it.

    Parameters
    ----------
    text : object
        What to show; ``str(text)`` is escaped.

    Returns
    -------
    str
        Markdown that displays ``str(text)``.

    Examples
    --------
    >>> print(plain("![p](x.png) <b>"))
    \!\[p\]\(x\.png\) \<b\>
    """
    return _PUNCTUATION.sub(r"\\\1", str(text))


def show_error(exc: StressLabError) -> None:
    """An engine error as a readable message; a validation error also as a table of issues.

    A busy store gets the plain busy message (who holds it, as plain text), never a traceback.
    The message is shown as text (:func:`plain`): it echoes file names, column names and values.
    """
    if isinstance(exc, StoreBusyError):
        st.warning(BUSY_MESSAGE, icon=":material/hourglass_top:")
        st.text(str(exc))
        return
    if isinstance(exc, ValidationError):
        head = str(exc).split("\n", 1)[0]
        st.error(plain(head))
        issues = pd.DataFrame(exc.to_records()).rename(columns={"column": "field"})
        issues["value"] = issues["value"].astype("string")
        st.dataframe(issues, hide_index=True, width="stretch",
                     column_config={"row": st.column_config.NumberColumn("row", format="%d")})
    else:
        st.error(plain(exc))


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
