"""Valuation and risk metrics of a pool's projected cashflows.

All time is in years, ``t_k = k / 12`` for month ``k``. Flat discounting: the discount yield ``y``
is annual, decimal, monthly compounded, so the discount factor of month ``k`` is
``(1 + y/12) ** -k``; curve discounting gives the factors themselves
(:func:`engine.credit._runner.scenario_discount`).
"""

from __future__ import annotations

import math

import numpy as np

from engine.credit._cashflows import POOL_FIELDS, discount_factors

__all__ = ["pool_cashflow", "pool_metrics", "irr", "METRIC_KEYS"]

_F = {name: i for i, name in enumerate(POOL_FIELDS)}

#: The metrics each scenario reports, in display order.
METRIC_KEYS: tuple[str, ...] = (
    "npv", "npv_change", "npv_change_percent", "irr", "starting_balance",
    "total_principal", "total_interest", "total_prepayment", "total_scheduled_principal",
    "total_default", "total_recovery", "total_loss", "loss_percent", "residual_balance",
    "residual_share", "residual_value", "loss_beyond_horizon", "duration", "modified_duration", "convexity", "weighted_average_life", "discount_yield",
)


def pool_cashflow(pool: np.ndarray) -> np.ndarray:
    """Cash received each month: scheduled principal + prepayment + interest + recovery + residual.

    Parameters
    ----------
    pool : ndarray of shape (n_periods, len(POOL_FIELDS))

    Returns
    -------
    ndarray of shape (n_periods,), currency units.
    """
    return (pool[:, _F["scheduled_principal"]] + pool[:, _F["prepayment"]]
            + pool[:, _F["interest"]] + pool[:, _F["recovery"]] + pool[:, _F["residual"]])


def irr(cashflow: np.ndarray, price: float) -> float:
    """Annual yield, monthly compounded, at which the cashflows' present value equals ``price``.

    Solves ``sum_k CF_k (1 + y/12) ** -k = price`` for ``y``. With ``t = -log(1 + y/12)`` the
    log of the present value, ``log sum_k exp(log CF_k + k t)``, is an increasing convex function
    of ``t`` (a log-sum-exp of affine functions), so Newton's method started to the right of the
    root converges monotonically to it; working in logs means no power overflows, whatever the
    yield. The root is unique when it exists.

    Parameters
    ----------
    cashflow : ndarray of shape (n_periods,)
        Cash of months 1 … n_periods, currency units, non-negative.
    price : float
        The pool's current balance, currency units.

    Returns
    -------
    float
        ``y = 12 * (exp(-t) - 1)``, or NaN when no root exists (no positive cashflow, or a
        non-positive price).

    References
    ----------
    Fabozzi, *Fixed Income Mathematics*, 4th ed., ch. 4 (yield to maturity, cash-flow yield);
    Boyd & Vandenberghe, *Convex Optimization*, 3.1.5 (log-sum-exp is convex).
    """
    cf = np.asarray(cashflow, dtype=np.float64)
    positive = cf > 0
    if not price > 0 or not positive.any():
        return float("nan")
    k = np.arange(1, cf.shape[0] + 1, dtype=np.float64)[positive]
    log_cf = np.log(cf[positive])
    log_price = math.log(price)

    def excess(t: float) -> tuple[float, float]:
        z = log_cf + k * t
        top = z.max()
        w = np.exp(z - top)
        total = w.sum()
        return top + math.log(total) - log_price, float((w * k).sum() / total)

    hi = 0.0  # y = 0
    step = 1.0
    while excess(hi)[0] <= 0.0:
        hi += step
        step *= 2.0
        if hi > 1e3:
            return float("nan")
    lo = hi - step
    while excess(lo)[0] >= 0.0:
        lo -= step
        step *= 2.0
        if lo < -1e3:
            return float("nan")
    t = hi
    for _ in range(200):
        value, slope = excess(t)
        if abs(value) <= 1e-15:  # log PV within 1e-15 of log price: converged
            break
        if value > 0:
            hi = t
        else:
            lo = t
        t_next = t - value / slope
        if not lo < t_next < hi:  # Newton left the bracket: bisect instead
            t_next = 0.5 * (lo + hi)
        if abs(t_next - t) <= 1e-16 * max(1.0, abs(t)):
            t = t_next
            break
        t = t_next
    return float(12.0 * math.expm1(-t))


