"""The Prometheus exposition of the gateway's metrics."""

from voicegate.server.metrics import GatewayMetrics
from voicegate.voice.turns import TurnTimings


def test_metrics_render_sessions_turns_stages_and_errors() -> None:
    metrics = GatewayMetrics()
    metrics.session_opened("websocket")
    metrics.session_opened("webrtc")
    metrics.session_closed("webrtc")
    metrics.turn_finished(
        TurnTimings(
            speech_ended=1.0, endpointed=1.3, transcribed=1.5, answered=1.51, first_audio=1.7
        )
    )
    metrics.error("auth")
    text = metrics.render().decode()
    assert 'voicegate_sessions_active{transport="websocket"} 1.0' in text
    assert 'voicegate_sessions_active{transport="webrtc"} 0.0' in text
    assert "voicegate_turns_total 1.0" in text
    assert 'voicegate_stage_seconds_count{stage="stt"} 1.0' in text
    assert 'voicegate_stage_seconds_bucket{le="0.75",stage="total"} 1.0' in text
    assert 'voicegate_stage_seconds_bucket{le="0.5",stage="total"} 0.0' in text
    assert 'voicegate_errors_total{kind="auth"} 1.0' in text


def test_turn_stages_skip_unreached_marks() -> None:
    timings = TurnTimings(speech_ended=2.0, endpointed=2.25)
    assert timings.stages() == {"endpoint": 0.25}
    assert timings.as_dict()["stages_ms"] == {"endpoint": 250.0}
