"""Report speed figures (printed, never asserted): the time to build each report in HTML and PDF.

A temporary store gets one run of each kind on the bundled data (the first 200 loans of the
Lending Club tape, the UCI credit-card data at 1,500 rows, the bundled prices and shipped
limits). Each report is then built ``REPEATS`` times per format and the median printed, with the
parts that dominate: drawing the charts (one kaleido / Chromium session per report) and printing
the PDF (WeasyPrint). Reference in the same run: one Chromium session drawing a single empty
figure, the floor any kaleido export pays.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.credit import workflow as cw  # noqa: E402
from engine.market import workflow as mw  # noqa: E402
from engine.mlrisk import ValidationConfig  # noqa: E402
from engine.mlrisk import workflow as mlw  # noqa: E402
from engine.render import _charts  # noqa: E402
from engine.render._pdf import html_to_pdf  # noqa: E402
from engine.reports.workflow import build_report, report_html  # noqa: E402
from engine.store import Store  # noqa: E402

REPEATS = 3
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"


def _median(fn, n: int = REPEATS) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> None:
    import plotly.graph_objects as go

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.duckdb")
        t = time.perf_counter()
        pool = cw.import_pool(cw.ImportPoolRequest(
            content=pd.read_csv(TAPE, nrows=200).to_csv(index=False).encode(),
            filename="lc200.csv", pool_id="lc-200"), store=store).pool_id
        stress = cw.run_stress(cw.StressRunRequest(pool_id=pool, analysis_date=date(2018, 3, 31)),
                               store=store).run_id
        config = ValidationConfig(target="default_payment_next_month", subgroups=["SEX"],
                                  model="logistic_regression", row_limit=1500)
        t_val = time.perf_counter()
        validation = mlw.validate(mlw.ValidateRequest(config=config, user="bench"), store=store)
        t_val = time.perf_counter() - t_val
        limits = mw.evaluate_limits(mw.LimitsRequest(), store=store).run_id
        print(f"store filled in {time.perf_counter() - t:.1f} s (validation {t_val:.1f} s, of which "
              f"its evidence report {validation.timings.get('artifacts', float('nan')):.1f} s in "
              "'artifacts')")

        floor = _median(lambda: _charts.svg_images([go.Figure()]))
        print(f"reference: one kaleido session drawing one empty figure  {floor:6.2f} s")
        html_to_pdf("<p>warm-up</p>")  # import WeasyPrint once, as a long-running app has
        print(f"{'report':<12}{'HTML (s)':>10}{'PDF (s)':>10}{'of which print (s)':>20}")
        for kind, run_id in (("summary", None), ("stress", stress),
                             ("validation", validation.run_id), ("limits", limits)):
            t_html = _median(lambda: build_report(kind, run_id=run_id, store=store))
            t_pdf = _median(lambda: build_report(kind, run_id=run_id, fmt="pdf", store=store))
            document = report_html(kind, run_id=run_id, store=store)
            t_print = _median(lambda: html_to_pdf(document))
            print(f"{kind:<12}{t_html:>10.2f}{t_pdf:>10.2f}{t_print:>20.2f}")


if __name__ == "__main__":
    main()
