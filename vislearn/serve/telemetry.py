"""Prometheus metrics of one server (``GET /metrics``): requests by run and status, latency, batch sizes, referrals.

Each app has its own registry, so two servers in one process (tests) never share counts.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vislearn_requests", "Prediction requests answered, by run and HTTP status",
                                ["run", "status"], registry=self.registry)
        self.latency = Histogram("vislearn_request_seconds", "Time from a request's arrival to its answer",
                                 ["run"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.batch_size = Histogram("vislearn_batch_size", "Images per model call (dynamic batching)",
                                    ["run"], buckets=BATCH_BUCKETS, registry=self.registry)
        self.referrals = Counter("vislearn_referrals", "Images referred to a human, by run and reason",
                                 ["run", "reason"], registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of the Prometheus text format."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
