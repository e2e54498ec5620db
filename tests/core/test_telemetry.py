"""Telemetry: noop by default, real OpenTelemetry spans and metrics when configured."""

from __future__ import annotations

import pytest

from tests.core.conftest import RecordingChannel
from voicegate import (
    NoopTelemetryProvider,
    OpenTelemetryProvider,
    RoomKit,
    TelemetryConfig,
    TextContent,
)
from voicegate.core.telemetry import resolve_telemetry


def test_noop_is_default_and_disabled_config() -> None:
    assert isinstance(resolve_telemetry(None), NoopTelemetryProvider)
    assert isinstance(TelemetryConfig(enabled=False).build(), NoopTelemetryProvider)
    noop = NoopTelemetryProvider()
    with noop.span("x", {"a": 1}):
        noop.record_metric("m", 1.0)


async def test_opentelemetry_spans_reach_the_sdk_exporter() -> None:
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics")
    metrics_export = pytest.importorskip("opentelemetry.sdk.metrics.export")

    exporter = memory.InMemorySpanExporter()
    tracer_provider = sdk_trace.TracerProvider()
    tracer_provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    reader = metrics_export.InMemoryMetricReader()
    meter_provider = sdk_metrics.MeterProvider(metric_readers=[reader])
    provider = OpenTelemetryProvider(tracer_provider, meter_provider)

    async with RoomKit(telemetry=TelemetryConfig(provider=provider)) as kit:
        kit.register_channel(RecordingChannel("a"))
        room = await kit.create_room()
        await kit.attach_channel(room.id, "a")
        await kit.send_event(room.id, "a", TextContent(body="hi"))
    provider.record_metric("voicegate.test_metric", 3.0, {"room": "r"})

    assert [s.name for s in exporter.get_finished_spans()] == ["voicegate.process_event"]
    data = reader.get_metrics_data()
    names = [m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    assert names == ["voicegate.test_metric"]
