"""The end-of-turn model contract."""

from __future__ import annotations

from abc import ABC, abstractmethod

from voicegate.audio.frame import AudioFrame


class EndOfTurnModel(ABC):
    """Judges from the audio whether someone who paused has finished what they were saying.

    One model serves every session; :meth:`completion` may be called by many at once.
    """

    sample_rate: int = 16000
    window_s: float
    """How many seconds of the utterance's end the model hears at most."""

    @abstractmethod
    async def completion(self, audio: AudioFrame) -> float:
        """The probability (0 to 1) that the turn is complete, given the utterance so far
        (mono at :attr:`sample_rate`, ending with the pause)."""

    async def warm_up(self) -> None:  # noqa: B027 - models without first-call costs
        """Pay first-call costs now so the first real caller does not."""

    def close(self) -> None:  # noqa: B027 - models without resources need no close
        """Release the model and its worker."""
