"""Fast tests of voice sessions, without models, ports or real time.

``voice_harness`` runs a real :class:`~voicegate.voice.gateway.VoiceGateway` (inbound
path, VAD, endpointer, listener, turns, speaker, room engine) on a
:class:`ScriptedSTT` and a :class:`ToneTTS`; each ``harness.call()`` is a session on a
:class:`MemoryTransport` that records every notice and answer frame. Audio is fed as fast
as the session takes it, timed by a :class:`FakeClock` (:class:`BusySTT`, a recogniser
that takes real time on its worker thread, overloads a gateway; :class:`BurstSTT` hears
one word per burst of sound and falls behind at will)::

    async with voice_harness(ScriptedSTT(["turn on the lights"])) as harness:
        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            answer = await caller.transport.wait_for(AnswerStarted)
"""

from voicegate.testing.fakes import BurstSTT, BusySTT, ScriptedSTT, ToneTTS
from voicegate.testing.harness import (
    Caller,
    FakeClock,
    VoiceHarness,
    silence,
    speech,
    voice_harness,
)
from voicegate.testing.transport import MemoryTransport

__all__ = [
    "BurstSTT",
    "BusySTT",
    "Caller",
    "FakeClock",
    "MemoryTransport",
    "ScriptedSTT",
    "ToneTTS",
    "VoiceHarness",
    "silence",
    "speech",
    "voice_harness",
]