def pool_metrics(pool: np.ndarray, *, starting_balance: float, annual_yield: float | None = None,
                 discount: np.ndarray | None = None,
                 residual_balance: np.ndarray | None = None) -> dict[str, float | None]:
    """Every metric of one scenario from its pool cashflow table.

    Parameters
    ----------
    pool : ndarray of shape (n_periods, len(POOL_FIELDS))
        From :func:`engine.credit._cashflows.project`, currency units. Its ``residual`` column
        is the value at the horizon of the balance left there (at par: the balance).
    starting_balance : float
        Sum of current balances (paid-off loans excluded), currency units.
    annual_yield : float, optional
        A flat discount yield ``y``, annual decimal, monthly compounded: discount factors
        ``(1 + y/12) ** -k`` (unless ``discount`` is given) and the flat-yield durations.
    discount : ndarray of shape (n_periods,), optional
        Discount factor of each month (a curve, or a path of rates). Without ``annual_yield``
        the durations are Fisher–Weil (see Returns).
    residual_balance : ndarray of shape (n_periods,), optional
        Balance left at the horizon by month, currency units; default the ``residual`` column
        (valued at par). Used for ``residual_balance``, ``residual_share`` and the WAL.

    Returns
    -------
    dict
        ``npv`` = sum CF_k v_k; ``irr`` (:func:`irr` against ``starting_balance``);
        with a flat yield: ``duration`` = Macaulay duration in years, sum t_k PV_k / NPV;
        ``modified_duration`` = duration / (1 + y/12);
        ``convexity`` = sum t_k (t_k + 1/12) PV_k / (NPV (1 + y/12)^2), years^2;
        ``discount_yield`` = y. With discount factors only (a curve): ``duration`` is the
        Fisher–Weil duration sum t_k PV_k / NPV, ``modified_duration`` the same (the
        sensitivity to a parallel shift of the continuously compounded zero rate),
        ``convexity`` = sum t_k^2 PV_k / NPV, and ``discount_yield`` the flat monthly
        compounded yield giving the same NPV (:func:`irr` of the cashflows against the NPV).
        ``weighted_average_life`` = sum t_k P_k / sum P_k with P = scheduled + prepaid +
        recovered principal (+ the residual balance at the horizon), years; totals in currency
        units; ``loss_percent`` = total_loss / starting_balance * 100; ``residual_share`` = the
        residual balance / starting_balance, decimal.
        ``npv_change`` and ``npv_change_percent`` are filled by the runner against base.

    Raises
    ------
    ValueError
        If neither ``annual_yield`` nor ``discount`` is given, or ``discount`` has another
        length than the table.

    References
    ----------
    Fabozzi, *Bond Markets, Analysis and Strategies*, 9th ed., ch. 4 (Macaulay and modified
    duration, convexity with periodic compounding); Fisher & Weil (1971), "Coping with the risk
    of interest-rate fluctuations", *Journal of Business* 44(4) (duration on a term structure);
    Fabozzi, *The Handbook of Mortgage-Backed Securities*, 7th ed. (weighted average life).
    """
    n = pool.shape[0]
    t = np.arange(1, n + 1, dtype=np.float64) / 12.0
    if discount is None:
        if annual_yield is None:
            raise ValueError("pool_metrics needs annual_yield or discount")
        v = discount_factors(annual_yield, n)
    else:
        v = np.asarray(discount, dtype=np.float64)
        if v.shape != (n,):
            raise ValueError(f"discount has shape {v.shape}, expected ({n},)")
    cf = pool_cashflow(pool)
    pv = cf * v
    npv = float(pv.sum())
    sched = pool[:, _F["scheduled_principal"]]
    prep = pool[:, _F["prepayment"]]
    rec = pool[:, _F["recovery"]]
    resid = pool[:, _F["residual"]] if residual_balance is None else residual_balance
    principal_flow = sched + prep + rec + resid
    denom = float(principal_flow.sum())
    duration = float((t * pv).sum() / npv) if npv > 0 else float("nan")
    if annual_yield is not None:
        base = 1.0 + annual_yield / 12.0
        modified = duration / base
        convexity = (float((t * (t + 1.0 / 12.0) * pv).sum() / (npv * base**2)) if npv > 0
                     else float("nan"))
        y = float(annual_yield)
    else:
        modified = duration
        convexity = float((t * t * pv).sum() / npv) if npv > 0 else float("nan")
        y = irr(cf, npv)
    total_loss = float(pool[:, _F["loss"]].sum())
    residual = float(resid.sum())
    return {
        "npv": npv,
        "irr": irr(cf, starting_balance),
        "starting_balance": float(starting_balance),
        "total_principal": float(sched.sum() + prep.sum()),
        "total_scheduled_principal": float(sched.sum()),
        "total_prepayment": float(prep.sum()),
        "total_interest": float(pool[:, _F["interest"]].sum()),
        "total_default": float(pool[:, _F["default_amount"]].sum()),
        "total_recovery": float(rec.sum()),
        "total_loss": total_loss,
        "loss_percent": total_loss / starting_balance * 100.0 if starting_balance > 0 else float("nan"),
        "residual_balance": residual,
        "residual_share": residual / starting_balance if starting_balance > 0 else float("nan"),
        "duration": duration,
        "modified_duration": modified,
        "convexity": convexity,
        "weighted_average_life": float((t * principal_flow).sum() / denom) if denom > 0 else float("nan"),
        "discount_yield": y,
    }
