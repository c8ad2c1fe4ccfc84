"""Cashflow projection: hand-derived tables, closed-form identities and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.credit import MarketFactors, loan_paths, monthly_rate, project
from engine.credit._cashflows import POOL_FIELDS, discount_factors, horizon_of

from .conftest import arrays

F = {name: i for i, name in enumerate(POOL_FIELDS)}
NEUTRAL = MarketFactors()


def run(loans, factors=NEUTRAL, *, y=0.06, periods=None, loan_level=False):
    h, t = horizon_of(loans, periods)
    return project(loans, factors=factors, discount=discount_factors(y, t), horizon=h, n_periods=t,
                   loan_level=loan_level)


@pytest.mark.parametrize(
    ("cpr", "smm"),
    [
        # PSA tables: 6 % CPR is 0.5143 % SMM; 100 % CPR is 100 % SMM; 0 is 0.
        (0.06, 0.0051430),
        (0.0, 0.0),
        (1.0, 1.0),
        (0.20, 1 - 0.8 ** (1 / 12)),
    ],
)
def test_monthly_rate_matches_the_psa_convention(cpr, smm):
    assert monthly_rate(np.array([cpr]))[0] == pytest.approx(smm, abs=5e-8)


def test_monthly_rate_rejects_rates_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        monthly_rate(np.array([0.1, 1.2]))


def test_three_month_loan_matches_the_hand_amortization_table():
    # 1,000 at 12 % a year (c = 1 % a month) over 3 months, no default, no prepayment.
    # Level payment A = 1000 * 0.01 / (1 - 1.01**-3) = 340.0221115
    #   month 1: interest 10.0000000, principal 330.0221115, balance 669.9778885
    #   month 2: interest  6.6997789, principal 333.3223326, balance 336.6555559
    #   month 3: interest  3.3665556, principal 336.6555559, balance   0
    pool, _ = run(arrays(balance=[1000.0], rate=[0.12], term=[3]))
    a = 1000 * 0.01 / (1 - 1.01**-3)
    assert a == pytest.approx(340.0221115, abs=1e-6)
    np.testing.assert_allclose(pool[:3, F["interest"]], [10.0, 6.6997789, 3.3665556], atol=1e-6)
    np.testing.assert_allclose(pool[:3, F["scheduled_principal"]],
                               [330.0221115, 333.3223326, 336.6555559], atol=1e-6)
    np.testing.assert_allclose(pool[:3, F["ending_balance"]], [669.9778885, 336.6555559, 0.0],
                               atol=1e-6)


def test_small_pool_with_default_and_prepayment_matches_hand_computation():
    # Loan A: 1,000 at 12 % for 3 months, MDR 1 % and SMM 2 % a month, recovery 40 % after
    # 1 month. Loan B: 500 at 0 % for 2 months, nothing else. Month 1 by hand:
    #   A: default 10.00; performing 990.00; interest 9.90;
    #      scheduled 990 * 0.01 / (1.01**3 - 1) = 326.7219...; prepay 0.02 * (990 - 326.7219)
    #      = 13.2656...; end 650.0125...; recovery of 4.00 arrives in month 2.
    #   B: scheduled 250, interest 0.
    mdr, smm = 0.01, 0.02
    cdr, cpr = 1 - (1 - mdr) ** 12, 1 - (1 - smm) ** 12
    loans = arrays(balance=[1000.0, 500.0], rate=[0.12, 0.0], term=[3, 2],
                   default_probability=[cdr, 0.0], prepayment_speed=[cpr, 0.0],
                   recovery_rate=[0.4, 0.4], recovery_lag=[1, 1])
    pool, _ = run(loans)
    sched_a1 = 990 * 0.01 / (1.01**3 - 1)
    prep_a1 = 0.02 * (990 - sched_a1)
    end_a1 = 990 - sched_a1 - prep_a1
    assert sched_a1 == pytest.approx(326.72189, abs=1e-5)
    row = pool[0]
    assert row[F["default_amount"]] == pytest.approx(10.0)
    assert row[F["interest"]] == pytest.approx(9.90)
    assert row[F["scheduled_principal"]] == pytest.approx(sched_a1 + 250.0)
    assert row[F["prepayment"]] == pytest.approx(prep_a1)
    assert row[F["ending_balance"]] == pytest.approx(end_a1 + 250.0)
    assert row[F["loss"]] == pytest.approx(6.0)
    assert row[F["recovery"]] == 0.0
    # month 2: A re-amortizes end_a1 * 0.99 over 2 months; recovery 4.00 from month 1 arrives
    p2 = end_a1 * 0.99
    sched_a2 = p2 * 0.01 / (1.01**2 - 1)
    assert pool[1, F["scheduled_principal"]] == pytest.approx(sched_a2 + 250.0)
    assert pool[1, F["recovery"]] == pytest.approx(4.0)
    assert pool[1, F["interest"]] == pytest.approx(p2 * 0.01)


def test_par_loan_discounted_at_its_coupon_is_worth_its_balance():
    loans = arrays(balance=[250_000.0], rate=[0.065], term=[360], age=[24])
    _, per_loan = run(loans, y=0.065, loan_level=True)
    assert per_loan[0, 0] == pytest.approx(250_000.0, rel=1e-12)


def test_recovery_arrives_after_its_lag_and_loss_is_the_rest():
    loans = arrays(balance=[1000.0], status=["default"], recovery_rate=[0.35], recovery_lag=[6])
    pool, _ = run(loans)
    assert pool[0, F["default_amount"]] == pytest.approx(1000.0)
    assert pool[0, F["loss"]] == pytest.approx(650.0)
    assert pool[6, F["recovery"]] == pytest.approx(350.0)
    assert pool[:, F["recovery"]].sum() == pytest.approx(350.0)
    assert pool[:, F["interest"]].sum() == 0.0
    assert pool[:, F["scheduled_principal"]].sum() == 0.0


def test_paid_off_loans_have_no_cashflows():
    pool, _ = run(arrays(balance=[0.0, 500.0], status=["paid_off", "paid_off"]))
    assert np.abs(pool).sum() == 0.0


def test_delinquent_loans_default_at_least_at_the_floor():
    from engine.credit import LoanArrays

    from .conftest import make_frame

    frame = make_frame(balance=[1000.0, 1000.0], status=["performing", "delinquent"],
                       default_probability=[0.02, 0.02])
    loans = LoanArrays.from_frame(frame, delinquent_cdr={"consumer_loan": 0.5})
    np.testing.assert_allclose(loans.cdr, [0.02, 0.5])


def test_floating_coupon_moves_with_the_shock_and_is_floored_at_zero():
    loans = arrays(balance=[1000.0, 1000.0], rate=[0.03, 0.03], rate_type=["floating", "fixed"],
                   term=[1, 1])
    up, _ = run(loans, MarketFactors(interest_rate_shock=0.02))
    assert up[0, F["interest"]] == pytest.approx(1000 * 0.05 / 12 + 1000 * 0.03 / 12)
    down, _ = run(loans, MarketFactors(interest_rate_shock=-0.05))
    assert down[0, F["interest"]] == pytest.approx(1000 * 0.03 / 12)  # floating floored at 0


def test_multipliers_scale_monthly_rates_and_are_capped_at_one():
    loans = arrays(balance=[1000.0], term=[24], default_probability=[0.5])
    pool, _ = run(loans, MarketFactors(default_multiplier=5.0))
    mdr = min(monthly_rate(np.array([0.5]))[0] * 5.0, 1.0)
    assert pool[0, F["default_amount"]] == pytest.approx(1000 * mdr)
    pool, _ = run(arrays(balance=[1000.0], term=[24], default_probability=[1.0]),
                  MarketFactors(default_multiplier=2.0))
    assert pool[0, F["default_amount"]] == pytest.approx(1000.0)


def test_projection_shorter_than_the_term_leaves_a_residual():
    loans = arrays(balance=[1000.0], rate=[0.12], term=[3])
    pool, _ = run(loans, periods=1)
    assert pool.shape[0] == 1 + 3  # horizon + longest recovery lag
    assert pool[0, F["residual"]] == pytest.approx(669.9778885, abs=1e-6)


def test_closed_form_paths_match_the_kernel(rng):
    n = 40
    loans = arrays(
        asset_id=[f"L{i}" for i in range(n)],
        balance=rng.uniform(1_000, 50_000, n).tolist(),
        rate=rng.uniform(0.0, 0.2, n).tolist(),
        term=rng.integers(12, 120, n).tolist(),
        age=[0] * n,
        prepayment_speed=rng.uniform(0, 0.3, n).tolist(),
        default_probability=rng.uniform(0, 0.2, n).tolist(),
        recovery_rate=[0.4] * n, recovery_lag=[0] * n,
    )
    paths = loan_paths(loans, factors=MarketFactors(default_multiplier=1.5), horizon=120)
    pool, _ = run(loans, MarketFactors(default_multiplier=1.5), periods=120)
    np.testing.assert_allclose(paths["balance"].sum(axis=0), pool[:120, F["ending_balance"]],
                               rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(paths["cumulative_default"][:, -1].sum(),
                               pool[:, F["default_amount"]].sum(), rtol=1e-9)


loan_strategy = st.fixed_dictionaries({
    "balance": st.floats(1.0, 1e6),
    "rate": st.floats(0.0, 0.3),
    "term": st.integers(1, 360),
    "cpr": st.floats(0.0, 1.0),
    "cdr": st.floats(0.0, 1.0),
    "recovery": st.floats(0.0, 1.0),
})


@settings(max_examples=60, deadline=None)
@given(st.lists(loan_strategy, min_size=1, max_size=6), st.floats(0.5, 5.0),
       st.floats(0.2, 3.0), st.integers(1, 400))
def test_principal_paid_plus_defaulted_equals_starting_balance(loans, dm, pm, periods):
    la = arrays(
        asset_id=[f"L{i}" for i in range(len(loans))],
        balance=[x["balance"] for x in loans], rate=[x["rate"] for x in loans],
        term=[x["term"] for x in loans], prepayment_speed=[x["cpr"] for x in loans],
        default_probability=[x["cdr"] for x in loans],
        recovery_rate=[x["recovery"] for x in loans],
    )
    pool, _ = run(la, MarketFactors(default_multiplier=dm, prepayment_multiplier=pm),
                  periods=periods)
    paid = pool[:, F["scheduled_principal"]].sum() + pool[:, F["prepayment"]].sum()
    total = paid + pool[:, F["default_amount"]].sum() + pool[:, F["residual"]].sum()
    assert total == pytest.approx(la.balance.sum(), rel=1e-9)
    assert pool[:, F["recovery"]].sum() + pool[:, F["loss"]].sum() == pytest.approx(
        pool[:, F["default_amount"]].sum(), rel=1e-9, abs=1e-9)
    assert (pool >= -1e-9).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 150), st.integers(0, 2**32 - 1), st.sampled_from([None, 1, 12, 40]))
def test_closed_form_kernel_matches_the_month_by_month_recursion(n, seed, periods):
    """Two implementations of one model: the vectorized closed form (pool sums) and the
    recursion (used for loan-level results) agree on random pools of mixed lags and statuses."""
    rng = np.random.default_rng(seed)
    loans = arrays(
        asset_id=[f"L{i}" for i in range(n)],
        balance=rng.uniform(100, 1e6, n).tolist(),
        rate=np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0, 0.25, n)).tolist(),
        term=rng.integers(1, 361, n).tolist(),
        prepayment_speed=rng.uniform(0, 0.5, n).tolist(),
        default_probability=rng.uniform(0, 0.3, n).tolist(),
        recovery_rate=rng.uniform(0, 1, n).tolist(),
        recovery_lag=rng.choice([0, 3, 6, 18], n).tolist(),
        status=rng.choice(["performing", "delinquent", "default", "paid_off"], n,
                          p=[0.85, 0.05, 0.05, 0.05]).tolist(),
        rate_type=rng.choice(["fixed", "floating"], n).tolist(),
    )
    factors = MarketFactors(default_multiplier=2.0, prepayment_multiplier=0.5,
                            interest_rate_shock=0.01)
    fast, _ = run(loans.sorted_for_projection(), factors, periods=periods)
    slow, _ = run(loans, factors, periods=periods, loan_level=True)
    scale = max(loans.balance.sum(), 1.0)
    np.testing.assert_allclose(fast, slow, rtol=1e-9, atol=1e-9 * scale)
