"""The detectors a gateway's sessions share: the voice activity detectors and the
end-of-turn model, each made the first time a session needs it; and what each session
gets of them, with its own echo canceller (:meth:`Detectors.for_session`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from voicegate.audio.echo import EchoCanceller
from voicegate.audio.silero import SileroVAD
from voicegate.audio.vad import VADProvider, WebRTCVAD
from voicegate.catalog import resolve_model
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.endofturn.smart_turn import SmartTurn
from voicegate.errors import RoomKitError
from voicegate.voice.session import EndOfTurn, VADKind, VoiceSettings

SILERO_MODEL = "silero-vad-v6"


@dataclass(slots=True)
class SessionDetectors:
    """What one session runs with: its ``settings`` as they could be given, its VAD (None:
    the mixer's), end-of-turn model and echo canceller, and each setting ``refused`` (a
    model or package missing), said in words."""

    settings: VoiceSettings
    vad: VADProvider | None = None
    turn_model: EndOfTurnModel | None = None
    canceller: EchoCanceller | None = None
    refused: list[str] = field(default_factory=list)


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

    def for_session(self, settings: VoiceSettings) -> SessionDetectors:
        """What a session with ``settings`` (the server's with its client's choices) gets;
        a setting whose model or package is missing falls back to the plain one."""
        given = SessionDetectors(settings)
        if settings.end_of_turn is EndOfTurn.SEMANTIC:
            try:
                given.turn_model = self.turn_model()
            except RoomKitError as error:
                given.refused.append(f"end_of_turn semantic: {error}")
                given.settings = replace(given.settings, end_of_turn=EndOfTurn.FIXED)
        if settings.vad is not self._settings.vad:
            try:
                given.vad = self.vad(settings.vad)
            except RoomKitError as error:
                given.refused.append(f"vad {settings.vad}: {error}")
                given.settings = replace(given.settings, vad=self._settings.vad)
        if settings.echo_cancellation or settings.noise_suppression:
            try:
                given.canceller = EchoCanceller(
                    echo_cancellation=settings.echo_cancellation,
                    noise_suppression=settings.noise_suppression,
                )
            except RoomKitError as error:
                given.refused.append(f"echo cancellation: {error}")
                given.settings = replace(
                    given.settings, echo_cancellation=False, noise_suppression=False
                )
        return given

    async def warm_up(self) -> None:
        """Load what the server's own settings use, so that a missing model fails now."""
        self.vad(self._settings.vad)
        if self._settings.end_of_turn is EndOfTurn.SEMANTIC:
            await self.turn_model().warm_up()

    def close(self) -> None:
        """Release the end-of-turn model."""
        if self._turn_model is not None:
            self._turn_model.close()
