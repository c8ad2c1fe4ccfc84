"""Loan-level cashflow projection under one scenario, vectorized across loans.

Conventions (each as the issue and ARCHITECTURE.md fix them):

* Monthly periods. Month ``k`` (1-based) is paid at ``t = k / 12`` years after the analysis date.
* Remaining term ``n = term - age``; the level payment is re-amortized every month on the
  surviving balance over the remaining term, so scheduled principal in a month with ``m`` months
  left is ``P * c / ((1 + c) ** m - 1)`` on performing balance ``P`` at monthly coupon ``c``
  (Fabozzi, *The Handbook of Mortgage-Backed Securities*, 7th ed., ch. 1, level-payment
  amortization; the same recursion as the Bond Market Association's *Uniform Practices*,
  "Standard Formulas", section C.1, used for projecting MBS cashflows).
* Annual CPR -> SMM ``= 1 - (1 - CPR) ** (1/12)``; annual CDR -> MDR the same way (SIFMA
  *Uniform Practices*, "Standard Formulas", SMM/CPR and MDR/CDR). The scenario multiplier scales
  the monthly rate, and the result is capped to [0, 1].
* Order within a month: default ``D = MDR * B`` comes off the beginning balance ``B``; interest
  ``P * c`` and scheduled principal are paid on the performing balance ``P = B - D``; prepayment
  ``SMM * (P - scheduled)`` comes off what remains after scheduled principal.
* Recovery ``= D * min(recovery_rate * recovery_multiplier, 1)`` arrives ``recovery_lag`` months
  after the default month; loss ``= D - recovery`` is recognised in the default month.
* Fixed coupons stay; floating coupons move by ``interest_rate_shock``, floored at 0.
* Status: ``default`` loans are written off in month 1 (MDR = 1) and recover after their lag;
  ``delinquent`` loans default at an annual CDR of at least their class's
  ``delinquent_default_probability`` (assumption table); ``paid_off`` loans have no cashflows.
* Path scenarios (a :class:`~engine.credit._scenarios.FactorPath`): month ``k``'s SMM and MDR
  are the loan's times month ``k``'s multipliers (capped at 1), a default in month ``k``
  recovers at month ``k``'s recovery multiplier, and a floating coupon in month ``k`` is
  ``max(rate + interest_rate_shock_k, 0)``; the level payment is re-amortized every month on
  the surviving balance at that month's coupon over the remaining term. Constant factors are
  the special case of a constant path and keep their own kernels (and numbers).
* A projection shorter than a loan's remaining term stops at the horizon; the balance still
  outstanding there is the ``residual``, valued at par at the horizon (a terminal value).

The inner loop over months runs in a numba kernel over blocks of loans (no per-month temporary
arrays), parallel across chunks of loans and scenarios by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from engine.credit._scenarios import MarketFactors, monthly_factors
from engine.credit.models import POOL_FIELDS, AssetStatus

__all__ = [
    "POOL_FIELDS",
    "LOAN_FIELDS",
    "LoanArrays",
    "monthly_rate",
    "discount_factors",
    "project",
    "path_rates",
    "scheduled_balance_fraction",
    "loan_paths",
]

#: Columns of the per-loan summary, shape (n_assets, len(LOAN_FIELDS)).
LOAN_FIELDS: tuple[str, ...] = (
    "npv",
    "total_principal",
    "total_interest",
    "total_default",
    "total_recovery",
    "total_loss",
    "cumulative_default_probability",
    "wal_numerator",
    "wal_denominator",
    "residual",
)


def monthly_rate(annual: np.ndarray) -> np.ndarray:
    """Convert an annual rate (CPR or CDR) to its monthly equivalent (SMM or MDR).

    Parameters
    ----------
    annual : ndarray of shape (n_assets,)
        Annual conditional rate, decimal, in [0, 1].

    Returns
    -------
    ndarray of shape (n_assets,)
        ``1 - (1 - annual) ** (1 / 12)``.

    Raises
    ------
    ValueError
        If any rate lies outside [0, 1] or is NaN.

    References
    ----------
    SIFMA, *Uniform Practices for the Clearance and Settlement of Mortgage-Backed Securities*,
    "Standard Formulas", C.2 (SMM and CPR); Fabozzi, *The Handbook of Mortgage-Backed
    Securities*, prepayment conventions.
    """
    a = np.asarray(annual, dtype=np.float64)
    if not np.all((a >= 0.0) & (a <= 1.0)):
        raise ValueError("annual rates must lie in [0, 1]")
    with np.errstate(divide="ignore"):  # CPR = 1 gives log(0) = -inf and SMM = 1, as it should
        return -np.expm1(np.log1p(-a) / 12.0) if a.size else a.copy()


def discount_factors(annual_yield: float, n_periods: int) -> np.ndarray:
    """Monthly-compounded discount factors ``(1 + y/12) ** -k`` for k = 1 … n_periods.

    Parameters
    ----------
    annual_yield : float
        Annual yield, decimal, monthly compounded; must exceed -12 (i.e. ``1 + y/12 > 0``).
    n_periods : int

    Returns
    -------
    ndarray of shape (n_periods,)

    Raises
    ------
    ValueError
        If ``1 + y/12 <= 0``.
    """
    base = 1.0 + annual_yield / 12.0
    if base <= 0.0:
        raise ValueError(f"discount yield {annual_yield} gives 1 + y/12 <= 0")
    return base ** -np.arange(1, n_periods + 1, dtype=np.float64)


@dataclass(frozen=True)
class LoanArrays:
    """The columns of a pool the kernel needs, as contiguous arrays of shape (n_assets,).

    Built once per run by :meth:`from_frame`; scenarios then only scale rates.
    """

    balance: np.ndarray          # currency units; 0 for paid_off loans
    rate: np.ndarray             # annual coupon, decimal
    floating: np.ndarray         # bool
    remaining: np.ndarray        # int64 months = term - age (>= 1)
    cpr: np.ndarray              # annual CPR, decimal
    cdr: np.ndarray              # annual CDR, decimal, after the delinquency floor
    recovery_rate: np.ndarray    # decimal
    recovery_lag: np.ndarray     # int64 months
    defaulted: np.ndarray        # bool: status default, written off in month 1

    @property
    def n_assets(self) -> int:
        return int(self.balance.shape[0])

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, *, delinquent_cdr: Mapping[str, float] | None = None
    ) -> "LoanArrays":
        """Arrays from a validated canonical frame (``PoolData.frame``).

        Parameters
        ----------
        frame : DataFrame of shape (n_assets, >= 14)
            Canonical columns of :data:`engine.credit.models.ASSET_COLUMNS`.
        delinquent_cdr : mapping of asset_class to annual CDR, optional
            Floor on the CDR of delinquent loans, by asset class (the assumption table's
            ``delinquent_default_probability``). Classes absent from it keep their CDR.
        """
        status_col = frame["status"]
        paid_off = (status_col == AssetStatus.PAID_OFF.value).to_numpy(dtype=bool, na_value=False)
        delinquent = (status_col == AssetStatus.DELINQUENT.value).to_numpy(dtype=bool,
                                                                          na_value=False)
        defaulted = (status_col == AssetStatus.DEFAULT.value).to_numpy(dtype=bool, na_value=False)
        balance = frame["balance"].to_numpy(dtype=np.float64, copy=True)
        balance[paid_off] = 0.0
        cdr = frame["default_probability"].to_numpy(dtype=np.float64, copy=True)
        if delinquent_cdr and delinquent.any():
            floor = frame["asset_class"].astype("string").map(dict(delinquent_cdr))
            floor = floor.astype("float64").fillna(0.0).to_numpy()
            cdr[delinquent] = np.maximum(cdr[delinquent], floor[delinquent])
        remaining = (frame["term"].to_numpy(dtype=np.int64) - frame["age"].to_numpy(dtype=np.int64))
        return cls(
            balance=balance,
            rate=frame["rate"].to_numpy(dtype=np.float64),
            floating=(frame["rate_type"].astype("string") == "floating").to_numpy(dtype=bool),
            remaining=np.ascontiguousarray(remaining),
            cpr=frame["prepayment_speed"].to_numpy(dtype=np.float64),
            cdr=cdr,
            recovery_rate=frame["recovery_rate"].to_numpy(dtype=np.float64),
            recovery_lag=frame["recovery_lag"].to_numpy(dtype=np.int64),
            defaulted=defaulted,
        )

    def sorted_for_projection(self) -> "LoanArrays":
        """The same loans ordered by recovery lag, then remaining term (for the fast kernel:
        blocks share one lag and similar terms).

        ``np.lexsort`` is a stable sort, so loans with equal keys keep their pool order and the
        order (hence every chunk's content and every floating-point sum) is a function of the
        pool alone.
        """
        order = np.lexsort((self.remaining, self.recovery_lag))
        return LoanArrays(**{k: np.ascontiguousarray(getattr(self, k)[order])
                             for k in self.__dataclass_fields__})

    def take(self, start: int, stop: int) -> "LoanArrays":
        """Loans ``start:stop`` (views, no copy)."""
        return LoanArrays(**{k: getattr(self, k)[start:stop] for k in self.__dataclass_fields__})


def scenario_rates(loans: LoanArrays, factors: MarketFactors) -> tuple[np.ndarray, ...]:
    """Monthly coupon, SMM, MDR and recovery fraction of each loan under ``factors``.

    Returns
    -------
    coupon, smm, mdr, recovery : ndarrays of shape (n_assets,)
        Monthly coupon ``rate / 12`` (floating: ``max(rate + shock, 0) / 12``); SMM and MDR
        times their multipliers, capped to [0, 1]; ``min(recovery_rate * multiplier, 1)``.
    """
    rate = np.where(loans.floating,
                    np.maximum(loans.rate + factors.interest_rate_shock, 0.0), loans.rate)
    smm = np.minimum(monthly_rate(loans.cpr) * factors.prepayment_multiplier, 1.0)
    mdr = np.minimum(monthly_rate(loans.cdr) * factors.default_multiplier, 1.0)
    mdr = np.where(loans.defaulted, 1.0, mdr)
    rec = np.minimum(loans.recovery_rate * factors.recovery_multiplier, 1.0)
    return rate / 12.0, smm, mdr, rec


#: Loans advanced together month by month: their dependency chains (each month's balance needs
#: the last one's, through a division) overlap, and pool sums are added once per block-month.
_BLOCK = 32


@numba.njit(cache=True, nogil=True)
def _kernel(balance, coupon, remaining, smm, mdr, rec, lag, horizon, disc,
            pool, loans, want_loans):  # pragma: no cover - compiled; tested through project()
    n = balance.shape[0]
    bs = _BLOCK
    b = np.empty(bs)
    g = np.empty(bs)
    inv = np.empty(bs)
    c = np.empty(bs)
    s = np.empty(bs)
    d = np.empty(bs)
    rf = np.empty(bs)
    r = np.empty(bs)
    nrem = np.empty(bs, np.int64)
    kmax = np.empty(bs, np.int64)
    lg = np.empty(bs, np.int64)
    acc = np.zeros((bs, 9))  # per loan: npv, principal, interest, default, recovery, loss,
    surv = np.empty(bs)      # WAL numerator, WAL denominator; surv = prod(1 - MDR)
    for start in range(0, n, bs):
        m = min(bs, n - start)
        kk = 0
        for j in range(m):
            i = start + j
            bj = balance[i]
            km = remaining[i] if remaining[i] < horizon else horizon
            if bj <= 0.0:
                bj = 0.0
                km = 0
            b[j] = bj
            kmax[j] = km
            if km > kk:
                kk = km
            c[j] = coupon[i]
            s[j] = smm[i]
            d[j] = mdr[i]
            rf[j] = rec[i]
            nrem[j] = remaining[i]
            lg[j] = lag[i]
            onepc = 1.0 + coupon[i]
            inv[j] = 1.0 / onepc
            g[j] = onepc ** remaining[i]
            surv[j] = 1.0
            for f in range(9):
                acc[j, f] = 0.0
        for k in range(kk):
            t_b = 0.0
            t_s = 0.0
            t_p = 0.0
            t_i = 0.0
            t_d = 0.0
            t_l = 0.0
            t_e = 0.0
            for j in range(m):
                act = 1.0 if k < kmax[j] else 0.0
                bj = b[j] * act
                dflt = bj * d[j]
                p = bj - dflt
                cj = c[j]
                interest = p * cj
                nleft = nrem[j] - k
                if nleft <= 1:
                    sched = p
                elif cj > 1e-12:  # below this (1+c)**n - 1 loses all precision: straight line
                    sched = p * cj / (g[j] - 1.0)
                else:
                    sched = p / nleft
                g[j] *= inv[j]
                prep = (p - sched) * s[j]
                e = p - sched - prep
                rj = dflt * rf[j]
                r[j] = rj
                t_b += bj
                t_s += sched
                t_p += prep
                t_i += interest
                t_d += dflt
                t_l += dflt - rj
                t_e += e
                if act > 0.0:
                    b[j] = e
                    if want_loans:
                        prin = sched + prep
                        acc[j, 0] += (prin + interest) * disc[k] + rj * disc[k + lg[j]]
                        acc[j, 1] += prin
                        acc[j, 2] += interest
                        acc[j, 3] += dflt
                        acc[j, 4] += rj
                        acc[j, 5] += dflt - rj
                        acc[j, 6] += (k + 1) / 12.0 * prin + (k + 1 + lg[j]) / 12.0 * rj
                        acc[j, 7] += prin + rj
                        surv[j] *= 1.0 - d[j]
            row = pool[k]
            row[0] += t_b
            row[1] += t_s
            row[2] += t_p
            row[3] += t_i
            row[4] += t_d
            row[6] += t_l
            row[7] += t_e
            for j in range(m):
                if r[j] != 0.0:
                    pool[k + lg[j], 5] += r[j]
        for j in range(m):
            resid = 0.0
            if 0 < kmax[j] < nrem[j] and b[j] > 0.0:
                resid = b[j]
                pool[kmax[j] - 1, 8] += resid
            if want_loans:
                i = start + j
                km = kmax[j]
                if km > 0:
                    loans[i, 0] = acc[j, 0] + resid * disc[km - 1]
                    loans[i, 6] = 1.0 - surv[j]
                    loans[i, 7] = acc[j, 6] + km / 12.0 * resid
                    loans[i, 8] = acc[j, 7] + resid
                for f in range(1, 6):
                    loans[i, f] = acc[j, f]
                loans[i, 9] = resid


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz", "contract"})
def _kernel_pool(balance, coupon, remaining, smm, mdr, rec, lag, horizon,
                 pool):  # pragma: no cover - compiled; tested through project()
    """Pool sums only, in closed form per loan, vectorizable across a block of loans.

    With re-amortization on the surviving balance, the balance at the start of month k + 1 is
    ``B_0 q**k H_k / H_0`` where ``q = (1 - MDR)(1 - SMM)``, ``H_k = (1+c)**n - (1+c)**k``
    (``n - k`` when ``c = 0``), and scheduled principal is ``(1 - MDR) B_0 q**k f_k / H_0`` with
    ``f_k = c (1+c)**k`` (1 when ``c = 0``); ``H`` is carried as ``H_{k+1} = H_k - f_k`` so no
    difference of nearly equal powers is ever taken. No division and no month-to-month
    dependency through the balance: the inner loop over the block vectorizes. Loans must be
    sorted by recovery lag; a block never straddles two lags, so a block's recoveries land in
    one row. Same model as :func:`_kernel` (the recursion), which the tests compare it with.
    """
    n = balance.shape[0]
    bs = 64
    aa = np.empty(bs)
    qq = np.empty(bs)
    qk = np.empty(bs)
    hh = np.empty(bs)
    gg = np.empty(bs)
    mul = np.empty(bs)
    zz = np.empty(bs)
    c = np.empty(bs)
    omd = np.empty(bs)
    s = np.empty(bs)
    d = np.empty(bs)
    rf = np.empty(bs)
    last = np.empty(bs)
    kmx = np.empty(bs)
    start = 0
    while start < n:
        lg = lag[start]
        m = 0
        while m < bs and start + m < n and lag[start + m] == lg:
            m += 1
        kk = 0
        for j in range(m):
            i = start + j
            bj = balance[i]
            nr = remaining[i]
            km = nr if nr < horizon else horizon
            if bj <= 0.0:
                km = 0
                bj = 0.0
            kmx[j] = km
            if km > kk:
                kk = km
            cj = coupon[i]
            s[j] = smm[i]
            d[j] = mdr[i]
            omd[j] = 1.0 - mdr[i]
            rf[j] = rec[i]
            last[j] = nr - 1
            qq[j] = (1.0 - mdr[i]) * (1.0 - smm[i])
            qk[j] = 1.0
            gg[j] = 1.0
            if cj <= 1e-12:  # as in _kernel: straight line (differs from level pay by < 1e-9)
                cj = 0.0
            c[j] = cj
            mul[j] = 1.0 + cj
            if cj > 0.0:
                h0 = np.expm1(nr * np.log1p(cj))
                zz[j] = 0.0
            else:
                h0 = float(nr)
                zz[j] = 1.0
            hh[j] = h0
            aa[j] = bj / h0
        for k in range(kk):
            t_b = 0.0
            t_s = 0.0
            t_p = 0.0
            t_i = 0.0
            t_d = 0.0
            t_r = 0.0
            t_e = 0.0
            fk = float(k)
            for j in range(m):
                act = 1.0 if fk < kmx[j] else 0.0
                aq = aa[j] * qk[j] * act
                f = c[j] * gg[j] + zz[j]
                bj = aq * hh[j]
                dflt = bj * d[j]
                p = bj - dflt
                interest = p * c[j]
                sched = omd[j] * aq * f
                sched = p if fk == last[j] else sched
                prep = (p - sched) * s[j]
                t_b += bj
                t_s += sched
                t_p += prep
                t_i += interest
                t_d += dflt
                t_r += dflt * rf[j]
                t_e += p - sched - prep
                qk[j] *= qq[j]
                hh[j] -= f
                gg[j] *= mul[j]
            row = pool[k]
            row[0] += t_b
            row[1] += t_s
            row[2] += t_p
            row[3] += t_i
            row[4] += t_d
            row[6] += t_d - t_r
            row[7] += t_e
            pool[k + lg, 5] += t_r
        for j in range(m):  # balance left at the horizon
            km = int(kmx[j])
            if 0 < km and km - 1 < last[j]:
                resid = aa[j] * qk[j] * hh[j]
                if resid > 0.0:
                    pool[km - 1, 8] += resid
        start += m


@dataclass(frozen=True)
class PathRates:
    """A path scenario's inputs to the kernels: each loan's base monthly rates and each
    month's factors.

    Loan arrays have shape (n_assets,); month arrays shape (horizon,), month ``k + 1`` at
    index ``k``.
    """

    rate: np.ndarray         # annual coupon, decimal
    floating: np.ndarray     # bool
    smm: np.ndarray          # monthly prepayment rate before the multiplier
    mdr: np.ndarray          # monthly default rate before the multiplier (defaulted: 1)
    recovery: np.ndarray     # recovery rate before the multiplier
    defaulted: np.ndarray    # bool
    prepay_mult: np.ndarray  # (horizon,)
    default_mult: np.ndarray
    recovery_mult: np.ndarray
    rate_shock: np.ndarray   # (horizon,) interest_rate_shock, decimal

    def coupon(self, k: int) -> np.ndarray:
        """Monthly coupon of each loan in month ``k + 1``, shape (n_assets,)."""
        return np.where(self.floating, np.maximum(self.rate + self.rate_shock[k], 0.0),
                        self.rate) / 12.0


def path_rates(loans: LoanArrays, *, factors: MarketFactors, horizon: int) -> PathRates:
    """Each loan's base monthly rates and the scenario's factors for months 1 … ``horizon``.

    Parameters
    ----------
    loans : LoanArrays
    factors : MarketFactors
        With or without a path (:func:`engine.credit._scenarios.monthly_factors`).
    horizon : int
        Months, >= 1.

    Returns
    -------
    PathRates
        The month-``k`` rates follow as in :func:`scenario_rates`: ``min(smm * prepay_mult[k],
        1)``, ``min(mdr * default_mult[k], 1)`` (1 for defaulted loans), ``min(recovery *
        recovery_mult[k], 1)``, floating coupon ``max(rate + rate_shock[k], 0) / 12``.
    """
    m = monthly_factors(factors, max(int(horizon), 1))
    return PathRates(
        rate=np.ascontiguousarray(loans.rate, dtype=np.float64),
        floating=np.ascontiguousarray(loans.floating, dtype=np.bool_),
        smm=monthly_rate(loans.cpr),
        mdr=np.where(loans.defaulted, 1.0, monthly_rate(loans.cdr)),
        recovery=np.ascontiguousarray(loans.recovery_rate, dtype=np.float64),
        defaulted=np.ascontiguousarray(loans.defaulted, dtype=np.bool_),
        prepay_mult=m["prepayment_multiplier"], default_mult=m["default_multiplier"],
        recovery_mult=m["recovery_multiplier"], rate_shock=m["interest_rate_shock"])


@numba.njit(cache=True, nogil=True)
def _kernel_path(balance, rate, floating, remaining, smm0, mdr0, rec0, defaulted, lag, horizon,
                 pm, dm, rm, ish, disc, pool, loans,
                 want_loans):  # pragma: no cover - compiled; tested through project()
    """:func:`_kernel` (the month-by-month recursion) with each month's factors."""
    n = balance.shape[0]
    bs = _BLOCK
    b = np.empty(bs)
    g = np.empty(bs)
    c = np.empty(bs)
    r = np.empty(bs)
    nrem = np.empty(bs, np.int64)
    kmax = np.empty(bs, np.int64)
    lg = np.empty(bs, np.int64)
    acc = np.zeros((bs, 9))
    surv = np.empty(bs)
    for start in range(0, n, bs):
        m = min(bs, n - start)
        kk = 0
        for j in range(m):
            i = start + j
            bj = balance[i]
            km = remaining[i] if remaining[i] < horizon else horizon
            if bj <= 0.0:
                bj = 0.0
                km = 0
            b[j] = bj
            kmax[j] = km
            if km > kk:
                kk = km
            nrem[j] = remaining[i]
            lg[j] = lag[i]
            c[j] = -1.0  # no coupon yet: set in month 1
            surv[j] = 1.0
            for f in range(9):
                acc[j, f] = 0.0
        for k in range(kk):
            t_b = 0.0
            t_s = 0.0
            t_p = 0.0
            t_i = 0.0
            t_d = 0.0
            t_l = 0.0
            t_e = 0.0
            for j in range(m):
                i = start + j
                if floating[i]:
                    ck = rate[i] + ish[k]
                    ck = (ck if ck > 0.0 else 0.0) / 12.0
                else:
                    ck = rate[i] / 12.0
                nleft = nrem[j] - k
                if ck != c[j]:
                    c[j] = ck
                    g[j] = (1.0 + ck) ** nleft
                dj = 1.0 if defaulted[i] else min(mdr0[i] * dm[k], 1.0)
                sj = min(smm0[i] * pm[k], 1.0)
                rfj = min(rec0[i] * rm[k], 1.0)
                act = 1.0 if k < kmax[j] else 0.0
                bj = b[j] * act
                dflt = bj * dj
                p = bj - dflt
                interest = p * ck
                if nleft <= 1:
                    sched = p
                elif ck > 1e-12:
                    sched = p * ck / (g[j] - 1.0)
                else:
                    sched = p / nleft
                g[j] /= 1.0 + ck
                prep = (p - sched) * sj
                e = p - sched - prep
                rj = dflt * rfj
                r[j] = rj
                t_b += bj
                t_s += sched
                t_p += prep
                t_i += interest
                t_d += dflt
                t_l += dflt - rj
                t_e += e
                if act > 0.0:
                    b[j] = e
                    if want_loans:
                        prin = sched + prep
                        acc[j, 0] += (prin + interest) * disc[k] + rj * disc[k + lg[j]]
                        acc[j, 1] += prin
                        acc[j, 2] += interest
                        acc[j, 3] += dflt
                        acc[j, 4] += rj
                        acc[j, 5] += dflt - rj
                        acc[j, 6] += (k + 1) / 12.0 * prin + (k + 1 + lg[j]) / 12.0 * rj
                        acc[j, 7] += prin + rj
                        surv[j] *= 1.0 - dj
            row = pool[k]
            row[0] += t_b
            row[1] += t_s
            row[2] += t_p
            row[3] += t_i
            row[4] += t_d
            row[6] += t_l
            row[7] += t_e
            for j in range(m):
                if r[j] != 0.0:
                    pool[k + lg[j], 5] += r[j]
        for j in range(m):
            resid = 0.0
            if 0 < kmax[j] < nrem[j] and b[j] > 0.0:
                resid = b[j]
                pool[kmax[j] - 1, 8] += resid
            if want_loans:
                i = start + j
                km = kmax[j]
                if km > 0:
                    loans[i, 0] = acc[j, 0] + resid * disc[km - 1]
                    loans[i, 6] = 1.0 - surv[j]
                    loans[i, 7] = acc[j, 6] + km / 12.0 * resid
                    loans[i, 8] = acc[j, 7] + resid
                for f in range(1, 6):
                    loans[i, f] = acc[j, f]
                loans[i, 9] = resid


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "nsz", "contract"})
def _kernel_pool_path(balance, rate, floating, remaining, smm0, mdr0, rec0, defaulted, lag,
                      horizon, pm, dm, rm, ish,
                      pool):  # pragma: no cover - compiled; tested through project()
    """:func:`_kernel_pool` with each month's factors: pool sums in closed form.

    The balance at the start of month k + 1 is ``A Q_k H_k`` with ``Q_k`` the running product
    of ``(1 - MDR_i)(1 - SMM_i)`` over months i <= k (per-month rates), and ``H_k``, ``A`` as in
    :func:`_kernel_pool` for the loan's coupon. A floating coupon that changes (the month's
    ``interest_rate_shock`` differs from the last month's) re-bases the loan exactly: its
    balance then is a new loan at the new coupon over the months left (``A = B / H_0'``,
    ``Q = 1``), the same as re-amortizing that month in the recursion. Re-basing costs a log and
    an exponential per floating loan per change (13 for a quarterly Fed path), so the month loop
    stays division-free and vectorizes.
    """
    n = balance.shape[0]
    nh = ish.shape[0]
    change = np.zeros(nh, np.bool_)
    for k in range(1, nh):
        change[k] = ish[k] != ish[k - 1]
    bs = 64
    aa = np.empty(bs)
    qk = np.empty(bs)
    hh = np.empty(bs)
    gg = np.empty(bs)
    mul = np.empty(bs)
    zz = np.empty(bs)
    c = np.empty(bs)
    s0 = np.empty(bs)
    d0 = np.empty(bs)
    dfl = np.empty(bs)
    rf0 = np.empty(bs)
    last = np.empty(bs)
    kmx = np.empty(bs)
    nrm = np.empty(bs)
    fl = np.empty(bs, np.bool_)
    rt = np.empty(bs)
    start = 0
    while start < n:
        lg = lag[start]
        m = 0
        while m < bs and start + m < n and lag[start + m] == lg:
            m += 1
        kk = 0
        any_float = False
        for j in range(m):
            i = start + j
            bj = balance[i]
            nr = remaining[i]
            km = nr if nr < horizon else horizon
            if bj <= 0.0:
                km = 0
                bj = 0.0
            kmx[j] = km
            if km > kk:
                kk = km
            fl[j] = floating[i]
            if floating[i]:
                any_float = True
            rt[j] = rate[i]
            cj = rate[i]
            if floating[i]:
                cj = cj + ish[0]
                cj = cj if cj > 0.0 else 0.0
            cj = cj / 12.0
            s0[j] = smm0[i]
            d0[j] = mdr0[i]
            dfl[j] = 1.0 if defaulted[i] else 0.0
            rf0[j] = rec0[i]
            last[j] = nr - 1
            nrm[j] = nr
            qk[j] = 1.0
            gg[j] = 1.0
            if cj <= 1e-12:
                cj = 0.0
            c[j] = cj
            mul[j] = 1.0 + cj
            if cj > 0.0:
                h0 = np.expm1(nr * np.log1p(cj))
                zz[j] = 0.0
            else:
                h0 = float(nr)
                zz[j] = 1.0
            hh[j] = h0
            aa[j] = bj / h0
        for k in range(kk):
            fk = float(k)
            if any_float and change[k]:
                for j in range(m):
                    if not fl[j] or fk >= kmx[j]:
                        continue
                    cj = rt[j] + ish[k]
                    cj = (cj if cj > 0.0 else 0.0) / 12.0
                    if cj <= 1e-12:
                        cj = 0.0
                    if cj == c[j]:
                        continue
                    bal = aa[j] * qk[j] * hh[j]
                    left = nrm[j] - fk
                    c[j] = cj
                    mul[j] = 1.0 + cj
                    gg[j] = 1.0
                    qk[j] = 1.0
                    if cj > 0.0:
                        h0 = np.expm1(left * np.log1p(cj))
                        zz[j] = 0.0
                    else:
                        h0 = left
                        zz[j] = 1.0
                    hh[j] = h0
                    aa[j] = bal / h0
            pmk = pm[k]
            dmk = dm[k]
            rmk = rm[k]
            t_b = 0.0
            t_s = 0.0
            t_p = 0.0
            t_i = 0.0
            t_d = 0.0
            t_r = 0.0
            t_e = 0.0
            for j in range(m):
                act = 1.0 if fk < kmx[j] else 0.0
                dj = min(d0[j] * dmk, 1.0)
                dj = 1.0 if dfl[j] > 0.0 else dj
                sj = min(s0[j] * pmk, 1.0)
                rfj = min(rf0[j] * rmk, 1.0)
                aq = aa[j] * qk[j] * act
                f = c[j] * gg[j] + zz[j]
                bj = aq * hh[j]
                dflt = bj * dj
                p = bj - dflt
                interest = p * c[j]
                sched = (1.0 - dj) * aq * f
                sched = p if fk == last[j] else sched
                prep = (p - sched) * sj
                t_b += bj
                t_s += sched
                t_p += prep
                t_i += interest
                t_d += dflt
                t_r += dflt * rfj
                t_e += p - sched - prep
                qk[j] *= (1.0 - dj) * (1.0 - sj)
                hh[j] -= f
                gg[j] *= mul[j]
            row = pool[k]
            row[0] += t_b
            row[1] += t_s
            row[2] += t_p
            row[3] += t_i
            row[4] += t_d
            row[6] += t_d - t_r
            row[7] += t_e
            pool[k + lg, 5] += t_r
        for j in range(m):  # balance left at the horizon
            km = int(kmx[j])
            if 0 < km and km - 1 < last[j]:
                resid = aa[j] * qk[j] * hh[j]
                if resid > 0.0:
                    pool[km - 1, 8] += resid
        start += m


