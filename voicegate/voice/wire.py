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
    SessionUpdated,
    SpeechEnded,
    SpeechIgnored,
    SpeechStarted,
    TurnMetrics,
    TurnState,
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
        case FinalTranscript():
            protocol.final_transcript(notice.text, notice.event_id, notice.language, notice.turn_id)
        case RoomEventNotice(event=event, turn_id=turn_id):
            protocol.room_event(event, turn_id)
        case AnswerStarted():
            protocol.tts_start(notice.text, notice.event_id, notice.response_id, notice.turn_id)
        case AnswerEnded():
            protocol.tts_end(
                notice.event_id,
                notice.interrupted,
                notice.response_id,
                notice.turn_id,
                notice.heard,
            )
        case TurnState(floor=floor):
            protocol.turn_state(floor.value)
        case BargeIn(during=during, strategy=strategy, speech_ms=speech_ms, text=text):
            protocol.barge_in(during, strategy, speech_ms, text)
        case SpeechIgnored(reason=reason, text=text):
            protocol.speech_ignored(reason, text)
        case TurnMetrics(timings=timings):
            protocol.turn_metrics(timings.as_dict())
        case SessionUpdated(settings=settings):
            protocol.session_updated(settings.as_dict())
        case SessionError(code=code, message=message):
            protocol.error(code, message)
