"""One measured turn: what the client saw after the caller stopped, and the server's figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from voicegate.stt.wer import word_error_rate

Message = tuple[float, dict[str, Any]]

# Client-side stages, each measured from the end of the caller's speech.
CLIENT_STAGES = ("transcript", "room_event", "first_audio")
# The server's stages, as its ``turn_metrics`` message names them.
SERVER_STAGES = ("endpoint", "stt", "room", "tts", "total")


@dataclass(slots=True)
class TurnResult:
    """The figures of one turn, in milliseconds; a stage the turn never reached is absent.

    ``client_ms`` runs from the end of the caller's speech to the final transcript, to its
    room event and to the first answer audio the client received; ``server_ms`` holds the
    server's own per-stage figures from ``turn_metrics``.
    """

    transport: str
    clients: int
    client: int
    turn: int
    sentence: str
    transcript: str | None = None
    wer: float | None = None
    client_ms: dict[str, float] = field(default_factory=dict)
    server_ms: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def turn_finished(messages: Sequence[Message]) -> bool:
    """Whether ``messages`` (those of one turn) hold its end: the answer and its metrics spoken,
    or a final transcript that became no room event (nothing will be answered)."""
    kinds = {message["type"] for _, message in messages}
    if {"tts_end", "turn_metrics"} <= kinds:
        return True
    return any(m["type"] == "final_transcript" and m["event_id"] is None for _, m in messages)


def measure_turn(
    result: TurnResult,
    messages: Sequence[Message],
    speech_end: float,
    first_audio: float | None,
) -> TurnResult:
    """Fill ``result`` from the ``messages`` of one turn.

    ``speech_end`` is when the caller's last speech sample was sent, ``first_audio`` when
    the turn's first answer audio arrived (``None`` if none came).
    """

    def since_speech_end(at: float) -> float:
        return _ms_after(speech_end, at)

    finals = [(at, m) for at, m in messages if m["type"] == "final_transcript"]
    if not finals:
        result.error = "no final transcript"
        return result
    final_at, final = finals[0]
    heard(result, final["text"])
    result.client_ms["transcript"] = since_speech_end(final_at)
    for at, message in messages:
        if message["type"] == "room_event" and message["event"]["id"] == final["event_id"]:
            result.client_ms["room_event"] = since_speech_end(at)
            break
    if first_audio is not None:
        result.client_ms["first_audio"] = since_speech_end(first_audio)
    for _, message in messages:
        if message["type"] == "turn_metrics":
            result.server_ms = server_stages(message["metrics"]["stages_ms"])
            break
    if "first_audio" not in result.client_ms:
        result.error = "no answer audio"
    return result


def heard(result: TurnResult, transcript: str) -> None:
    """Record the turn's final transcript and its word error rate against the sentence."""
    result.transcript = transcript
    result.wer = word_error_rate([(result.sentence, transcript)])


def server_stages(stages_ms: dict[str, Any]) -> dict[str, float]:
    """The :data:`SERVER_STAGES` of a ``turn_metrics`` message's ``stages_ms``."""
    return {name: float(stages_ms[name]) for name in SERVER_STAGES if name in stages_ms}


def measure_answer(result: TurnResult, speech_end: float, first_audio: float | None) -> TurnResult:
    """Fill ``result`` for a caller that hears only audio (a phone): its first answer audio,
    from the end of its speech."""
    if first_audio is None:
        result.error = "no answer audio"
    else:
        result.client_ms["first_audio"] = _ms_after(speech_end, first_audio)
    return result


def _ms_after(start: float, at: float) -> float:
    return round((at - start) * 1000.0, 1)
