"""Credit engine speed: loan-scenarios per second and peak memory, against a plain numpy
month-loop reference measured in the same run.

    .venv/bin/python benchmarks/bench_credit.py [--sizes 1000 100000 1000000] [--skip-reference-above N]

Each case runs in a fresh subprocess so its peak RSS is its own. Pools are synthetic
(seeded), 360-month terms, the 7 predefined scenarios. Also timed: reading + validating +
storing a 1,000,000-loan pool (Parquet and CSV), and the whole `stresslab stress` command on
100,000 loans against the reference as a whole process.

    .venv/bin/python benchmarks/bench_credit.py --paths-and-curve 1000000

times path scenarios and Treasury-curve discounting against constant factors on a flat rate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable


def synthetic_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(["residential_mortgage", "auto_loan", "consumer_loan", "sme_loan"])
    return pd.DataFrame({
        "asset_id": [f"L{i:07d}" for i in range(n)],
        "asset_class": classes[rng.integers(0, 4, n)],
        "balance": rng.uniform(5_000, 500_000, n).round(2),
        "rate": rng.uniform(0.02, 0.12, n).round(5),
        "term": np.full(n, 360),
        "age": np.zeros(n, dtype=int),
        "rate_type": np.where(rng.random(n) < 0.2, "floating", "fixed"),
        "prepayment_speed": rng.uniform(0.02, 0.2, n).round(4),
        "default_probability": rng.uniform(0.001, 0.05, n).round(4),
        "recovery_rate": rng.uniform(0.2, 0.7, n).round(3),
        "status": "performing",
    }).assign(recovery_lag=lambda f: f["asset_class"].map(LAGS).astype(int))


#: Recovery lag (months) by asset class, the packaged assumption table's values.
LAGS = {"residential_mortgage": 18, "auto_loan": 3, "consumer_loan": 6, "sme_loan": 12}


SCENARIOS = ["base", "rate_shock_up", "rate_shock_down", "credit_crisis", "liquidity_crisis",
             "housing_boom", "housing_bust"]


def reference_project(df: pd.DataFrame, *, discount_rate: float = 0.05) -> dict[str, float]:
    """The same model as a plain numpy loop over months, vectorized across loans."""
    from engine.credit import PREDEFINED_SCENARIOS

    bal0 = df["balance"].to_numpy(float)
    rate = df["rate"].to_numpy(float)
    floating = (df["rate_type"] == "floating").to_numpy()
    n_rem = (df["term"] - df["age"]).to_numpy(np.int64)
    cpr = df["prepayment_speed"].to_numpy(float)
    cdr = df["default_probability"].to_numpy(float)
    rr = df["recovery_rate"].to_numpy(float)
    lags = df["recovery_lag"].to_numpy(np.int64)
    lag = int(lags.max())
    horizon = int(n_rem.max())
    out = {}
    for key in SCENARIOS:
        f = PREDEFINED_SCENARIOS[key].market_factors
        c = np.where(floating, np.maximum(rate + f.interest_rate_shock, 0), rate) / 12
        smm = np.minimum((1 - (1 - cpr) ** (1 / 12)) * f.prepayment_multiplier, 1)
        mdr = np.minimum((1 - (1 - cdr) ** (1 / 12)) * f.default_multiplier, 1)
        rec = np.minimum(rr * f.recovery_multiplier, 1)
        y = discount_rate + f.interest_rate_shock + f.discount_rate_shock + f.spread_widening
        b = bal0.copy()
        g = (1 + c) ** n_rem          # (1 + c) ** months left, divided down each month
        inv = 1 / (1 + c)
        zero_c = c <= 1e-12
        cf = np.zeros(horizon + lag)
        for k in range(horizon):
            left = n_rem - k
            d = b * mdr
            p = b - d
            interest = p * c
            with np.errstate(divide="ignore", invalid="ignore"):
                sched = np.where(zero_c, p / np.maximum(left, 1), p * c / (g - 1))
            sched[left <= 1] = p[left <= 1]
            sched[left <= 0] = 0.0
            g *= inv
            prep = (p - sched) * smm
            b = p - sched - prep
            cf[k] += (sched + prep + interest).sum()
            cf[k:k + lag + 1] += np.bincount(lags, weights=d * rec, minlength=lag + 1)
        v = (1 + y / 12) ** -np.arange(1, cf.size + 1)
        out[key] = float(cf @ v)
    return out


def case(n: int, which: str) -> dict[str, float]:
    """Run one case in this process and report seconds and peak RSS."""
    df = synthetic_frame(n)
    if which == "engine":
        from datetime import date

        from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
        from engine.ingest import read_pool

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "pool.parquet"
            df.to_parquet(path)
            pool = read_pool(path, format="native")
        del df
        req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2026, 1, 1)),
                                scenario_names=SCENARIOS)
        # warm-up on a tiny pool so numba's cached kernel is loaded before timing
        run_stress_test(req.model_copy(), pool=_tiny(), cache=None)
        t0 = time.perf_counter()
        result = run_stress_test(req, pool=pool, cache=None)
        elapsed = time.perf_counter() - t0
        assert all(r.status == "success" for r in result.scenarios.values())
        if n <= 100_000:  # the reference is the same model: same NPVs
            ref = reference_project(synthetic_frame(n))
            for key, npv in ref.items():
                ours = result.scenarios[key].metrics["npv"]
                assert abs(ours - npv) <= 1e-9 * abs(npv), (key, ours, npv)
    else:
        t0 = time.perf_counter()
        reference_project(df)
        elapsed = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": elapsed, "peak_mb": peak_mb}


def _tiny():

    from engine.ingest import read_pool
    import io

    buf = io.BytesIO()
    synthetic_frame(10).to_csv(buf, index=False)
    return read_pool(buf.getvalue(), filename="tiny.csv", format="native")


def run_case(n: int, which: str) -> dict[str, float]:
    out = subprocess.run([PY, __file__, "--case", str(n), which], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ingest_and_store(n: int) -> dict[str, float]:
    from engine.credit.workflow import save_pool
    from engine.ingest import read_pool
    from engine.store import Store

    df = synthetic_frame(n)
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for fmt in ("parquet", "csv"):
            path = Path(d) / f"pool.{fmt}"
            (df.to_parquet if fmt == "parquet" else lambda p: df.to_csv(p, index=False))(path)
            store = Store(Path(d) / f"{fmt}.duckdb")
            with store.read():  # create the file and its schema outside the timing
                pass
            t0 = time.perf_counter()
            pool = read_pool(path, format="native")
            t1 = time.perf_counter()
            save_pool(pool, store=store)  # one write session, one transaction
            t2 = time.perf_counter()
            res[fmt] = (t1 - t0, t2 - t1)
    return res


def whole_process(n: int) -> tuple[float, float]:
    df = synthetic_frame(n)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "pool.parquet"
        df.to_parquet(path)
        env = dict(os.environ, STRESSLAB_DB=str(Path(d) / "p.duckdb"))
        stresslab = [PY, "-m", "engine.cli", "stress", str(path), *sum(
            (["--scenario", s] for s in SCENARIOS), []), "--json", "--no-cache", "--no-store"]
        subprocess.run(stresslab, capture_output=True, check=True, cwd=ROOT, env=env)  # warm cache
        t0 = time.perf_counter()
        subprocess.run(stresslab, capture_output=True, check=True, cwd=ROOT, env=env)
        ours = time.perf_counter() - t0
        ref = [PY, "-c", "import sys, json, pandas as pd; sys.path.insert(0, %r); "
               "from benchmarks.bench_credit import reference_project; "
               "print(json.dumps(reference_project(pd.read_parquet(%r))))" % (str(ROOT), str(path))]
        t0 = time.perf_counter()
        subprocess.run(ref, capture_output=True, check=True, cwd=ROOT, env=env)
        theirs = time.perf_counter() - t0
    return ours, theirs


def paths_and_curve(n: int, *, repeats: int = 3) -> dict[str, float]:
    """Seconds (best of ``repeats``) of one whole run of ``n`` loans under the two Federal
    Reserve 2025 scenarios, read three ways: constant peak factors on the flat rate (the
    reference), the same scenarios as monthly paths, and the constant factors discounted on the
    Treasury zero curve of 2014-06-27 (plus the base case each time)."""
    from datetime import date

    from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test

    pool = _pool(n)
    flat = AnalysisRequest(analysis_date=date(2026, 1, 1))
    curve = AnalysisRequest(analysis_date=date(2026, 1, 1), discounting="curve",
                            curve_date=date(2014, 6, 27))
    peak = ["fed_2025_baseline", "fed_2025_severely_adverse"]
    cases = {
        "constant factors, flat rate": (flat, peak),
        "path factors, flat rate": (flat, [f"{k}_path" for k in peak]),
        "constant factors, Treasury curve": (curve, peak),
    }
    requests = {label: StressTestRequest(request=inner, scenario_names=names)
                for label, (inner, names) in cases.items()}
    for label in ("constant factors, flat rate", "path factors, flat rate"):  # loan by loan too
        requests[f"{label}, loan-level"] = requests[label].model_copy(
            update={"include_loan_level": True})
    for req in requests.values():
        run_stress_test(req, pool=_tiny(), cache=None)  # numba's kernels loaded before timing
    out = dict.fromkeys(requests, float("inf"))
    for _ in range(repeats):  # the cases take turns, so a busy spell hits them alike
        for label, req in requests.items():
            t0 = time.perf_counter()
            result = run_stress_test(req, pool=pool, cache=None)
            out[label] = min(out[label], time.perf_counter() - t0)
            assert all(r.status == "success" for r in result.scenarios.values())
    return out


def _pool(n: int):
    from engine.ingest import read_pool

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "pool.parquet"
        synthetic_frame(n).to_parquet(path)
        return read_pool(path, format="native")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", nargs=2, metavar=("N", "WHICH"))
    ap.add_argument("--sizes", nargs="*", type=int, default=[1_000, 100_000, 1_000_000])
    ap.add_argument("--skip-reference-above", type=int, default=10**9,
                    help="skip the reference for larger pools (it is slow)")
    ap.add_argument("--paths-and-curve", type=int, metavar="N", default=None,
                    help="only time path scenarios and curve discounting against constant "
                         "factors on a flat rate, at N loans (the README uses 1,000,000)")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case(int(args.case[0]), args.case[1])))
        return
    if args.paths_and_curve:
        n = args.paths_and_curve
        times = paths_and_curve(n)
        print(f"{n:,} loans x 3 scenarios (base + the two Fed 2025 scenarios), best of 3, "
              f"{os.cpu_count()} cores:")
        for label, seconds in times.items():
            ref = times["constant factors, flat rate" + (", loan-level" if "loan-level" in label
                                                         else "")]
            print(f"  {label:<34} {seconds:6.2f} s   {seconds / ref:4.2f}x the constant-factor "
                  f"time (target for paths: <= 1.5x)")
        return
    print(f"credit engine benchmark: 7 scenarios, 360-month terms, {os.cpu_count()} cores")
    print(f"{'loans':>10} {'engine s':>9} {'loan-scen/s':>13} {'peak MB':>8} "
          f"{'reference s':>12} {'ref peak MB':>11} {'speed-up':>9}")
    for n in args.sizes:
        e = run_case(n, "engine")
        line = (f"{n:>10,} {e['seconds']:>9.3f} {n * 7 / e['seconds']:>13,.0f} "
                f"{e['peak_mb']:>8,.0f}")
        if n <= args.skip_reference_above:
            r = run_case(n, "reference")
            line += (f" {r['seconds']:>12.3f} {r['peak_mb']:>11,.0f} "
                     f"{r['seconds'] / e['seconds']:>8.1f}×")
        print(line, flush=True)
    print("\nread + validate + store 1,000,000 loans:")
    for fmt, (read_s, store_s) in ingest_and_store(1_000_000).items():
        print(f"  {fmt:<8} read+validate {read_s:6.2f} s   store {store_s:6.2f} s   "
              f"total {read_s + store_s:6.2f} s")
    ours, theirs = whole_process(100_000)
    print(f"\nwhole process, 100,000 loans × 7 scenarios, start to JSON out: stresslab "
          f"{ours:.2f} s, reference {theirs:.2f} s, {theirs / ours:.1f}× faster")


if __name__ == "__main__":
    main()
