"""The latency histogram behind ``stresslab_market_evaluation_latency_seconds``."""

from __future__ import annotations

import pytest

from engine.market.metrics import LATENCY_BUCKETS, latency_histogram


def test_latency_histogram_counts_cumulatively_in_seconds():
    # 40 us, 100 us, 3 ms, 20 ms against buckets 50 us, 100 us, 250 us, 500 us, 1 ms, 2.5 ms, 10 ms
    buckets, total = latency_histogram([40.0, 100.0, 3000.0, 20000.0])
    assert [b for b, _ in buckets] == [f"{b:g}" for b in LATENCY_BUCKETS] + ["+Inf"]
    assert [n for _, n in buckets] == [1, 2, 2, 2, 2, 2, 3, 4]
    assert total == pytest.approx(0.02314)


def test_latency_histogram_of_nothing():
    buckets, total = latency_histogram([])
    assert all(n == 0 for _, n in buckets) and total == 0.0
