"""The voice settings a client may change during its session (version 2's ``session.update``).

Sans-I/O: :func:`read_changes` checks what a client asks for; the session applies the
result (:meth:`voicegate.voice.listener.Listener.update`) and answers with the settings in
force.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from voicegate.voice.hello import is_int

SERVER_TURNS = "server"
"""Turn detection by the server: a turn ends after ``end_of_speech_ms`` of silence."""
MANUAL_TURNS = "manual"
"""Push-to-talk: a turn ends at the client's ``commit`` (or at the longest utterance)."""
TURN_DETECTIONS = (SERVER_TURNS, MANUAL_TURNS)
END_OF_SPEECH_MS_LIMITS = (60, 5000)
"""The shortest and longest silence that may end an utterance, in ms."""
BARGE_IN_MS_LIMITS = (0, 5000)
"""The least and most speech that may be needed to interrupt an answer, in ms."""


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """The settings of a session that its client may change at any time."""

    end_of_speech_ms: int
    barge_in_ms: int
    turn_detection: str = SERVER_TURNS
    interruptions: bool = True
    """Whether the caller's speech interrupts an answer (``interrupt`` always does)."""

    @property
    def manual(self) -> bool:
        """Whether turns end only at ``commit`` (push-to-talk)."""
        return self.turn_detection == MANUAL_TURNS

    def as_dict(self) -> dict[str, object]:
        """JSON-safe, as ``session.updated`` carries it."""
        return asdict(self)


def read_changes(session: object) -> dict[str, Any] | str:
    """The changes a ``session.update``'s ``session`` object asks for (fields it leaves out
    stay as they are), or why they are wrong."""
    if not isinstance(session, dict):
        return "session.update needs session: an object of the settings to change"
    changes: dict[str, Any] = {}
    for name, value in session.items():
        if name == "turn_detection":
            if value not in TURN_DETECTIONS:
                return f"turn_detection must be one of {', '.join(TURN_DETECTIONS)}"
        elif name == "interruptions":
            if not isinstance(value, bool):
                return "interruptions must be true or false"
        elif name in ("end_of_speech_ms", "barge_in_ms"):
            low, high = (
                END_OF_SPEECH_MS_LIMITS if name == "end_of_speech_ms" else BARGE_IN_MS_LIMITS
            )
            if not is_int(value) or not low <= value <= high:
                return f"{name} must be a whole number from {low} to {high}"
        else:
            return f"{name} is not a setting a session may change"
        changes[name] = value
    return changes
