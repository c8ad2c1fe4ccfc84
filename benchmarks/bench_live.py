"""Live-desk speed figures (printed, never asserted).

Targets from issue 11: at least 100,000 trades or price ticks a second through the engine
(the brief: 10,000/s target, 50,000/s maximum); risk recalculation of one account holding 1,000
positions p95 <= 10 ms (the brief: < 50 ms); memory < 2 GB for 50 accounts x 1,000 instruments;
a panel refresh <= 1 s. Measured in the same run for reference: a plain pandas recomputation of
the same P&L (once over the whole stream, and from the whole history at each update as a naive
desk would), with the ratios; and the replay's throughput with its store writes.

    .venv/bin/python benchmarks/bench_live.py [--quick]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.live import (  # noqa: E402
    Book,
    ReturnWindow,
    assess_risk,
    evaluate_alerts,
    exposure_correlation,
    parse_accounts,
    var_95,
)
from engine.live._alerts import AlertState  # noqa: E402

SEED = 11


def _accounts(n: int, *, capital: float = 1e9):
    return parse_accounts({"accounts": [{"account_id": f"acc{k:03d}", "initial_capital": capital}
                                        for k in range(n)]})


def _stream(n_events: int, *, n_accounts: int, n_instruments: int,
            seed: int = SEED) -> pd.DataFrame:
    """A coded event stream as :func:`engine.live.merge_events` gives: every instrument priced
    first, then half trades, half ticks, one second apart."""
    rng = np.random.default_rng(seed)
    first = pd.DataFrame({"ts": np.zeros(n_instruments, dtype=np.int64),
                          "kind": np.ones(n_instruments, dtype=np.int8),
                          "account": -1, "instrument": np.arange(n_instruments),
                          "quantity": 0.0, "price": 100.0, "fees": 0.0})
    kind = (rng.random(n_events) < 0.5).astype(np.int8)  # 0 trade, 1 tick
    sign = np.where(rng.random(n_events) < 0.5, 1.0, -1.0)
    events = pd.DataFrame({
        "ts": np.arange(1, n_events + 1, dtype=np.int64) * 1_000_000_000,
        "kind": kind, "account": np.where(kind == 0, rng.integers(0, n_accounts, n_events), -1),
        "instrument": rng.integers(0, n_instruments, n_events),
        "quantity": np.where(kind == 0, sign * rng.integers(1, 100, n_events), 0.0),
        "price": 100.0 * np.exp(rng.normal(0, 0.01, n_events).cumsum() / 50),
        "fees": np.where(kind == 0, 0.5, 0.0)})
    return pd.concat([first, events], ignore_index=True)


def _pandas_total_pl(events: pd.DataFrame, *, n_accounts: int) -> np.ndarray:
    """Each account's total P&L by the cash-flow identity, vectorised with pandas:
    ``-sum(q x p) - fees + sum(q_final x mark_final)`` (:mod:`engine.live._positions`)."""
    trades = events[events["kind"] == 0]
    ticks = events[events["kind"] == 1]
    flows = -(trades["quantity"] * trades["price"]) - trades["fees"]
    cash = flows.groupby(trades["account"]).sum()
    held = trades.groupby(["account", "instrument"])["quantity"].sum()
    marks = ticks.groupby("instrument")["price"].last()
    value = (held * marks.reindex(held.index.get_level_values("instrument")).to_numpy())
    total = cash.add(value.groupby(level="account").sum(), fill_value=0.0)
    return total.reindex(range(n_accounts), fill_value=0.0).to_numpy()


def bench_updates(n_events: int) -> None:
    n_acc, n_ins = 50, 1_000
    events = _stream(n_events, n_accounts=n_acc, n_instruments=n_ins)
    book = Book(_accounts(n_acc), instruments=[f"I{i:04d}" for i in range(n_ins)])
    t0 = time.perf_counter()
    book.apply_events(events)
    engine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pandas_pl = _pandas_total_pl(events, n_accounts=n_acc)
    pandas_s = time.perf_counter() - t0
    engine_pl = book.total_pl()
    gap = float(np.max(np.abs(engine_pl - pandas_pl) / np.maximum(1.0, np.abs(pandas_pl))))
    rate = len(events) / engine_s
    print(f"position updates through the engine:    {rate:12,.0f} events/s  ({len(events):,} "
          f"events, 50 accounts x 1,000 instruments; target >= 100,000/s)")
    print(f"pandas, one vectorised pass at the end: {len(events) / pandas_s:12,.0f} events/s  "
          f"(throughput ratio engine/pandas {pandas_s / engine_s:.3f}; "
          f"same total P&L to {gap:.1e} relative)")

    # a naive desk: P&L recomputed from the whole history at each update (every 1,000 events)
    small = _stream(100_000, n_accounts=n_acc, n_instruments=n_ins, seed=SEED + 1)
    step = 1_000
    book = Book(_accounts(n_acc), instruments=[f"I{i:04d}" for i in range(n_ins)])
    t0 = time.perf_counter()
    for lo in range(0, len(small), step):
        book.apply_events(small.iloc[lo:lo + step])
        book.total_pl()
    engine_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for hi in range(step, len(small) + step, step):
        _pandas_total_pl(small.iloc[:hi], n_accounts=n_acc)
    pandas_s = time.perf_counter() - t0
    print(f"P&L at each update (every {step:,} events, {len(small):,} events): engine "
          f"{len(small) / engine_s:,.0f} events/s, pandas recomputation from the history "
          f"{len(small) / pandas_s:,.0f} events/s (throughput ratio engine/pandas "
          f"{pandas_s / engine_s:.1f}; the recomputation grows with the history)")


def bench_risk() -> None:
    rng = np.random.default_rng(SEED)
    n = 1_000
    accounts = _accounts(1, capital=1e8)
    book = Book(accounts, instruments=[f"I{i:04d}" for i in range(n)])
    for i in range(n):
        book.set_price(i, price=float(rng.uniform(10, 500)), ts=1)
        book.apply_trade(0, instrument=i, quantity=float(rng.integers(-500, 500) or 1),
                         price=float(book.mark[i]), ts=1)
    window = ReturnWindow(tuple(book.instruments), rng.normal(0, 0.015, (252, n)))
    limits = accounts.accounts[0].limits
    times = []
    state = AlertState()
    at = datetime(2024, 1, 2, 21)
    for k in range(300):
        t0 = time.perf_counter()
        snap = book.snapshot(0)
        values = book.values(0)
        risk = assess_risk(snap, values=values, instruments=book.instruments, limits=limits,
                           var=var_95(values, window=window),
                           correlation=exposure_correlation(values, window=window))
        state, _ = evaluate_alerts(state, account_id="acc000", risk=risk, at=at)
        times.append(time.perf_counter() - t0)
    ms = np.array(times[20:]) * 1e3
    print(f"risk recalculation, 1 account x 1,000 positions (snapshot, var_95, correlation, "
          f"score, alerts): p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms "
          "(target p95 <= 10 ms)")


def memory_child(n_events: int) -> None:
    """Run in a child process: a desk of 50 accounts x 1,000 instruments, its window and its
    event stream; print the peak resident set in MB."""
    from engine.live._replay import Replayer

    n_acc, n_ins = 50, 1_000
    accounts = _accounts(n_acc)
    names = [f"I{i:04d}" for i in range(n_ins)]
    book = Book(accounts, instruments=names)
    events = _stream(n_events, n_accounts=n_acc, n_instruments=n_ins)
    book.apply_events(events)
    days = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(SEED)
    closes = 100 * np.exp(rng.normal(0, 0.01, (len(days), n_ins)).cumsum(axis=0))
    prices = pd.DataFrame({"timestamp": np.repeat(days.tz_localize("UTC"), n_ins),
                           "instrument": np.tile(names, len(days)),
                           "price": closes.ravel()})
    from engine.live._replay import EventStream

    stream = EventStream(ts=events["ts"].to_numpy(), kind=events["kind"].tolist(),
                         account=events["account"].tolist(),
                         instrument=events["instrument"].tolist(),
                         quantity=events["quantity"].tolist(), price=events["price"].tolist(),
                         fees=events["fees"].tolist(), trade_id=[None] * len(events),
                         side=[None] * len(events),
                         last_of_time=np.ones(len(events), dtype=bool), n_trades=0)
    replayer = Replayer(session_id="m", accounts=accounts, events=stream, prices=prices,
                        book=book)
    replayer.window(int(days[-1].value // 86_400_000_000_000))
    for j in range(n_acc):
        book.snapshot(j)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def bench_memory(n_events: int) -> None:
    out = subprocess.run([sys.executable, __file__, "--memory-child", str(n_events)],
                         capture_output=True, text=True, check=True)
    print(f"memory, 50 accounts x 1,000 instruments ({n_events:,} events held, 300-day window): "
          f"peak {float(out.stdout.strip()):,.0f} MB resident for the whole process "
          "(target < 2 GB)")


def _desk_files(folder: Path, *, n_accounts: int, n_instruments: int, n_days: int,
                n_trades: int) -> dict[str, str]:
    rng = np.random.default_rng(SEED)
    days = pd.bdate_range("2021-01-04", periods=n_days)
    names = [f"S{i:03d}" for i in range(n_instruments)]
    closes = 100 * np.exp(rng.normal(0, 0.012, (n_days, n_instruments)).cumsum(axis=0))
    prices = pd.DataFrame({"timestamp": np.repeat(days + pd.Timedelta(hours=21), n_instruments),
                           "instrument": np.tile(names, n_days), "price": closes.ravel().round(4)})
    day = rng.integers(1, n_days, n_trades)
    ins = rng.integers(0, n_instruments, n_trades)
    trades = pd.DataFrame({
        "trade_id": [f"T{k:07d}" for k in range(n_trades)],
        "account_id": [f"acc{a:03d}" for a in rng.integers(0, n_accounts, n_trades)],
        "timestamp": days[day] + pd.to_timedelta(rng.integers(14 * 3600, 20 * 3600, n_trades),
                                                 unit="s"),
        "instrument": np.array(names)[ins],
        "side": np.where(rng.random(n_trades) < 0.5, "buy", "sell"),
        "quantity": rng.integers(1, 200, n_trades),
        "price": closes[day - 1, ins].round(2), "fees": 1.0})
    paths = {k: str(folder / f"{k}.csv") for k in ("trades", "prices")}
    trades.to_csv(paths["trades"], index=False)
    prices.to_csv(paths["prices"], index=False)
    paths["accounts"] = str(folder / "accounts.yaml")
    Path(paths["accounts"]).write_text(
        "accounts:\n" + "".join(f"  - account_id: acc{a:03d}\n    initial_capital: 10000000\n"
                                f"    limits: {{max_position_size: 1000000, max_daily_loss: 100000,"
                                f" max_drawdown: 500000}}\n" for a in range(n_accounts)))
    return paths


def bench_replay(quick: bool) -> None:
    from engine.live import workflow as lw
    from engine.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = Store(folder / "bench.duckdb")
        t0 = time.perf_counter()
        example = lw.replay(lw.ReplayRequest.build(example=True), store=store)
        wall = time.perf_counter() - t0
        print(f"replay of the bundled example with its store writes: {example.events_done:,} "
              f"events, {example.alerts_raised} alerts in {wall:.2f} s "
              f"({example.events_done / wall:,.0f} events/s)")
        reads = []
        for _ in range(10):
            t0 = time.perf_counter()
            view = lw.desk(store=store)
            for account in view.accounts["account_id"]:
                lw.history(account, limit=500, store=store)
            lw.status("alpha", store=store)
            lw.alerts(limit=200, store=store)
            reads.append(time.perf_counter() - t0)
        print(f"a panel refresh (desk, 3 histories, one status, the alert inbox): median "
              f"{np.median(reads) * 1e3:.0f} ms, max {max(reads) * 1e3:.0f} ms (target <= 1 s)")

        size = dict(n_accounts=10, n_instruments=50, n_days=300 if quick else 504,
                    n_trades=5_000 if quick else 20_000)
        paths = _desk_files(folder, **size)
        request = lw.ReplayRequest.build(**paths)
        store = Store(folder / "bench2.duckdb")
        t0 = time.perf_counter()
        result = lw.replay(request, store=store)
        wall = time.perf_counter() - t0
        print(f"replay with store writes, {size['n_accounts']} accounts x "
              f"{size['n_instruments']} instruments, {size['n_days']} days, "
              f"{size['n_trades']:,} trades: {result.events_done:,} events in {wall:.2f} s "
              f"({result.events_done / wall:,.0f} events/s, a risk update per account per "
              f"event time)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--memory-child", type=int)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    n = 200_000 if args.quick else 1_000_000
    bench_updates(n)
    bench_risk()
    bench_memory(n)
    bench_replay(args.quick)


if __name__ == "__main__":
    main()
