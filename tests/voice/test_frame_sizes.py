"""The promises of the Audio section: any frame size up to the limit, and bursts up to the
allowance, give the same session as 20 ms frames in real time."""

from __future__ import annotations

import asyncio

import numpy as np

from tests.voice.conftest import Gateway, silence, speech, stream_realtime, voice_client
from voicegate.audio.frame import AudioFrame
from voicegate.bench.speech import pcm_frames
from voicegate.stt.wer import normalize, word_error_rate
from voicegate.tts.piper import PiperTTS

SENTENCE = "Please tell me the opening hours of the library."
BURST = "Open the door."
"""Short enough for the burst allowance; Whisper tiny.en mishears one of its words in about 1
Piper rendering of 40, so the burst test asks for every word there and one at most misheard."""
FRAME_SIZES_MS = (20, 100, 250, 500, 1000)


def _call(audio: AudioFrame) -> AudioFrame:
    """A lead-in, ``audio``, and the silence that ends the utterance, as one stream."""
    parts = [silence(16000, 0.5), audio, silence(16000, 1.5)]
    return AudioFrame(np.concatenate([p.samples.reshape(-1) for p in parts]), 16000)


async def _session(gateway: Gateway, call: AudioFrame, frame_ms: int) -> dict[str, object]:
    """Send ``call`` in frames of ``frame_ms`` in real time; what the session said of it."""
    token = gateway.auth.issue(f"frames-{frame_ms}")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await stream_realtime(client.connection, pcm_frames(call, frame_ms), frame_ms)
        final = await client.wait_for("final_transcript")
        start = client.received.of_type("speech_start")
        end = client.received.of_type("speech_end")
        errors = client.received.of_type("error")
    return {"text": final["text"], "starts": start, "ends": end, "errors": errors}


async def test_frames_of_20_to_1000_ms_give_the_same_transcript_and_times(
    gateway: Gateway, tts: PiperTTS
) -> None:
    audio = await speech(tts, SENTENCE)
    call = _call(audio)
    loud = np.flatnonzero(np.abs(audio.samples.reshape(-1).astype(np.int32)) > 300)
    onset, offset = 0.5 + loud[0] / 16000, 0.5 + (loud[-1] + 1) / 16000
    sessions = await asyncio.gather(*(_session(gateway, call, ms) for ms in FRAME_SIZES_MS))
    reference = sessions[0]
    assert word_error_rate([(SENTENCE, str(reference["text"]))]) <= 0.2
    [start] = reference["starts"]  # type: ignore[misc]
    [end] = reference["ends"]  # type: ignore[misc]
    # the waveform's first and last loud samples, within the VAD's reach (start_ms, 20 ms frames)
    assert onset - 0.1 <= start["at"] <= onset + 0.1
    assert offset - 0.1 <= end["at"] <= offset + 0.1
    for frame_ms, session in zip(FRAME_SIZES_MS, sessions, strict=True):
        assert session["errors"] == [], frame_ms
        assert session["text"] == reference["text"], frame_ms
        [other_start] = session["starts"]  # type: ignore[misc]
        [other_end] = session["ends"]  # type: ignore[misc]
        assert abs(other_start["at"] - start["at"]) <= 0.02, frame_ms
        assert abs(other_end["at"] - end["at"]) <= 0.02, frame_ms


async def test_a_clip_within_the_burst_allowance_sent_at_once_is_heard_whole(
    gateway: Gateway, tts: PiperTTS
) -> None:
    audio = await speech(tts, BURST)
    clip = AudioFrame(
        np.concatenate([silence(16000, 0.2).samples.reshape(-1), audio.samples.reshape(-1)]),
        16000,
    )
    assert clip.duration < 2.4  # inside the 2.5 s allowance
    token = gateway.auth.issue("burst")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        for frame in pcm_frames(clip):
            await client.connection.send(frame)  # all at once; then the client goes quiet
        final = await client.wait_for("final_transcript")
        errors = client.received.of_type("error")
    # heard whole: as many words as were said (a clip cut short loses some), one misheard at most
    assert len(normalize(final["text"]).split()) == len(normalize(BURST).split()), final
    assert word_error_rate([(BURST, final["text"])]) <= 1 / 3, final
    assert errors == []
