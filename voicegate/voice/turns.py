"""Timing of one caller turn, from the end of speech to the first answer audio."""

from __future__ import annotations

from dataclasses import dataclass, field

from voicegate.core.models import new_id

# (stage name, start mark, end mark), in the order a turn passes through them.
_STAGES = (
    ("endpoint", "speech_ended", "endpointed"),
    ("stt", "endpointed", "transcribed"),
    ("room", "transcribed", "answered"),
    ("tts", "answered", "first_audio"),
    ("total", "speech_ended", "first_audio"),
)
# Every mark, in the order a turn reaches them.
_MARKS = tuple(dict.fromkeys(mark for _, start, end in _STAGES for mark in (start, end)))


@dataclass(slots=True)
class TurnTimings:
    """Monotonic marks (seconds) of a turn; ``None`` until reached.

    ``speech_ended`` is when the caller's last speech frame arrived, ``endpointed``
    when the silence after it was long enough to end the utterance, ``transcribed``
    when the final transcript was ready, ``answered`` when the room's answer reached
    the session (transcription hooks, commit and the responder in between) and
    ``first_audio`` when the first audio of that answer was queued for the client.
    """

    turn_id: str = field(default_factory=new_id)
    speech_ended: float | None = None
    endpointed: float | None = None
    transcribed: float | None = None
    answered: float | None = None
    first_audio: float | None = None

    def stages(self) -> dict[str, float]:
        """Duration in seconds of every stage whose two marks are set."""
        result: dict[str, float] = {}
        for name, start, end in _STAGES:
            begin, finish = getattr(self, start), getattr(self, end)
            if begin is not None and finish is not None:
                result[name] = max(0.0, finish - begin)
        return result

    def marks(self) -> str:
        """Every mark set, as ``name=seconds`` on the monotonic clock (``time.monotonic``,
        shared by the processes of one machine): a log line that a client's own times line
        up with."""
        return " ".join(
            f"{name}={value:.4f}" for name in _MARKS if (value := getattr(self, name)) is not None
        )

    def as_dict(self) -> dict[str, object]:
        """A JSON-safe summary: the turn id and each stage in milliseconds."""
        stages_ms = {name: round(seconds * 1000.0, 1) for name, seconds in self.stages().items()}
        return {"turn_id": self.turn_id, "stages_ms": stages_ms}
