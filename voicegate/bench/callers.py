"""The benchmark's callers: one interface over the WebSocket, WebRTC, browser, Twilio and SIP
clients."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence

from voicegate.bench.caller import Caller, ClientCaller, arrived_since
from voicegate.bench.phone_callers import SIPCaller, TwilioCaller
from voicegate.bench.server import GatewayAddress
from voicegate.bench.speech import SpeechClip
from voicegate.bench.turns import Message, TurnResult, measure_turn, turn_finished
from voicegate.bench.webrtc_client import WebRTCVoiceClient
from voicegate.bench.websocket_client import WebSocketVoiceClient

TRANSPORTS = ("websocket", "webrtc", "browser", "twilio", "sip")


class _ProtocolCaller(ClientCaller):
    """A caller that hears voicegate's protocol messages (WebSocket, WebRTC data channel)."""

    @abstractmethod
    def messages(self) -> Sequence[Message]:
        """Every protocol message received so far, with its arrival time."""

    @abstractmethod
    def first_answer_audio(self, turn: Sequence[Message]) -> float | None:
        """Arrival time of the first answer audio of the turn whose messages are ``turn``."""

    def answered(self, since: float) -> bool:
        return self.first_answer_audio(self._turn(since)) is not None

    def turn_finished(self, since: float) -> bool:
        return turn_finished(self._turn(since))

    def answer_ended(self, since: float) -> float | None:
        """When ``tts_end`` came: the server sends it once the answer has played."""
        return next((at for at, m in self._turn(since) if m["type"] == "tts_end"), None)

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        turn = self._turn(since)
        measure_turn(result, turn, speech_end, self.first_answer_audio(turn))

    def _turn(self, since: float) -> Sequence[Message]:
        return arrived_since(self.messages(), since, lambda message: message[0])


class WebSocketCaller(_ProtocolCaller):
    """A caller on the voice WebSocket; answer audio starts at the first frame after
    ``tts_start`` (text and binary frames arrive in order)."""

    def __init__(self, address: GatewayAddress) -> None:
        self._client = WebSocketVoiceClient(address.websocket_url)

    async def _dial(self) -> WebSocketVoiceClient:
        return self._client

    def messages(self) -> Sequence[Message]:
        return self._client.recording.messages

    async def speak(self, clip: SpeechClip) -> float:
        return await self._client.play(clip.frames)

    def first_answer_audio(self, turn: Sequence[Message]) -> float | None:
        start = next((at for at, m in turn if m["type"] == "tts_start"), None)
        if start is None:
            return None
        return next((at for at, _ in self._client.recording.audio if at >= start), None)


class WebRTCCaller(_ProtocolCaller):
    """A caller over WebRTC; answer audio starts at the first received frame above the
    client's level threshold after the final transcript (the data channel and the
    media track are not ordered with each other)."""

    def __init__(self, address: GatewayAddress) -> None:
        self._client = WebRTCVoiceClient(f"http://{address.host}:{address.port}", address.token)

    async def _dial(self) -> WebRTCVoiceClient:
        return self._client

    def messages(self) -> Sequence[Message]:
        return [(received.arrived, received.message) for received in self._client.messages]

    async def speak(self, clip: SpeechClip) -> float:
        await self._client.play(clip.audio)
        return time.monotonic()

    def first_answer_audio(self, turn: Sequence[Message]) -> float | None:
        final = next((at for at, m in turn if m["type"] == "final_transcript"), None)
        return None if final is None else self._client.answer_onset(after=final)


def make_caller(
    transport: str, address: GatewayAddress, clips: Sequence[SpeechClip] = ()
) -> Caller:
    """A caller of ``transport`` (one of :data:`TRANSPORTS`) on the gateway at ``address``;
    a browser caller speaks ``clips``, in order."""
    if transport == "websocket":
        return WebSocketCaller(address)
    if transport == "webrtc":
        return WebRTCCaller(address)
    if transport == "browser":  # Playwright is imported only for it
        from voicegate.bench.browser_client import BrowserCaller

        return BrowserCaller(address, clips)
    if transport == "twilio":
        return TwilioCaller(address)
    if transport == "sip":
        return SIPCaller(address)
    raise ValueError(f"unknown transport {transport!r}: expected one of {', '.join(TRANSPORTS)}")
