"""Session notices written as messages of the voice protocol (``docs/protocol.md``)."""

from __future__ import annotations

from voicegate.voice.notices import (
    AnswerEnded,
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    Notice,
    PartialTranscript,
    RoomEventNotice,
    SessionError,
    SpeechEnded,
    SpeechStarted,
    TurnMetrics,
)
from voicegate.voice.protocol import VoiceProtocol


def write_notice(protocol: VoiceProtocol, notice: Notice) -> None:
    """Queue the protocol message for ``notice`` on ``protocol``."""
    match notice:
        case SpeechStarted(at=at):
            protocol.speech_start(at)
        case SpeechEnded(at=at, duration=duration):
            protocol.speech_end(at, duration)
        case PartialTranscript(text=text):
            protocol.partial_transcript(text)
        case FinalTranscript(text=text, event_id=event_id, language=language):
            protocol.final_transcript(text, event_id, language)
        case RoomEventNotice(event=event):
            protocol.room_event(event)
        case AnswerStarted(text=text, event_id=event_id):
            protocol.tts_start(text, event_id)
        case AnswerEnded(event_id=event_id, interrupted=interrupted):
            protocol.tts_end(event_id, interrupted)
        case BargeIn():
            protocol.barge_in()
        case TurnMetrics(timings=timings):
            protocol.turn_metrics(timings.as_dict())
        case SessionError(code=code, message=message):
            protocol.error(code, message)
