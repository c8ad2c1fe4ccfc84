"""Numbers and terms formatted for reading, shared by the pages and the reports.

Totals a reader scans are rounded ("$147.0M", not "$147,021,215.33"); exact figures stay in
tables and downloads. Rates given as decimals (0.05) are shown as percentages ("5.00 %" is
written "5.00%"). Currency is USD unless the data says otherwise: every amount names it.

The glossary gives each abbreviation and code name the page or report shows its reader's name
and a one-line explanation, used as the label and the help text. Sources for the definitions:
SIFMA *Uniform Practices*, ch. SF (CPR, SMM, CDR, WAL); Jorion, *Value at Risk*, 3rd ed. (VaR,
ES, Kupiec and Christoffersen tests, Cornish–Fisher); Guo et al. 2017, "On Calibration of
Modern Neural Networks" (ECE); Yurdakul 2018, "Statistical properties of population stability
index" (PSI).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CURRENCY", "Term", "GLOSSARY", "term", "label", "money", "money_short", "pct",
           "pvalue", "number_short", "is_missing", "chart_text"]

#: The currency of every amount unless the data names another (ISO 4217 code).
CURRENCY = "USD"
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def is_missing(x: object) -> bool:
    """Whether ``x`` is a missing number: None, NaN (float or numpy) or pandas' NA / NaT."""
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN compares unequal to itself
    except TypeError:  # pandas.NA: "boolean value of NA is ambiguous"
        return True


def chart_text(text: object) -> str:
    """``text`` escaped so that a Plotly figure shows it as written.

    Plotly reads a subset of HTML in titles, axis ticks, legends and hover labels (``<b>``,
    ``<a href>``, ``<span style>``); a ``style`` such as ``mask-image:url(http://host/x.png)``
    makes the browser fetch the URL. Plotly shows ``&amp;``, ``&lt;`` and ``&gt;`` as the
    characters, so escaping those three leaves no tag to read. Used by the pages' charts and
    the reports' alike.
    """
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _prefix(currency: str) -> str:
    return _SYMBOLS.get(currency, f"{currency} ")


def money(x: float | None, *, currency: str = CURRENCY) -> str:
    """An exact amount in whole units with thousands separators ("$144,674,740").

    Parameters
    ----------
    x : float or None
        The amount in ``currency``; None or NaN gives "–".
    currency : str, default "USD"
        ISO 4217 code; $, € and £ are written as symbols, others as the code ("CHF 12").
    """
    if is_missing(x):
        return "–"
    sign = "-" if x < 0 else ""
    return f"{sign}{_prefix(currency)}{abs(x):,.0f}"


def money_short(x: float | None, *, currency: str = CURRENCY, digits: int = 1) -> str:
    """An amount rounded for reading: "$147.0M", "-$3.2K", "$1.5B", "$950".

    Parameters
    ----------
    x : float or None
        The amount in ``currency``; None or NaN gives "–".
    currency : str, default "USD"
        ISO 4217 code, as in :func:`money`.
    digits : int, default 1
        Decimals after the unit (K = 1e3, M = 1e6, B = 1e9, T = 1e12).

    Examples
    --------
    >>> money_short(147_021_215.33)
    '$147.0M'
    >>> money_short(-999.6)
    '-$1.0K'
    """
    if is_missing(x):
        return "–"
    sign, v = ("-" if x < 0 else ""), abs(float(x))
    return f"{sign}{_prefix(currency)}{_scaled(v, digits)}"


def number_short(x: float | None, *, digits: int = 1) -> str:
    """A count or amount without currency rounded for reading: "1.2M", "12.5K", "950"."""
    if is_missing(x):
        return "–"
    sign, v = ("-" if x < 0 else ""), abs(float(x))
    return sign + _scaled(v, digits)


def _scaled(v: float, digits: int) -> str:
    # pick the unit after rounding, so 999,960 reads "1.0M", not "1000.0K"
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if round(v / div, digits) >= 1.0:
            return f"{v / div:,.{digits}f}{unit}"
    return f"{v:,.0f}" if v >= 1 or v == 0 else f"{v:.{digits}g}"


def pct(x: float | None, *, decimal: bool = True, signed: bool = False, digits: int = 2) -> str:
    """A percentage: ``decimal`` True reads 0.05 as "5.00%"; ``signed`` adds "+" to gains."""
    if is_missing(x):
        return "–"
    v = float(x) * 100.0 if decimal else float(x)
    return f"{v:+.{digits}f}%" if signed else f"{v:.{digits}f}%"


