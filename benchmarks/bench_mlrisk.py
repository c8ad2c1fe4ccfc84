"""Full model validation on the 30,000-row UCI credit default data with a random forest.

Baseline, the five default scenarios and three subgroup columns (SEX, EDUCATION, MARRIAGE).
Forest: 100 trees, min_samples_leaf 5, max_features "sqrt", trained with n_jobs=2 (predictions
single-threaded for bit-reproducibility). Runs the workflow the CLI and the page call
(:func:`engine.mlrisk.workflow.validate`, reading the bundled data, not recording the run).
Target: <= 15 s on the project machine (2 cores). Prints figures only.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.mlrisk import ValidationConfig  # noqa: E402
from engine.mlrisk.workflow import ValidateRequest, validate  # noqa: E402

TARGET_SECONDS = 15.0


def main() -> None:
    config = ValidationConfig(target="default_payment_next_month", model="random_forest",
                              subgroups=["SEX", "EDUCATION", "MARRIAGE"], seed=42, n_jobs=2)
    request = ValidateRequest(config=config, user="bench", record=False, source="cli")
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        done = validate(request)
        times.append(time.perf_counter() - t0)
    run = done.run
    best = min(times)
    print(f"mlrisk full validation: {run.results['data']['n_rows']:,} rows, random forest, "
          f"{len(run.results['scenarios'])} scenarios, {len(run.results['subgroups'])} subgroup columns, "
          f"{len(run.rows)} degradation rows, decision {run.decision}")
    print(f"  wall time best of 2: {best:.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)}); "
          f"target <= {TARGET_SECONDS:.0f} s -> {'within' if best <= TARGET_SECONDS else 'OVER'} target")
    print("  stages (last run): " + ", ".join(f"{k} {v:.2f} s" for k, v in done.timings.items()))
    print(f"  cores available: {os.cpu_count()}")


if __name__ == "__main__":
    main()
