"""Prometheus exposition of the market-risk figures held in the store (prometheus-client).

Metrics (built from the values the store holds at scrape time, :class:`MarketFigures`):

- ``stresslab_market_var{confidence}``: VaR of the latest evaluation, currency (gauge)
- ``stresslab_market_es{confidence}``: ES of the latest evaluation, currency (gauge)
- ``stresslab_market_limit_utilisation{sensor,rule}``: metric / threshold (gauge)
- ``stresslab_market_breaches_total{sensor}``: stored breaches (counter)
- ``stresslab_market_actions_total{action}``: decisions with an action other than none (counter)
- ``stresslab_market_false_positive_rate_per_week{sensor}`` (gauge), ``..._sensor_ready{sensor}``
- ``stresslab_market_evaluations_total`` (counter) and
  ``stresslab_market_evaluation_latency_seconds`` (histogram of stored evaluation latencies)

This module reads nothing: :func:`engine.market.workflow.market_metrics` reads the store in one
short read session and :func:`figures` builds the samples from the values read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from engine.market.sensors import SensorStatus

if TYPE_CHECKING:
    from engine.market._store import StoredFigures

__all__ = ["LATENCY_BUCKETS", "MarketFigures", "MetricSample", "build_registry", "exposition",
           "figures", "latency_histogram", "serve"]

#: Upper bounds (seconds) of the evaluation-latency histogram's buckets.
LATENCY_BUCKETS = (5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2)


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One figure: metric name, type, help text, labels and value."""

    name: str
    kind: str  # gauge | counter
    help: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class MarketFigures:
    """Every exposed figure: the samples and the evaluation-latency histogram.

    Attributes
    ----------
    samples : tuple of MetricSample
        Gauges and counters.
    latency_buckets : tuple of (upper bound text, cumulative count)
        The histogram, ``+Inf`` last.
    latency_sum : float
        Sum of the stored latencies, seconds.
    """

    samples: tuple[MetricSample, ...]
    latency_buckets: tuple[tuple[str, float], ...]
    latency_sum: float

    def to_frame(self) -> pd.DataFrame:
        """One row per sample: metric, labels (``k=v, ...``), value."""
        return pd.DataFrame([{"metric": s.name,
                              "labels": ", ".join(f"{k}={v}" for k, v in s.labels.items()),
                              "value": s.value} for s in self.samples],
                            columns=["metric", "labels", "value"])

    def exposition(self) -> str:
        """The Prometheus text exposition (as ``stresslab metrics serve`` serves it)."""
        return exposition(self)


def latency_histogram(latencies_us: Sequence[float]) -> tuple[tuple[tuple[str, float], ...], float]:
    """Cumulative bucket counts of latencies (microseconds) over :data:`LATENCY_BUCKETS`.

    Returns
    -------
    (buckets, sum)
        ``buckets`` as (upper bound in seconds as text, count at or below it), ``+Inf`` last;
        ``sum`` in seconds.
    """
    lat = [x / 1e6 for x in latencies_us]
    buckets = [(f"{b:g}", float(sum(1 for x in lat if x <= b))) for b in LATENCY_BUCKETS]
    buckets.append(("+Inf", float(len(lat))))
    return tuple(buckets), float(sum(lat))


def figures(stored: StoredFigures, *, statuses: Sequence[SensorStatus]) -> MarketFigures:
    """The exposed figures from the stored values and the sensors' current readiness."""
    out: list[MetricSample] = []
    snap = stored.latest_snapshot
    if snap is not None:
        for conf, v in snap["var"].items():
            out.append(MetricSample("stresslab_market_var", "gauge", "VaR of the latest "
                                    "evaluation, currency", {"confidence": conf}, float(v)))
        out.append(MetricSample("stresslab_market_es", "gauge", "ES of the latest evaluation, "
                                "currency", {"confidence": f"{snap['es_confidence']:g}"},
                                float(snap["es"])))
        for d in stored.latest_decisions:
            out.append(MetricSample("stresslab_market_limit_utilisation", "gauge",
                                    "metric / limit of the latest evaluation",
                                    {"sensor": d["sensor"], "rule": d["rule"]},
                                    float(d["utilisation"])))
    for sensor, n in stored.breaches_by_sensor:
        out.append(MetricSample("stresslab_market_breaches", "counter", "stored limit breaches",
                                {"sensor": sensor}, float(n)))
    for action, n in stored.actions:
        out.append(MetricSample("stresslab_market_actions", "counter",
                                "actions taken on breaches", {"action": action}, float(n)))
    for s in statuses:
        out.append(MetricSample("stresslab_market_false_positive_rate_per_week", "gauge",
                                "false positives per week", {"sensor": s.sensor},
                                s.false_positive_rate_per_week))
        out.append(MetricSample("stresslab_market_sensor_ready", "gauge",
                                "1 when the sensor is READY for enforcement",
                                {"sensor": s.sensor}, 1.0 if s.ready else 0.0))
    out.append(MetricSample("stresslab_market_evaluations", "counter", "stored evaluations", {},
                            float(stored.evaluations)))
    buckets, total = latency_histogram(stored.latencies_us)
    return MarketFigures(samples=tuple(out), latency_buckets=buckets, latency_sum=total)


class MarketCollector:
    """A prometheus-client collector asking ``collect_figures`` for the figures on each scrape."""

    def __init__(self, collect_figures: Callable[[], MarketFigures]) -> None:
        self._collect_figures = collect_figures

    def collect(self) -> Iterator[object]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        figs = self._collect_figures()
        families: dict[str, object] = {}
        for s in figs.samples:
            fam = families.get(s.name)
            if fam is None:
                cls = CounterMetricFamily if s.kind == "counter" else GaugeMetricFamily
                fam = cls(s.name, s.help, labels=sorted(s.labels))
                families[s.name] = fam
            fam.add_metric([s.labels[k] for k in sorted(s.labels)], s.value)
        yield from families.values()
        hist = HistogramMetricFamily("stresslab_market_evaluation_latency_seconds",
                                     "wall time of limit evaluations")
        hist.add_metric([], list(figs.latency_buckets), figs.latency_sum)
        yield hist


def build_registry(collect_figures: Callable[[], MarketFigures]):
    """A fresh ``CollectorRegistry`` holding a :class:`MarketCollector` over ``collect_figures``."""
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(MarketCollector(collect_figures))
    return registry


def exposition(figs: MarketFigures) -> str:
    """The Prometheus text exposition of ``figs``."""
    from prometheus_client import generate_latest

    return generate_latest(build_registry(lambda: figs)).decode("utf-8")


def serve(collect_figures: Callable[[], MarketFigures], *, port: int, addr: str = "127.0.0.1"):
    """Start the exposition HTTP server on ``addr:port`` (127.0.0.1 by default); returns it.

    ``collect_figures`` is called on every scrape (the workflow opens one short read session per
    call, so the server never holds the store while idle).
    """
    from prometheus_client import start_http_server

    return start_http_server(port, addr=addr, registry=build_registry(collect_figures))
