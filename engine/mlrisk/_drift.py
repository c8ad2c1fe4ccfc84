"""Drift of a stressed feature against its baseline: PSI (our own), KS and Wasserstein (scipy)."""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp, wasserstein_distance

__all__ = ["PSI_FLOOR", "PSI_BANDS", "psi", "psi_band", "drift", "histogram_pair"]

#: Bin shares are floored here before the logarithm (an empty bin would make PSI infinite).
PSI_FLOOR = 1e-4
#: PSI below 0.10: no significant shift; 0.10 to 0.25: moderate shift; 0.25 and above: major shift.
PSI_BANDS = (0.10, 0.25)


def psi(reference: np.ndarray, *, current: np.ndarray, n_bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference``.

    Parameters
    ----------
    reference : ndarray of shape (n_ref,)
        Baseline values; NaN are dropped.
    current : ndarray of shape (n_cur,)
        Stressed values; NaN are dropped.
    n_bins : int, default 10
        Bin edges at the reference's deciles (``np.quantile``, linear interpolation) for the
        default 10; the outer bins are open, ``(-inf, q_1]`` and ``(q_9, inf)``; bins are closed on
        the right; repeated edges (discrete features) are merged.

    Returns
    -------
    float
        ``PSI = sum_b (c_b - r_b) * ln(c_b / r_b)`` with ``r_b``/``c_b`` the reference/current
        shares of bin b, each floored at 1e-4.

    Raises
    ------
    ValueError
        If either sample is empty after dropping NaN.

    References
    ----------
    Siddiqi (2006), *Credit Risk Scorecards*, Wiley, ch. 8; Yurdakul (2018), "Statistical
    properties of population stability index", Western Michigan University (bands 0.10 / 0.25).
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        raise ValueError("PSI needs non-empty reference and current samples")
    edges = np.unique(np.quantile(ref, np.arange(1, n_bins) / n_bins))
    k = edges.size + 1
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=k) / ref.size
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=k) / cur.size
    r, c = np.maximum(r, PSI_FLOOR), np.maximum(c, PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_band(value: float) -> str:
    """``stable`` (< 0.10), ``moderate`` (0.10 to < 0.25) or ``significant`` (>= 0.25)."""
    if value < PSI_BANDS[0]:
        return "stable"
    if value < PSI_BANDS[1]:
        return "moderate"
    return "significant"


def drift(reference: np.ndarray, current: np.ndarray) -> dict[str, float | str | None]:
    """PSI with its band, the two-sample KS statistic and p-value, and normalised Wasserstein.

    Parameters
    ----------
    reference, current : ndarray of shape (n,) and (m,)
        Baseline and stressed values of one feature; NaN dropped.

    Returns
    -------
    dict
        PSI, PSI_band, KS, KS_p_value (``scipy.stats.ks_2samp``, two-sided, exact/asymptotic as
        scipy chooses), wasserstein_normalised (``scipy.stats.wasserstein_distance`` divided by the
        reference's standard deviation, ddof=0; ``None`` for a constant reference).
    """
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    value = psi(ref, current=cur)
    ks = ks_2samp(ref, cur)
    sd = float(np.std(ref))
    w = float(wasserstein_distance(ref, cur))
    return {
        "PSI": value,
        "PSI_band": psi_band(value),
        "KS": float(ks.statistic),
        "KS_p_value": float(ks.pvalue),
        "wasserstein_normalised": w / sd if sd > 0 else None,
    }


def histogram_pair(before: np.ndarray, *, after: np.ndarray, n_bins: int = 30) -> dict[str, list]:
    """Counts of a feature before and after a scenario on shared equal-width bins.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1 floats over the union's range), ``before`` and ``after`` counts
        (n_bins ints each); NaN dropped.
    """
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    b, a = b[~np.isnan(b)], a[~np.isnan(a)]
    both = np.concatenate([b, a])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, n_bins + 1)
    return {
        "edges": [float(e) for e in edges],
        "before": [int(v) for v in np.histogram(b, bins=edges)[0]],
        "after": [int(v) for v in np.histogram(a, bins=edges)[0]],
    }
