"""Make the bundled example's SYNTHETIC trade blotter (data/live/trades.csv) from the real prices.

The trades are invented: drawn with a seeded generator (:data:`SEED`) by three simple trading
styles, priced near the previous day's real close of data/market_equities_skfolio. Run it from the
repository's root to rebuild the file byte for byte:

    .venv/bin/python data/live/make_blotter.py

Styles (accounts in accounts.yaml):

- ``alpha``, core long-only equity: builds ten large-cap positions of about 150,000 each in its
  first two weeks, re-sizes one of them every few days, now and then sells one out in full and
  buys it back later, and keeps a short hedge in the S&P 500 index (``SP500``).
- ``beta``, sector pairs: five long/short pairs of about 120,000 a leg, re-sized every few days;
  about once a month a pair turns round (each leg flips from long to short or back in one trade).
- ``gamma``, concentrated momentum: every other day it moves towards the stock of its universe
  with the best 20-day return (about 300,000) and cuts the others, sometimes shorting the worst.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.market.data_io import load_bundled_prices  # noqa: E402

#: The generator's seed.
SEED = 20_240_611
#: First and last trading day of the blotter (the example's prices start a year earlier).
START, END = "2021-01-04", "2022-12-28"
OUT = Path(__file__).resolve().parent / "trades.csv"

ALPHA = ["AAPL", "MSFT", "JNJ", "JPM", "PG", "XOM", "HD", "UNH", "KO", "WMT"]
PAIRS = [("KO", "PEP"), ("XOM", "CVX"), ("JPM", "BAC"), ("HD", "BBY"), ("MRK", "PFE")]
GAMMA = ["AMD", "AAPL", "MSFT", "LLY", "RRC", "GE"]


def main() -> None:
    rng = np.random.default_rng(SEED)
    closes = load_bundled_prices()
    days = closes.loc[START:END].index
    rows: list[dict] = []
    held: dict[tuple[str, str], float] = {}

    def trade(account: str, day: pd.Timestamp, instrument: str, target_qty: float) -> None:
        """Trade ``account``'s position in ``instrument`` to ``target_qty`` (whole units)."""
        now = held.get((account, instrument), 0.0)
        qty = float(round(target_qty)) - now
        if qty == 0:
            return
        prev = closes[instrument].loc[:day].iloc[-2]  # the previous day's close
        price = round(float(prev * (1.0 + rng.normal(0.0, 0.003))), 2)
        seconds = int(rng.integers(14 * 3600 + 1800, 21 * 3600))  # 14:30:00 to 20:59:59 UTC
        stamp = day + pd.Timedelta(seconds=seconds)
        fees = round(max(1.0, 0.0005 * abs(qty) * price), 2)
        rows.append({"account_id": account, "timestamp": stamp, "instrument": instrument,
                     "side": "buy" if qty > 0 else "sell", "quantity": abs(qty), "price": price,
                     "fees": fees})
        held[(account, instrument)] = now + qty

    def units(day: pd.Timestamp, instrument: str, notional: float) -> float:
        return notional / float(closes[instrument].loc[:day].iloc[-2])

    for k, day in enumerate(days):
        # alpha: build, re-size, sell out and buy back; an index hedge
        if k < 10:
            trade("alpha", day, ALPHA[k], units(day, ALPHA[k], 150_000 * rng.uniform(0.8, 1.2)))
        elif rng.random() < 0.3:
            name = ALPHA[int(rng.integers(len(ALPHA)))]
            if held.get(("alpha", name), 0.0) == 0.0 or rng.random() > 0.08:
                trade("alpha", day, name, units(day, name, 150_000 * rng.uniform(0.7, 1.4)))
            else:
                trade("alpha", day, name, 0.0)
        if k == 10 or (k > 10 and rng.random() < 0.04):
            trade("alpha", day, "SP500", -units(day, "SP500", 180_000 * rng.uniform(0.8, 1.2)))

        # beta: pairs, re-sized; now and then a pair turns round
        if k < 5:
            long, short = PAIRS[k]
            trade("beta", day, long, units(day, long, 120_000))
            trade("beta", day, short, -units(day, short, 120_000))
        elif rng.random() < 0.35:
            long, short = PAIRS[int(rng.integers(len(PAIRS)))]
            sign = 1.0 if held.get(("beta", long), 0.0) >= 0 else -1.0
            if rng.random() < 0.12:
                sign = -sign  # turn the pair round: each leg flips in one trade
            size = 120_000 * rng.uniform(0.7, 1.5)
            trade("beta", day, long, sign * units(day, long, size))
            trade("beta", day, short, -sign * units(day, short, size))

        # gamma: momentum in a small universe
        if k >= 1 and k % 2 == 0:
            past = closes[GAMMA].loc[:day].iloc[-22:-1]
            momentum = past.iloc[-1] / past.iloc[0] - 1.0
            best, worst = momentum.idxmax(), momentum.idxmin()
            for name in GAMMA:
                target = 0.0
                if name == best:
                    target = units(day, name, 300_000 * rng.uniform(0.9, 1.25))
                elif name == worst and rng.random() < 0.4:
                    target = -units(day, name, 100_000)
                elif held.get(("gamma", name), 0.0) > 0 and rng.random() < 0.5:
                    target = held[("gamma", name)] * 0.5
                trade("gamma", day, name, target)

    frame = pd.DataFrame(rows).sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame.insert(0, "trade_id", [f"T{k + 1:05d}" for k in range(len(frame))])
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    frame["quantity"] = frame["quantity"].astype(int)
    frame.to_csv(OUT, index=False, lineterminator="\n")
    print(f"wrote {len(frame)} synthetic trades to {OUT}")


if __name__ == "__main__":
    main()
