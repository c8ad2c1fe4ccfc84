"""A small desk written to files, for the workflow and command tests: three accounts, three
instruments, 40 business days of closes and a blotter whose trades a reader can follow.

Prices (closes stamped 21:00 UTC): ``AAA`` 100 + k, ``BBB`` 50 + 3 sin(k), ``CCC`` 20 + (k mod 5)
on business day k = 0 … 39 from 2024-01-01. Trades at 15:00 UTC on days 1 … 39:

- ``a``: buys 10 AAA on odd days, sells 5 AAA on even days (fees 1);
- ``b``: buys 100 BBB on odd days, sells 150 BBB on even days (it flips short and back; fees 0);
- ``c``: buys 50 CCC every third day (fees 0.5).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

DAYS = pd.bdate_range("2024-01-01", periods=40)
#: The ``until`` used by the tests: after the close of business day 20.
UNTIL = (DAYS[20] + pd.Timedelta(hours=22)).strftime("%Y-%m-%dT%H:%M:%SZ")

ACCOUNTS = """accounts:
  - account_id: a
    initial_capital: 100000
  - account_id: b
    initial_capital: 100000
    limits: {max_daily_loss: 50}
  - account_id: c
    initial_capital: 100000
    limits: {max_daily_loss: 5000}
"""


def price_frame() -> pd.DataFrame:
    rows = []
    for k, day in enumerate(DAYS):
        at = (day + pd.Timedelta(hours=21)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows += [(at, "AAA", 100.0 + k), (at, "BBB", round(50.0 + 3 * math.sin(k), 4)),
                 (at, "CCC", 20.0 + k % 5)]
    return pd.DataFrame(rows, columns=["timestamp", "instrument", "price"])


def trade_frame() -> pd.DataFrame:
    rows = []
    for k, day in enumerate(DAYS[1:], start=1):
        at = (day + pd.Timedelta(hours=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
        odd = k % 2 == 1
        rows.append((f"A{k:02d}", "a", at, "AAA", "buy" if odd else "sell", 10 if odd else 5,
                     100.0 + k - 1, 1.0))
        rows.append((f"B{k:02d}", "b", at, "BBB", "buy" if odd else "sell", 100 if odd else 150,
                     50.0, 0.0))
        if k % 3 == 0:
            rows.append((f"C{k:02d}", "c", at, "CCC", "buy", 50, 20.0, 0.5))
    return pd.DataFrame(rows, columns=["trade_id", "account_id", "timestamp", "instrument",
                                       "side", "quantity", "price", "fees"])


def write_desk(folder: Path) -> dict[str, Path]:
    """Write ``trades.csv``, ``prices.csv`` and ``accounts.yaml`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"trades": folder / "trades.csv", "prices": folder / "prices.csv",
             "accounts": folder / "accounts.yaml"}
    trade_frame().to_csv(paths["trades"], index=False)
    price_frame().to_csv(paths["prices"], index=False)
    paths["accounts"].write_text(ACCOUNTS, encoding="utf-8")
    return paths