def pvalue(p: float | None) -> str:
    """A p-value as a statistician writes it: "< 0.001" below 0.001, else 3 decimals ("0.034").

    Parameters
    ----------
    p : float or None
        A probability in [0, 1]; None or NaN gives "–".

    Raises
    ------
    ValueError
        If ``p`` lies outside [0, 1].
    """
    if is_missing(p):
        return "–"
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a p-value lies in [0, 1], got {p!r}")
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


@dataclass(frozen=True, slots=True)
class Term:
    """A term as its reader writes it, and a one-line explanation for help texts."""

    name: str
    help: str


_WAL = Term("WAL", "Weighted average life: the average time, in years, until each dollar of "
                  "principal is repaid.")

#: Code names and abbreviations → the reader's name and help text.
GLOSSARY: dict[str, Term] = {
    "npv": Term("NPV", "Net present value: the projected cashflows discounted at the discount "
                       "rate (USD)."),
    "irr": Term("IRR", "Internal rate of return: the annual rate at which the projected "
                       "cashflows' NPV equals the pool balance."),
    "wal": _WAL,
    "weighted_average_life": _WAL,
    "duration": Term("Duration", "Macaulay duration in years: the cashflow-weighted average "
                                 "time to payment."),
    "cpr": Term("CPR", "Conditional prepayment rate: the annualised share of balance prepaid."),
    "smm": Term("SMM", "Single monthly mortality: the monthly share prepaid; "
                       "1 − (1 − CPR)^(1/12)."),
    "cdr": Term("CDR", "Conditional default rate: the annualised share of balance defaulting."),
    "wa_cdr": Term("Weighted average CDR", "The pool's conditional default rate, weighted by "
                                           "loan balance."),
    "wac": Term("Weighted average rate", "The pool's note rate, weighted by loan balance "
                                         "(WAC, weighted average coupon)."),
    "wam": Term("Weighted average maturity", "The remaining term in months, weighted by loan "
                                             "balance (WAM; also WART, weighted average "
                                             "remaining term)."),
    "lgd": Term("LGD", "Loss given default: the share of a defaulted balance not recovered."),
    "recovery_rate": Term("Recovery rate", "The share of a defaulted balance recovered."),
    "interest_rate_shock": Term("Interest-rate shock", "A parallel shift of the discount rate, "
                                                       "in percentage points."),
    "var": Term("VaR", "Value at risk: the loss not exceeded with the stated confidence over "
                       "the horizon."),
    "es": Term("ES", "Expected shortfall: the average loss beyond the VaR."),
    "historical": Term("Historical", "VaR from the empirical quantile of past returns."),
    "parametric": Term("Parametric (normal)", "VaR from a normal distribution fitted to past "
                                              "returns."),
    "cornish_fisher": Term("Cornish–Fisher", "Parametric VaR with the normal quantile adjusted "
                                             "for the returns' skewness and kurtosis."),
    "monte_carlo": Term("Monte Carlo", "VaR from simulated returns."),
    "kupiec": Term("Kupiec test", "Proportion-of-failures test: are there as many VaR breaches "
                                  "as the confidence implies?"),
    "christoffersen": Term("Christoffersen test", "Independence test: do VaR breaches cluster?"),
    "traffic_light": Term("Traffic light", "Basel backtesting zone (green, yellow, red) from the "
                                           "number of breaches in 250 days."),
    "auc": Term("AUC", "Area under the ROC curve: 0.5 is chance, 1 is perfect ranking."),
    "ece": Term("ECE", "Expected calibration error: the average gap between predicted and "
                       "observed default rates across probability bins."),
    "rmse": Term("RMSE", "Root mean squared error of the predictions."),
    "psi": Term("PSI", "Population stability index: how far a feature's distribution moved; "
                       "above 0.25 is a major shift."),
    "ks_p_value": Term("KS p-value", "Kolmogorov–Smirnov test p-value: a small value means the "
                                     "stressed distribution differs from the original."),
    "ks_statistic": Term("KS statistic", "The largest gap between the two cumulative "
                                         "distributions."),
}


def term(key: str) -> Term:
    """The reader's name and help text for ``key`` (case-insensitive); an unknown key reads as
    itself with underscores as spaces and no help text."""
    found = GLOSSARY.get(key.lower())
    if found is not None:
        return found
    words = key.replace("_", " ").strip()
    return Term(words[:1].upper() + words[1:], "")


def label(key: str) -> str:
    """Just the reader's name of ``key`` (see :func:`term`)."""
    return term(key).name
