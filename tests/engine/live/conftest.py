"""Fixtures for the live-desk tests: small accounts, a hand-made price feed, a book driver."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pytest

from engine.live import AccountsConfig, Book, parse_accounts, timestamps_ns


def ns(text: str) -> int:
    """An ISO time as int64 ns UTC (the book's clock)."""
    return int(timestamps_ns(pd.Series([pd.Timestamp(text, tz="UTC")]))[0])


def accounts(*capitals: float, **limits: float) -> AccountsConfig:
    """Accounts ``a0, a1, …`` with the given initial capitals and shared limits."""
    return parse_accounts({"accounts": [
        {"account_id": f"a{k}", "initial_capital": c, "limits": dict(limits)}
        for k, c in enumerate(capitals)]})


def run(book: Book, events: Sequence[tuple]) -> Book:
    """Apply ``("price", time, instrument, price)`` and
    ``("trade", time, instrument, signed_qty, price, fees[, account])`` events in order."""
    for e in events:
        if e[0] == "price":
            _, t, inst, px = e
            book.set_price(book.instrument_index(inst), price=px, ts=ns(t))
        else:
            _, t, inst, q, px, fee, *acc = e
            book.apply_trade(book.account_index(acc[0] if acc else "a0"),
                             instrument=book.instrument_index(inst), quantity=q, price=px,
                             fees=fee, ts=ns(t))
    return book


@pytest.fixture()
def one_account() -> AccountsConfig:
    """One account ``a0`` with 10,000 of capital and the default limits."""
    return accounts(10_000.0)
