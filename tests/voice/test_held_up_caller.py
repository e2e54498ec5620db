"""A caller's audio held up on its way (a TCP segment lost and sent again) comes late, not
never: the server waits for it, and the sentence is one turn, whole."""

from __future__ import annotations

import asyncio

import pytest

from tests.voice.conftest import Gateway, speech, spoken_turn, stream_realtime, voice_client
from voicegate.audio.frame import FRAME_MS
from voicegate.stt.wer import word_error_rate
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "The quick brown fox jumps over the lazy dog."
HELD_AFTER_S = 0.85
"""Where the audio is held up: after the lead-in and "The quick brown" (Piper's voice)."""
HOLD_S = 0.6
"""How long: two losses of one segment (Linux waits at least 200 ms, then twice that)."""


async def test_a_caller_held_up_mid_sentence_is_heard_as_one_turn(
    gateway: Gateway, tts: PiperTTS
) -> None:
    frames = spoken_turn(await speech(tts, SENTENCE))
    held_at = round(HELD_AFTER_S * 1000 / FRAME_MS)  # spoken_turn's frames are FRAME_MS long
    token = gateway.auth.issue("caller")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await stream_realtime(client.connection, frames[:held_at])
        await asyncio.sleep(HOLD_S)  # nothing arrives; then all that was held, at once
        await stream_realtime(client.connection, frames[held_at:], lead_ms=round(HOLD_S * 1000))
        await client.wait_for("tts_end")
        await asyncio.sleep(1.0)  # a second turn's transcript would have come by now
    finals = [final["text"] for final in client.received.of_type("final_transcript")]
    assert len(finals) == 1, f"one turn: {finals}"
    assert word_error_rate([(SENTENCE, finals[0])]) <= 0.2, finals
