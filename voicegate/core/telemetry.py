"""Telemetry: spans around the engine's phases and metrics, OpenTelemetry when installed."""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

Attributes = Mapping[str, str | int | float | bool]


class TelemetryProvider(ABC):
    """Where spans and metrics go."""

    @abstractmethod
    def span(self, name: str, attributes: Attributes | None = None) -> AbstractContextManager[None]:
        """A context manager timing the work inside it as a span called ``name``."""

    @abstractmethod
    def record_metric(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Record one measurement of the metric ``name``."""


class NoopTelemetryProvider(TelemetryProvider):
    """Discards everything, at next to no cost."""

    _NULL: AbstractContextManager[None] = contextlib.nullcontext()

    def span(self, name: str, attributes: Attributes | None = None) -> AbstractContextManager[None]:
        """A reusable do-nothing context manager."""
        return self._NULL

    def record_metric(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Do nothing."""


class OpenTelemetryProvider(TelemetryProvider):
    """Spans and histograms through OpenTelemetry (``pip install voicegate[otel]``).

    Uses the given tracer and meter providers, or the globally configured ones.
    """

    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        instrumentation_name: str = "voicegate",
    ) -> None:
        from opentelemetry import metrics, trace

        self._tracer = trace.get_tracer(instrumentation_name, tracer_provider=tracer_provider)
        self._meter = metrics.get_meter(instrumentation_name, meter_provider=meter_provider)
        self._histograms: dict[str, Any] = {}

    @contextlib.contextmanager
    def _span(self, name: str, attributes: Attributes | None) -> Iterator[None]:
        with self._tracer.start_as_current_span(name, attributes=attributes):
            yield

    def span(self, name: str, attributes: Attributes | None = None) -> AbstractContextManager[None]:
        """An OpenTelemetry span, current while the context is open."""
        return self._span(name, attributes)

    def record_metric(self, name: str, value: float, attributes: Attributes | None = None) -> None:
        """Record ``value`` into the histogram ``name``."""
        histogram = self._histograms.get(name)
        if histogram is None:
            histogram = self._histograms[name] = self._meter.create_histogram(name)
        histogram.record(value, attributes=attributes)


@dataclass(slots=True, frozen=True)
class TelemetryConfig:
    """Telemetry settings: an explicit provider, or OpenTelemetry when enabled and installed."""

    enabled: bool = True
    provider: TelemetryProvider | None = None

    def build(self) -> TelemetryProvider:
        """The provider these settings describe (noop when disabled or OpenTelemetry is absent)."""
        if not self.enabled:
            return NoopTelemetryProvider()
        if self.provider is not None:
            return self.provider
        try:
            return OpenTelemetryProvider()
        except ImportError:
            return NoopTelemetryProvider()


def resolve_telemetry(telemetry: TelemetryConfig | TelemetryProvider | None) -> TelemetryProvider:
    """The provider for RoomKit's ``telemetry`` argument."""
    if telemetry is None:
        return NoopTelemetryProvider()
    if isinstance(telemetry, TelemetryConfig):
        return telemetry.build()
    return telemetry
