"""Prometheus metrics of the gateway: sessions, turns, per-stage latency and errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from voicegate.voice.turns import TurnTimings

# Buckets for voice latencies: 10 ms to 10 s.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
# Buckets for a call's packet loss (a ratio) and interarrival jitter (seconds).
_LOSS_BUCKETS = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_JITTER_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5)


class GatewayMetrics:
    """A private registry of the gateway's metrics, rendered at ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions_active = Gauge(
            "voicegate_sessions_active",
            "Voice sessions open now.",
            ["transport"],
            registry=self.registry,
        )
        self.sessions_total = Counter(
            "voicegate_sessions",
            "Voice sessions opened.",
            ["transport"],
            registry=self.registry,
        )
        self.turns_total = Counter(
            "voicegate_turns", "Caller turns transcribed.", registry=self.registry
        )
        self.stage_seconds = Histogram(
            "voicegate_stage_seconds",
            "Per-stage latency of a turn, from the end of the caller's speech.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors_total = Counter(
            "voicegate_errors", "Errors by kind.", ["kind"], registry=self.registry
        )
        self.call_lost_ratio = Histogram(
            "voicegate_call_lost_ratio",
            "A phone call's RTP packets lost, by direction, at its end.",
            ["transport", "direction"],
            buckets=_LOSS_BUCKETS,
            registry=self.registry,
        )
        self.call_jitter_seconds = Histogram(
            "voicegate_call_jitter_seconds",
            "A phone call's RTP interarrival jitter (RFC 3550), by direction, at its end.",
            ["transport", "direction"],
            buckets=_JITTER_BUCKETS,
            registry=self.registry,
        )

    def session_opened(self, transport: str) -> None:
        """Count a session that started on ``transport``."""
        self.sessions_total.labels(transport).inc()
        self.sessions_active.labels(transport).inc()

    def session_closed(self, transport: str) -> None:
        """Count a session on ``transport`` that ended."""
        self.sessions_active.labels(transport).dec()

    def turn_finished(self, timings: TurnTimings) -> None:
        """Record the stages of one finished turn."""
        self.turns_total.inc()
        for stage, seconds in timings.stages().items():
            self.stage_seconds.labels(stage).observe(seconds)

    def error(self, kind: str) -> None:
        """Count an error of ``kind`` (e.g. ``auth``, ``protocol``, ``stt``)."""
        self.errors_total.labels(kind).inc()

    def line_quality(
        self, transport: str, direction: str, lost_ratio: float, jitter_s: float
    ) -> None:
        """Record a call's loss and jitter in one direction."""
        self.call_lost_ratio.labels(transport, direction).observe(lost_ratio)
        self.call_jitter_seconds.labels(transport, direction).observe(jitter_s)

    def render(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)