def horizon_of(loans: LoanArrays, periods: int | None) -> tuple[int, int]:
    """(horizon H, table length T): H = ``periods`` or the longest remaining term; T adds the
    longest recovery lag so every recovery lands in the table."""
    longest = int(loans.remaining.max()) if loans.n_assets else 1
    h = int(periods) if periods else longest
    lag = int(loans.recovery_lag.max()) if loans.n_assets else 0
    return max(h, 1), max(h, 1) + max(lag, 0)


def project(
    loans: LoanArrays,
    *,
    factors: MarketFactors,
    discount: np.ndarray,
    horizon: int,
    n_periods: int,
    loan_level: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Project every loan's cashflows under one scenario and sum them into a pool table.

    Parameters
    ----------
    loans : LoanArrays
        The pool (or a chunk of it), n_assets loans.
    factors : MarketFactors
        The scenario's market factors, constant or with a path (then each month's factors
        apply; see the module's conventions).
    discount : ndarray of shape (n_periods,)
        Discount factor of each month of the pool table (row k: month k + 1), from
        :func:`engine.credit._runner.scenario_discount`; used only for the loan-level NPV.
    horizon : int
        Months projected, H; a loan with more months left ends with a residual at H.
    n_periods : int
        Rows of the pool table, T >= H + the longest recovery lag (see :func:`horizon_of`).
    loan_level : bool, default False
        Also return the per-loan summary. Without it, and with loans sorted by recovery lag
        (:meth:`LoanArrays.sorted_for_projection`), the closed-form vectorized kernel runs;
        otherwise the month-by-month recursion. A path scenario runs the path versions of
        the same two kernels: the closed form stays exact for floating loans by re-basing a
        loan whenever its coupon changes (see :func:`_kernel_pool_path`).

    Returns
    -------
    pool : ndarray of shape (n_periods, len(POOL_FIELDS))
        Pool cashflows by month (row k is month k + 1), currency units.
    loans_out : ndarray of shape (n_assets, len(LOAN_FIELDS)) or None
        Per-loan summary when ``loan_level``.
    """
    if factors.path is not None:
        return _project_path(loans, factors=factors, discount=discount, horizon=horizon,
                             n_periods=n_periods, loan_level=loan_level)
    coupon, smm, mdr, rec = scenario_rates(loans, factors)
    pool = np.zeros((n_periods, len(POOL_FIELDS)), dtype=np.float64)
    if not loan_level and (loans.n_assets < 2 or np.all(np.diff(loans.recovery_lag) >= 0)):
        _kernel_pool(loans.balance, coupon, loans.remaining, smm, mdr, rec, loans.recovery_lag,
                     int(horizon), pool)
        return pool, None
    disc = np.ascontiguousarray(discount, dtype=np.float64)
    if disc.shape != (n_periods,):
        raise ValueError(f"discount has shape {disc.shape}, expected ({n_periods},)")
    out = np.zeros((loans.n_assets if loan_level else 0, len(LOAN_FIELDS)), dtype=np.float64)
    _kernel(loans.balance, coupon, loans.remaining, smm, mdr, rec, loans.recovery_lag,
            int(horizon), disc, pool, out, bool(loan_level))
    return pool, (out if loan_level else None)


def _project_path(loans: LoanArrays, *, factors: MarketFactors, discount: np.ndarray,
                  horizon: int, n_periods: int,
                  loan_level: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`project` for a scenario with a path (same parameters and returns)."""
    pr = path_rates(loans, factors=factors, horizon=horizon)
    pool = np.zeros((n_periods, len(POOL_FIELDS)), dtype=np.float64)
    args = (loans.balance, pr.rate, pr.floating, loans.remaining, pr.smm, pr.mdr, pr.recovery,
            pr.defaulted, loans.recovery_lag, int(horizon), pr.prepay_mult, pr.default_mult,
            pr.recovery_mult, pr.rate_shock)
    if not loan_level and (loans.n_assets < 2 or np.all(np.diff(loans.recovery_lag) >= 0)):
        _kernel_pool_path(*args, pool)
        return pool, None
    disc = np.ascontiguousarray(discount, dtype=np.float64)
    if disc.shape != (n_periods,):
        raise ValueError(f"discount has shape {disc.shape}, expected ({n_periods},)")
    out = np.zeros((loans.n_assets if loan_level else 0, len(LOAN_FIELDS)), dtype=np.float64)
    _kernel_path(*args, disc, pool, out, bool(loan_level))
    return pool, (out if loan_level else None)


def scheduled_balance_fraction(monthly_coupon: np.ndarray, *, remaining: np.ndarray,
                               months: np.ndarray) -> np.ndarray:
    """Fraction of a level-payment loan's balance still scheduled after ``k`` payments.

    Parameters
    ----------
    monthly_coupon : ndarray of shape (n_assets, 1)
        Monthly coupon ``c``, decimal.
    remaining : ndarray of shape (n_assets, 1)
        Remaining term ``n`` in months.
    months : ndarray of shape (1, n_periods)
        Payments made ``k``.

    Returns
    -------
    ndarray of shape (n_assets, n_periods)
        ``((1 + c)**n - (1 + c)**k) / ((1 + c)**n - 1)``, or ``1 - k/n`` when ``c = 0``; 0 past
        maturity (Fabozzi, *Fixed Income Mathematics*, 4th ed., ch. 3, outstanding balance of
        a level-payment loan).
    """
    k = np.minimum(months, remaining)
    with np.errstate(divide="ignore", invalid="ignore"):
        g_n = (1.0 + monthly_coupon) ** remaining
        frac = np.where(monthly_coupon > 0,
                        (g_n - (1.0 + monthly_coupon) ** k) / (g_n - 1.0),
                        1.0 - k / remaining)
    return np.clip(frac, 0.0, 1.0)


def _loan_paths_by_month(loans: LoanArrays, *, factors: MarketFactors,
                         horizon: int) -> dict[str, np.ndarray]:
    """:func:`loan_paths` for a path scenario: the recursion month by month (numpy, across
    loans), each month at its own factors."""
    pr = path_rates(loans, factors=factors, horizon=horizon)
    n = loans.remaining
    b = loans.balance.astype(np.float64).copy()
    surv = np.ones_like(b)
    out = {name: np.zeros((loans.n_assets, horizon)) for name in
           ("balance", "cumulative_default_probability", "cumulative_default", "cumulative_loss")}
    cum_d = np.zeros_like(b)
    cum_l = np.zeros_like(b)
    for k in range(horizon):
        active = k < n
        c = pr.coupon(k)
        mdr = np.where(pr.defaulted, 1.0, np.minimum(pr.mdr * pr.default_mult[k], 1.0))
        smm = np.minimum(pr.smm * pr.prepay_mult[k], 1.0)
        rec = np.minimum(pr.recovery * pr.recovery_mult[k], 1.0)
        left = n - k
        d = np.where(active, b * mdr, 0.0)
        p = b - d
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            level = np.where(c > 1e-12, p * c / ((1.0 + c) ** left - 1.0),
                             p / np.maximum(left, 1))
        sched = np.where(left <= 1, p, level)
        b = np.where(active, (p - sched) * (1.0 - smm), 0.0)
        surv = np.where(active, surv * (1.0 - mdr), surv)
        cum_d += d
        cum_l += d * (1.0 - rec)
        out["balance"][:, k] = b
        out["cumulative_default_probability"][:, k] = 1.0 - surv
        out["cumulative_default"][:, k] = cum_d
        out["cumulative_loss"][:, k] = cum_l
    return out


def loan_paths(loans: LoanArrays, *, factors: MarketFactors, horizon: int) -> dict[str, np.ndarray]:
    """Month-by-month path of each loan, in closed form (for a drill-down of a few loans).

    Re-amortizing on the surviving balance makes the balance multiplicative:
    ``B_k = B_0 * ((1 - MDR) * (1 - SMM)) ** k * S_k`` with ``S_k`` the scheduled balance
    fraction (:func:`scheduled_balance_fraction`). This is the same model as :func:`project`
    and serves as its closed-form cross-check. A path scenario is walked month by month
    instead (each month at its own factors; a default's loss at its month's recovery).

    Returns
    -------
    dict of ndarray, each of shape (n_assets, horizon)
        ``balance`` (end of month, currency units), ``cumulative_default_probability``
        (``1 - (1 - MDR) ** k``), ``cumulative_default`` and ``cumulative_loss`` (currency).
    """
    if factors.path is not None:
        return _loan_paths_by_month(loans, factors=factors, horizon=horizon)
    coupon, smm, mdr, rec = scenario_rates(loans, factors)
    k = np.arange(0, horizon + 1, dtype=np.float64)[None, :]
    q = ((1.0 - mdr) * (1.0 - smm))[:, None]
    n = loans.remaining.astype(np.float64)[:, None]
    sched = scheduled_balance_fraction(coupon[:, None], remaining=n, months=k)
    with np.errstate(invalid="ignore"):
        begin = loans.balance[:, None] * q ** k * sched          # balance after k months
    begin = np.where(k <= n, begin, 0.0)
    defaults = begin[:, :-1] * mdr[:, None]
    cum_default = np.cumsum(defaults, axis=1)
    return {
        "balance": begin[:, 1:],
        "cumulative_default_probability":
            np.where(k[:, 1:] <= n, 1.0 - (1.0 - mdr[:, None]) ** k[:, 1:],
                     1.0 - (1.0 - mdr[:, None]) ** n),
        "cumulative_default": cum_default,
        "cumulative_loss": cum_default * (1.0 - rec[:, None]),
    }
