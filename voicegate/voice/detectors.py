"""The detectors a gateway's sessions share: the voice activity detectors and the
end-of-turn model, each made the first time a session needs it."""

from __future__ import annotations

from voicegate.audio.silero import SileroVAD
from voicegate.audio.vad import VADProvider, WebRTCVAD
from voicegate.catalog import resolve_model
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.endofturn.smart_turn import SmartTurn
from voicegate.voice.session import EndOfTurn, VADKind, VoiceSettings

SILERO_MODEL = "silero-vad-v6"


class Detectors:
    """Shared detectors for sessions with ``settings`` (the server's) or their own choices.

    ``vad`` replaces the detector of the server's own ``vad`` kind and ``turn_model`` the
    end-of-turn model (tests). A model that is not installed raises
    :class:`~voicegate.errors.ModelNotAvailableError` naming the command that fetches it.
    """

    def __init__(
        self,
        settings: VoiceSettings,
        *,
        vad: VADProvider | None = None,
        turn_model: EndOfTurnModel | None = None,
    ) -> None:
        self._settings = settings
        self._vads: dict[VADKind, VADProvider] = {} if vad is None else {settings.vad: vad}
        self._turn_model = turn_model

    def vad(self, kind: VADKind) -> VADProvider:
        """The detector of ``kind``."""
        provider = self._vads.get(kind)
        if provider is None:
            if kind is VADKind.SILERO:
                provider = SileroVAD(resolve_model(SILERO_MODEL, "vad"))
            else:
                provider = WebRTCVAD(self._settings.vad_aggressiveness)
            self._vads[kind] = provider
        return provider

    def turn_model(self) -> EndOfTurnModel:
        """The end-of-turn model."""
        if self._turn_model is None:
            self._turn_model = SmartTurn()
        return self._turn_model

    async def warm_up(self) -> None:
        """Load what the server's own settings use, so that a missing model fails now."""
        self.vad(self._settings.vad)
        if self._settings.end_of_turn is EndOfTurn.SEMANTIC:
            await self.turn_model().warm_up()

    def close(self) -> None:
        """Release the end-of-turn model."""
        if self._turn_model is not None:
            self._turn_model.close()
