"""Prometheus exposition of the market-risk figures held in the store (prometheus-client).

Metrics (all read from the store at scrape time):

- ``stresslab_market_var{confidence}``: VaR of the latest evaluation, currency (gauge)
- ``stresslab_market_es{confidence}``: ES of the latest evaluation, currency (gauge)
- ``stresslab_market_limit_utilisation{sensor,rule}``: metric / threshold (gauge)
- ``stresslab_market_breaches_total{sensor}``: stored breaches (counter)
- ``stresslab_market_actions_total{action}``: decisions with an action other than none (counter)
- ``stresslab_market_false_positive_rate_per_week{sensor}`` (gauge), ``..._sensor_ready{sensor}``
- ``stresslab_market_evaluations_total`` (counter) and
  ``stresslab_market_evaluation_latency_seconds`` (histogram of stored evaluation latencies)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import duckdb

from engine.market.limits import LimitsConfig

__all__ = ["LATENCY_BUCKETS", "MetricSample", "build_registry", "exposition", "metric_samples",
           "serve"]

LATENCY_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One figure: metric name, type, help text, labels and value."""

    name: str
    kind: str  # gauge | counter
    help: str
    labels: dict[str, str]
    value: float


def metric_samples(con: duckdb.DuckDBPyConnection, config: LimitsConfig, *,
                   as_of: datetime) -> list[MetricSample]:
    """The exposed figures (except the latency histogram) as rows, for the page and the collector."""
    from engine.market.records import sensor_statuses

    out: list[MetricSample] = []
    row = con.execute("SELECT snapshot, decisions FROM market_evaluations"
                      " ORDER BY evaluated_at DESC, audit_seq DESC LIMIT 1").fetchone()
    if row is not None:
        snap, decisions = json.loads(row[0]), json.loads(row[1])
        for conf, v in snap["var"].items():
            out.append(MetricSample("stresslab_market_var", "gauge", "VaR of the latest "
                                    "evaluation, currency", {"confidence": conf}, float(v)))
        out.append(MetricSample("stresslab_market_es", "gauge", "ES of the latest evaluation, "
                                "currency", {"confidence": f"{snap['es_confidence']:g}"},
                                float(snap["es"])))
        for d in decisions:
            out.append(MetricSample("stresslab_market_limit_utilisation", "gauge",
                                    "metric / limit of the latest evaluation",
                                    {"sensor": d["sensor"], "rule": d["rule"]},
                                    float(d["utilisation"])))
    for sensor, n in con.execute("SELECT sensor, count(*) FROM market_breaches GROUP BY sensor"
                                 " ORDER BY sensor").fetchall():
        out.append(MetricSample("stresslab_market_breaches", "counter", "stored limit breaches",
                                {"sensor": sensor}, float(n)))
    for action, n in con.execute("SELECT action, count(*) FROM market_breaches"
                                 " WHERE action <> 'none' GROUP BY action ORDER BY action"
                                 ).fetchall():
        out.append(MetricSample("stresslab_market_actions", "counter",
                                "actions taken on breaches", {"action": action}, float(n)))
    for s in sensor_statuses(con, config, as_of=as_of):
        out.append(MetricSample("stresslab_market_false_positive_rate_per_week", "gauge",
                                "false positives per week", {"sensor": s.sensor},
                                s.false_positive_rate_per_week))
        out.append(MetricSample("stresslab_market_sensor_ready", "gauge",
                                "1 when the sensor is READY for enforcement",
                                {"sensor": s.sensor}, 1.0 if s.ready else 0.0))
    n_eval = con.execute("SELECT count(*) FROM market_evaluations").fetchone()[0]
    out.append(MetricSample("stresslab_market_evaluations", "counter", "stored evaluations", {},
                            float(n_eval)))
    return out


def _latency_buckets(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[str, float]], float]:
    lat = [r[0] / 1e6 for r in con.execute("SELECT latency_us FROM market_evaluations").fetchall()]
    buckets = [(f"{b:g}", float(sum(1 for x in lat if x <= b))) for b in LATENCY_BUCKETS]
    buckets.append(("+Inf", float(len(lat))))
    return buckets, float(sum(lat))


class MarketCollector:
    """A prometheus-client collector reading the store on each scrape."""

    def __init__(self, connect: Callable[[], duckdb.DuckDBPyConnection], config: LimitsConfig,
                 clock: Callable[[], datetime] = datetime.now, *, close_after: bool = False) -> None:
        self._connect, self._config, self._clock = connect, config, clock
        self._close_after = close_after

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        con = self._connect()
        try:
            samples = metric_samples(con, self._config, as_of=self._clock())
            buckets, total = _latency_buckets(con)
        finally:
            if self._close_after:
                con.close()
        families: dict[str, object] = {}
        for s in samples:
            fam = families.get(s.name)
            if fam is None:
                cls = CounterMetricFamily if s.kind == "counter" else GaugeMetricFamily
                fam = cls(s.name, s.help, labels=sorted(s.labels))
                families[s.name] = fam
            fam.add_metric([s.labels[k] for k in sorted(s.labels)], s.value)
        yield from families.values()
        hist = HistogramMetricFamily("stresslab_market_evaluation_latency_seconds",
                                     "wall time of limit evaluations")
        hist.add_metric([], buckets, total)
        yield hist


def build_registry(connect: Callable[[], duckdb.DuckDBPyConnection], config: LimitsConfig,
                   clock: Callable[[], datetime] = datetime.now, *, close_after: bool = False):
    """A fresh ``CollectorRegistry`` holding a :class:`MarketCollector`.

    ``close_after``: close the connection ``connect`` returns after each scrape (the server opens
    the store read-only per scrape so that it never holds the file).
    """
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(MarketCollector(connect, config, clock, close_after=close_after))
    return registry


def exposition(con: duckdb.DuckDBPyConnection, config: LimitsConfig, *, as_of: datetime) -> str:
    """The Prometheus text exposition of the store's figures on ``as_of``."""
    from prometheus_client import generate_latest

    return generate_latest(build_registry(lambda: con, config, lambda: as_of)).decode("utf-8")


def serve(connect: Callable[[], duckdb.DuckDBPyConnection], config: LimitsConfig, *,
          port: int, addr: str = "127.0.0.1"):
    """Start the exposition HTTP server on ``addr:port`` (127.0.0.1 by default); returns it."""
    from prometheus_client import start_http_server

    return start_http_server(port, addr=addr,
                             registry=build_registry(connect, config, close_after=True))
