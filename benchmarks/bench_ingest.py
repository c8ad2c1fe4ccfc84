"""Benchmark: read + validate + fill a 1,000,000-loan native pool from CSV and Parquet.

Generates a seeded synthetic pool (numpy ``default_rng(20240630)``) in a temporary directory,
times :func:`engine.ingest.read_pool` on each file (in its own process) and prints the seconds,
the process's peak RSS (``resource.getrusage``) and the peak traced by ``tracemalloc`` in a
second, untimed read (tracemalloc slows allocation, so it is kept out of the timing).
Behavioural columns are left out so the assumption fill runs on every loan. Storing the pool
(DuckDB) is not part of this figure. Reference: the target for read + validate + store is 10 s.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [n_loans]``
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from engine.credit.models import AssetClass
from engine.ingest import read_pool

TARGET_SECONDS = 10.0


def make_pool(n: int, seed: int = 20240630) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array([c.value for c in AssetClass])
    term = rng.choice([36, 60, 120, 360], size=n)
    cls = classes[rng.integers(0, len(classes), size=n)]
    grade = np.where(cls == "consumer_loan", np.array(list("ABCDEFG"))[rng.integers(0, 7, size=n)], "")
    return pd.DataFrame({
        "asset_id": np.char.add("L", np.arange(1, n + 1).astype(str)),
        "asset_class": cls,
        "balance": np.round(rng.uniform(1_000, 500_000, size=n), 2),
        "rate": np.round(rng.uniform(0.02, 0.25, size=n), 5),
        "term": term,
        "age": (rng.uniform(0, 1, size=n) * (term - 1)).astype(np.int64),
        "original_balance": np.round(rng.uniform(500_000, 600_000, size=n), 2),
        "rate_type": rng.choice(["fixed", "floating"], size=n),
        "status": rng.choice(["performing", "delinquent"], p=[0.97, 0.03], size=n),
        "grade": grade,
    })


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _one(path: str) -> None:
    """Child process: time read_pool on one file, then its traced peak; print one line."""
    t0 = time.perf_counter()
    pool = read_pool(path)
    seconds = time.perf_counter() - t0
    rss = _peak_rss_mib()
    tracemalloc.start()
    read_pool(path)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    suffix = Path(path).suffix
    print(f"read_pool {suffix:9s} {seconds:6.2f} s  ({pool.n_assets / seconds:,.0f} loans/s)  "
          f"peak RSS {rss:,.0f} MiB  peak traced (numpy + Python) {traced / 2**20:,.0f} MiB  "
          f"[target: read + validate + store <= {TARGET_SECONDS:.0f} s]", flush=True)


def main(n: int = 1_000_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        frame = make_pool(n)
        csv, parquet = Path(tmp) / "pool.csv", Path(tmp) / "pool.parquet"
        frame.to_csv(csv, index=False)
        frame.to_parquet(parquet, index=False)
        del frame
        print(f"pool: {n:,} loans (seeded), every behavioural value filled from the assumption table; "
              f"CSV {csv.stat().st_size / 2**20:.0f} MiB, Parquet {parquet.stat().st_size / 2**20:.0f} MiB")
        for path in (csv, parquet):  # one process per file, so peak RSS is that read's own
            subprocess.run([sys.executable, __file__, "--one", str(path)], check=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        _one(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
