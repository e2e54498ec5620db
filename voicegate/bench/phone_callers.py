"""The benchmark's phone callers, which hear only audio: a Twilio call and a SIP call.

A phone hears no transcripts, so a phone turn is measured by its first answer audio: for
Twilio the first ``media`` message after the caller stopped speaking (Twilio streams
nothing else), for SIP the first RTP packet that is not digital silence (the line carries
zeros between answers). A Piper answer may begin quieter than µ-law's smallest step: the
first 20 ms of 4 of the benchmark's 8 answers decode to zeros at 8 kHz, so the SIP phone
hears those answers one packet (20 ms) later than a Twilio caller or the WebSocket's first
frame would count them. A Twilio turn ends with the mark after its answer; a SIP turn once
the answer has been quiet for :data:`QUIET_S` seconds.
"""

from __future__ import annotations

import asyncio

from voicegate.audio.frame import FRAME_MS, SILENCE_DBFS
from voicegate.audio.resample import resample
from voicegate.bench.caller import ClientCaller, arrived_since
from voicegate.bench.phone_line import RATE
from voicegate.bench.server import GatewayAddress
from voicegate.bench.sip_client import HeardPacket, SIPPhone
from voicegate.bench.speech import SpeechClip
from voicegate.bench.turns import TurnResult, measure_answer
from voicegate.bench.twilio_client import TwilioMediaStreamClient, fetch_twiml, stream_of

QUIET_S = 0.8
PACKET_S = FRAME_MS / 1000


class TwilioCaller(ClientCaller):
    """A call through ``POST /twilio/voice`` and the Media Stream its TwiML names."""

    def __init__(self, address: GatewayAddress) -> None:
        self._webhook = f"http://{address.host}:{address.port}/twilio/voice"
        self._client: TwilioMediaStreamClient | None = None

    async def _dial(self) -> TwilioMediaStreamClient:
        twiml = await asyncio.to_thread(fetch_twiml, self._webhook, {"From": "+15550100"})
        url, parameters = stream_of(twiml)
        self._client = TwilioMediaStreamClient(url, custom_parameters=parameters)
        return self._client

    async def speak(self, clip: SpeechClip) -> float:
        return await self._stream.speak(resample(clip.audio, RATE))

    def answered(self, since: float) -> bool:
        return self._first_media(since) is not None

    def turn_finished(self, since: float) -> bool:
        return self.answer_ended(since) is not None

    def answer_ended(self, since: float) -> float | None:
        """When the mark after the answer was echoed: its audio had played."""
        first = self._first_media(since)
        if first is None:
            return None
        return next((at for at, _ in self._stream.record.marks_echoed if at > first), None)

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        measure_answer(result, speech_end, self._first_media(speech_end))

    @property
    def _stream(self) -> TwilioMediaStreamClient:
        assert self._client is not None, "use the caller as 'async with'"
        return self._client

    def _first_media(self, since: float) -> float | None:
        media = arrived_since(self._stream.record.media, since, lambda received: received[0])
        return media[0][0] if media else None


class SIPCaller(ClientCaller):
    """A SIP call over UDP to the gateway's SIP port."""

    def __init__(self, address: GatewayAddress) -> None:
        self._phone = SIPPhone(address.host, address.sip_port)

    async def _dial(self) -> SIPPhone:
        return self._phone

    async def speak(self, clip: SpeechClip) -> float:
        return await self._phone.speak(resample(clip.audio, RATE))

    def answered(self, since: float) -> bool:
        return bool(self._loud(since))

    def turn_finished(self, since: float) -> bool:
        loud = self._loud(since)
        if not loud:
            return False
        heard = self._phone.heard
        return heard[-1].arrived - loud[-1].arrived > QUIET_S

    def answer_ended(self, since: float) -> float | None:
        """When the answer's last loud packet had played (known :data:`QUIET_S` later)."""
        loud = self._loud(since)
        return loud[-1].arrived + PACKET_S if loud else None

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        loud = self._loud(speech_end)
        measure_answer(result, speech_end, loud[0].arrived if loud else None)

    def _loud(self, since: float) -> list[HeardPacket]:
        heard = arrived_since(self._phone.heard, since, lambda packet: packet.arrived)
        return [packet for packet in heard if packet.dbfs > SILENCE_DBFS]
