"""PSI on a hand-worked example, its bands, KS and normalised Wasserstein."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.mlrisk import drift, histogram_pair, psi, psi_band


def test_psi_hand_worked_example():
    # reference 1..10: deciles 1.9, 2.8, ..., 9.1 -> each of the 10 bins holds one value (0.1).
    # current: bin 0 holds {1,1,1,1,1} = 0.5, bin 1 {2,2} = 0.2, bin 2 {3}, bin 3 {4}, bin 9 {10} = 0.1,
    # bins 4..8 empty -> floored at 1e-4.
    ref = np.arange(1, 11, dtype=float)
    cur = np.array([1, 1, 1, 1, 1, 2, 2, 3, 4, 10], dtype=float)
    expected = (0.5 - 0.1) * math.log(5) + (0.2 - 0.1) * math.log(2) + 5 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert expected == pytest.approx(4.1635136, abs=1e-6)
    assert psi(ref, current=cur) == pytest.approx(expected, rel=1e-12)


def test_psi_zero_for_identical_samples_and_open_outer_bins():
    ref = np.arange(1, 11, dtype=float)
    assert psi(ref, current=ref) == 0.0
    # values far outside the reference fall into the open outer bins: same shares as 1 and 10
    assert psi(ref, current=np.array([-1e9, 2, 3, 4, 5, 6, 7, 8, 9, 1e9])) == 0.0


@pytest.mark.parametrize(("value", "band"), [(0.0, "stable"), (0.0999, "stable"), (0.10, "moderate"),
                                              (0.2499, "moderate"), (0.25, "significant"), (3.0, "significant")])
def test_psi_bands(value, band):
    assert psi_band(value) == band


def test_drift_shift_by_one_standard_deviation():
    ref = np.array([0.0, 2.0] * 50)  # std (ddof=0) = 1
    cur = ref + 1.0
    d = drift(ref, cur)
    assert d["wasserstein_normalised"] == pytest.approx(1.0)
    assert d["KS"] == pytest.approx(0.5)  # the ECDFs differ by 0.5 on [0, 1) and [2, 3)
    assert 0.0 <= d["KS_p_value"] < 1e-3


def test_drift_identical_is_zero_with_p_one():
    ref = np.linspace(0, 1, 50)
    d = drift(ref, ref.copy())
    assert d["PSI"] == 0.0 and d["KS"] == 0.0 and d["KS_p_value"] == 1.0
    assert d["wasserstein_normalised"] == 0.0 and d["PSI_band"] == "stable"


def test_histogram_pair_counts_all_values_on_shared_bins():
    h = histogram_pair(np.array([0.0, 1.0, 2.0]), after=np.array([2.0, 3.0, np.nan]), n_bins=3)
    assert h["edges"] == [0.0, 1.0, 2.0, 3.0]
    assert h["before"] == [1, 1, 1]
    assert h["after"] == [0, 0, 2]
