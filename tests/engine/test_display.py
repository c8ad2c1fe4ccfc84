"""Reading formats: amounts rounded by hand-checkable rules, p-values, the glossary."""

import math

import pytest

from engine.display import GLOSSARY, label, money, money_short, number_short, pct, pvalue, term


@pytest.mark.parametrize(("x", "expected"), [
    (147_021_215.33, "$147.0M"),   # the issue's example
    (-3_249.0, "-$3.2K"),
    (1_500_000_000.0, "$1.5B"),
    (999_960.0, "$1.0M"),          # rounds up into the next unit, never "$1000.0K"
    (950.0, "$950"),
    (0.0, "$0"),
    (None, "–"),
    (math.nan, "–"),
])
def test_money_short(x, expected):
    assert money_short(x) == expected


def test_money_exact_and_other_currencies():
    assert money(147_021_215.33) == "$147,021,215"
    assert money(-5.0) == "-$5"
    assert money_short(2_500_000.0, currency="EUR") == "€2.5M"
    assert money(12.0, currency="CHF") == "CHF 12"
    assert number_short(1_234_567) == "1.2M"


def test_pct_and_pvalue():
    assert pct(0.05) == "5.00%"
    assert pct(-0.151, signed=True, digits=1) == "-15.1%"
    assert pct(29.2, decimal=False) == "29.20%"
    assert pvalue(1e-70) == "< 0.001"          # the Drift tab printed about 70 zeros
    assert pvalue(0.0344) == "0.034"
    with pytest.raises(ValueError):
        pvalue(1.5)


def test_glossary_names_the_issue_terms():
    assert label("cornish_fisher") == "Cornish–Fisher"
    assert label("KS_p_value") == "KS p-value"
    assert label("wac") == "Weighted average rate"
    assert term("unknown_code").name == "Unknown code" and term("unknown_code").help == ""
    assert all(t.help for t in GLOSSARY.values())


def test_missing_values_of_every_kind_read_as_a_dash():
    import numpy as np
    import pandas as pd

    # pandas.NA raises on truth tests ("boolean value of NA is ambiguous"): a cell of a nullable
    # column must read "–", not crash the page
    assert [money(v) for v in (None, math.nan, np.nan, pd.NA, pd.NaT)] == ["–"] * 5
    assert pct(pd.NA) == "–" and money_short(pd.NA) == "–"
