"""Zero curves for discounting: bootstrapped from the US Treasury daily par yield curve.

The bundled file (``data/us_treasury_par_yields``, see its PROVENANCE.md) holds Treasury's daily
par yields, 1990-01-02 … 2022-03-11, in percent, on a bond-equivalent basis.

**Method** (:func:`bootstrap`), for one curve date:

1. *Missing values.* The file writes a missing yield as 0.0, but some zeros are real prints, so
   zeros are read per column and period (:data:`MISSING_AS_ZERO`): the 1-month yield before its
   first print (2001-07-31), the 20-year before its reintroduction (1993-10-01) and the 30-year
   in its discontinuation (2002-02-19 … 2006-02-08) are missing; every other 0.0 (3-month bills
   in December 2008 or March 2020, 1-month bills 2008–2021) is a yield of zero.
2. *Bills* (1 and 3 months) are read as bond-equivalent yields of a single payment, i.e. simple
   interest on an actual/365 basis, taken here as ``P(t) = 1 / (1 + y t)`` with ``t`` the tenor
   in years (1/12, 1/4).
3. *Coupon nodes.* Par yields are interpolated linearly in maturity at the semi-annual nodes
   ``t = 0.5, 1.0, …, 30`` from the 6-month to 30-year tenors available that day (held flat
   beyond the longest tenor, e.g. at the 20-year yield while the 30-year was not issued). A par
   bond maturing at node ``n`` pays ``y/2`` every half year and 1 at maturity and is priced at 1,
   which gives ``P(t_n) = (1 - y/2 * sum_{i<n} P(t_i)) / (1 + y/2)``; at 0.5 years this is
   ``1 / (1 + y/2)`` (Hull, *Options, Futures, and Other Derivatives*, 10th ed., 4.7, the
   bootstrap method; Treasury, "Daily Treasury Par Yield Curve Rates", methodology: par yields
   on a semi-annual bond-equivalent basis).
4. *Between nodes* the discount factor is interpolated log-linearly in time (piecewise constant
   continuously compounded forward rates), from ``P(0) = 1``; beyond 30 years the last
   forward rate is held.

**Day count.** Time is in years with month ``k`` at ``t = k / 12`` (months as 1/12 year), as in
the rest of the credit engine; the curve is read at those times.

**Spread and shifts.** A spread ``s`` (and a scenario's parallel shift) is added to the
continuously compounded zero rate: ``P_s(t) = P(t) exp(-s t)``.

Our own code: about forty lines of numpy, checked against QuantLib (``ql.DiscountCurve``,
``ql.ZeroSpreadedTermStructure``, ``DiscountingBondEngine``) in the tests, where QuantLib is a
dev dependency only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from engine.bundled import data_file
from engine.errors import InputError

__all__ = [
    "CURVE_FOLDER",
    "CURVE_FILE",
    "TENORS",
    "MISSING_AS_ZERO",
    "CURVE_METHOD",
    "ZeroCurve",
    "bootstrap",
    "par_yields",
    "curve_dates",
    "treasury_curve",
    "source_sha256",
]

CURVE_FOLDER = "us_treasury_par_yields"
CURVE_FILE = "ust_daily_par_yields_1990_2022.csv.gz"

#: Column of the file → tenor in years.
TENORS: dict[str, float] = {
    "BC_1MONTH": 1 / 12, "BC_3MONTH": 0.25, "BC_6MONTH": 0.5, "BC_1YEAR": 1.0, "BC_2YEAR": 2.0,
    "BC_3YEAR": 3.0, "BC_5YEAR": 5.0, "BC_7YEAR": 7.0, "BC_10YEAR": 10.0, "BC_20YEAR": 20.0,
    "BC_30YEAR": 30.0,
}

#: Column → (first, last) date between which a 0.0 means "not published"; elsewhere 0.0 is a
#: yield of zero (see the PROVENANCE caveat).
MISSING_AS_ZERO: dict[str, tuple[date, date]] = {
    "BC_1MONTH": (date(1990, 1, 1), date(2001, 7, 30)),
    "BC_20YEAR": (date(1990, 1, 1), date(1993, 9, 30)),
    "BC_30YEAR": (date(2002, 2, 18), date(2006, 2, 8)),
}

#: One line for captions and stored results.
CURVE_METHOD = (
    "US Treasury par yields (bond-equivalent, semi-annual) bootstrapped to a zero curve: bills "
    "(1M, 3M) as simple yields, par yields interpolated linearly at semi-annual nodes to 30 "
    "years, discount factors log-linear between nodes (last forward rate held beyond 30 years); "
    "months as 1/12 year; spread and scenario shifts added to the continuously compounded zero "
    "rate")

_BILLS = ("BC_1MONTH", "BC_3MONTH")
_NODES = np.arange(1, 61, dtype=np.float64) / 2.0  # 0.5 … 30 years


@dataclass(frozen=True, eq=False)
class ZeroCurve:
    """A discount curve given by its nodes; read by log-linear interpolation of discount factors.

    Attributes
    ----------
    times : ndarray of shape (n_nodes,)
        Node times in years, increasing, > 0.
    discount : ndarray of shape (n_nodes,)
        Discount factor at each node, in (0, inf).
    curve_date : date or None
        The date asked for.
    date_used : date or None
        The file's date the curve was built from (the nearest earlier one when ``curve_date``
        is not in the file).
    par : dict of str to float
        Tenor column → par yield used, decimal (missing tenors left out).
    source : str
        Where the yields came from.
    source_sha256 : str
        SHA-256 of the source file ("" for a curve built from given rates).
    """

    times: np.ndarray
    discount: np.ndarray
    curve_date: date | None = None
    date_used: date | None = None
    par: dict[str, float] = field(default_factory=dict)
    source: str = ""
    source_sha256: str = ""

    @classmethod
    def from_zero_rates(cls, times: np.ndarray, rates: np.ndarray, **meta) -> "ZeroCurve":
        """A curve from continuously compounded zero rates at ``times`` (years).

        Parameters
        ----------
        times, rates : ndarray of shape (n_nodes,)
            Increasing times > 0 and zero rates, annual decimal, continuously compounded.
        """
        t = np.asarray(times, dtype=np.float64)
        return cls(times=t, discount=np.exp(-np.asarray(rates, dtype=np.float64) * t), **meta)

    def discount_at(self, t: np.ndarray) -> np.ndarray:
        """Discount factors at times ``t`` (years, >= 0), log-linear between nodes.

        Parameters
        ----------
        t : ndarray of shape (n,)

        Returns
        -------
        ndarray of shape (n,)
            ``P(t)``; ``P(0) = 1``; beyond the last node the last segment's forward rate is held.
        """
        t = np.asarray(t, dtype=np.float64)
        nodes = np.concatenate([[0.0], self.times])
        logs = np.concatenate([[0.0], np.log(self.discount)])
        out = np.interp(t, nodes, logs)
        beyond = t > nodes[-1]
        if beyond.any():
            fwd = (logs[-1] - logs[-2]) / (nodes[-1] - nodes[-2])
            out[beyond] = logs[-1] + fwd * (t[beyond] - nodes[-1])
        return np.exp(out)

    def monthly_discount(self, n_months: int) -> np.ndarray:
        """``P(k / 12)`` for months k = 1 … n_months, shape (n_months,)."""
        return self.discount_at(np.arange(1, n_months + 1, dtype=np.float64) / 12.0)

    def zero_rates(self, t: np.ndarray) -> np.ndarray:
        """Continuously compounded zero rates ``-log P(t) / t`` at times ``t`` > 0 (years),
        annual decimal, shape of ``t``."""
        t = np.asarray(t, dtype=np.float64)
        return -np.log(self.discount_at(t)) / t

    def describe(self) -> dict[str, object]:
        """What a run records about the curve: dates, source, its hash and the par yields."""
        return {
            "curve_date": self.curve_date.isoformat() if self.curve_date else None,
            "curve_date_used": self.date_used.isoformat() if self.date_used else None,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "par_yields": dict(self.par),
            "method": CURVE_METHOD,
        }


def bootstrap(par: dict[str, float], **meta) -> ZeroCurve:
    """Bootstrap a zero curve from one day's par yields (method in the module docstring).

    Parameters
    ----------
    par : dict of str to float
        Column of :data:`TENORS` → par yield, annual decimal, bond-equivalent; missing tenors
        left out. The 6-month yield is required.
    **meta
        ``curve_date``, ``date_used``, ``source``, ``source_sha256`` of the :class:`ZeroCurve`.

    Returns
    -------
    ZeroCurve
        Nodes at the bills given (1M, 3M) and every half year from 0.5 to 30 years.

    Raises
    ------
    InputError
        Without a 6-month yield, or with an unknown column.
    """
    unknown = set(par) - set(TENORS)
    if unknown:
        raise InputError(f"unknown par yield tenor(s) {sorted(unknown)}; known: {list(TENORS)}")
    if "BC_6MONTH" not in par:
        raise InputError("a par yield curve needs the 6-month yield")
    bill_t = [TENORS[c] for c in _BILLS if c in par]
    bill_p = [1.0 / (1.0 + par[c] * TENORS[c]) for c in _BILLS if c in par]
    coupon_cols = [c for c in TENORS if c not in _BILLS and c in par]
    ys = np.interp(_NODES, [TENORS[c] for c in coupon_cols], [par[c] for c in coupon_cols])
    disc = np.empty_like(_NODES)
    annuity = 0.0  # sum of the discount factors of earlier coupon dates
    for i, y in enumerate(ys):
        c = y / 2.0
        disc[i] = (1.0 - c * annuity) / (1.0 + c)
        annuity += disc[i]
    if not np.all(disc > 0):
        raise InputError("the par yields give a non-positive discount factor; check the yields")
    return ZeroCurve(times=np.concatenate([bill_t, _NODES]),
                     discount=np.concatenate([bill_p, disc]), par=dict(par), **meta)


@lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    frame = pd.read_csv(data_file(CURVE_FOLDER, CURVE_FILE), parse_dates=["date"])
    frame["date"] = frame["date"].dt.date
    for col, (first, last) in MISSING_AS_ZERO.items():
        gap = (frame["date"] >= first) & (frame["date"] <= last) & (frame[col] == 0.0)
        frame.loc[gap, col] = np.nan
    return frame.set_index("date")[list(TENORS)] / 100.0


@lru_cache(maxsize=1)
def source_sha256() -> str:
    """SHA-256 of the bundled par yield file (hex), recorded with every curve run."""
    return hashlib.sha256(data_file(CURVE_FOLDER, CURVE_FILE).read_bytes()).hexdigest()


def curve_dates() -> tuple[date, date]:
    """The first and last dates of the bundled par yield file."""
    idx = _table().index
    return idx[0], idx[-1]


def par_yields(curve_date: date) -> tuple[date, dict[str, float]]:
    """The par yields of ``curve_date``, or of the nearest earlier date in the file.

    Returns
    -------
    (date, dict of str to float)
        The date used and column → par yield, annual decimal (missing tenors left out).

    Raises
    ------
    InputError
        If ``curve_date`` lies before the file's first date or after its last.
    """
    table = _table()
    first, last = table.index[0], table.index[-1]
    if not first <= curve_date <= last:
        raise InputError(f"curve date {curve_date.isoformat()} is outside the Treasury par yield "
                         f"file, {first.isoformat()} … {last.isoformat()}; pick a date in it")
    pos = table.index.searchsorted(curve_date, side="right") - 1
    used = table.index[pos]
    row = table.iloc[pos]
    return used, {c: float(v) for c, v in row.items() if not np.isnan(v)}


def treasury_curve(curve_date: date) -> ZeroCurve:
    """The zero curve bootstrapped from the Treasury par yields of ``curve_date``.

    A date that is not in the file (a weekend, a holiday) uses the nearest earlier date;
    :attr:`ZeroCurve.date_used` says which.

    Raises
    ------
    InputError
        If ``curve_date`` is outside the file (:func:`curve_dates`).
    """
    used, par = par_yields(curve_date)
    return bootstrap(par, curve_date=curve_date, date_used=used,
                     source=f"data/{CURVE_FOLDER}/{CURVE_FILE}", source_sha256=source_sha256())
