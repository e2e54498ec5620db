"""Voice sessions over WebRTC: a real aiortc client, real offers over HTTP, the real models."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.gateways import served_gateway
from tests.recordings import check_recording, recording_of, session_end, speech_end_s
from tests.voice.conftest import silence, speech
from voicegate import InMemoryStore, RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.bench.webrtc_client import OfferRejectedError, WebRTCVoiceClient
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.auth import AuthCallback
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.recording import RecordingOptions
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import WebRTCVoiceBackend

pytestmark = pytest.mark.models

SECRET = b"webrtc-tests-secret-0123456789"
SENTENCE = "Please turn on the kitchen lights."
token_auth = TokenAuth(SECRET, ttl=60)


@dataclass
class Server:
    kit: RoomKit
    server: EmbeddedServer
    backend: WebRTCVoiceBackend

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def post(self, body: bytes, token: str) -> tuple[int, dict[str, Any]]:
        """POST ``body`` to the offer endpoint; the status and the JSON answer."""
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        request = urllib.request.Request(f"{self.url}/webrtc/offer", body, headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


async def reject(context: Any) -> dict[str, Any] | None:
    return None


async def explode(context: Any) -> dict[str, Any] | None:
    raise RuntimeError("secret database password is hunter2")


@pytest.fixture
async def server(
    stt: FasterWhisperSTT, tts: PiperTTS, request: pytest.FixtureRequest
) -> AsyncIterator[Server]:
    auth: AuthCallback = getattr(request, "param", token_auth)
    kit = RoomKit(store=InMemoryStore())
    backend = WebRTCVoiceBackend(auth)
    gateway = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend])
    await gateway.start()
    async with EmbeddedServer(create_voice_app(gateway), "127.0.0.1", 0) as server:
        yield Server(kit, server, backend)
        await gateway.close()
    await kit.close()


async def test_a_spoken_turn_over_webrtc_is_transcribed_and_echoed_back(
    server: Server, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    sentence = await speech(tts, SENTENCE, 48000)
    session_ended = asyncio.Event()

    @server.kit.on("voice_session_ended")
    async def ended_session(event: Any) -> None:
        session_ended.set()

    async with WebRTCVoiceClient(server.url, token_auth.issue("alice")) as client:
        assert client.ready["session_id"] == client.session_id
        await client.play(AudioFrame(sentence.samples, 48000))
        await client.play(silence(48000, 1.0))
        async with asyncio.timeout(30):
            ended = await client.wait_for("tts_end")
        answer = client.answer_audio(since=client.first_time("tts_start"))
    async with asyncio.timeout(5):  # the client's bye ends the session
        await session_ended.wait()

    kinds = [m.message["type"] for m in client.messages]
    assert kinds[0] == "ready"
    assert kinds.index("speech_start") < kinds.index("speech_end") < kinds.index("final_transcript")
    final = client.of_type("final_transcript")[0]
    assert word_error_rate([(SENTENCE, final["text"])]) <= 0.2
    room_events = [m["event"] for m in client.of_type("room_event")]
    assert final["event_id"] in [e["id"] for e in room_events]
    assert any(e["source"]["channel_id"] == "echo" for e in room_events)
    assert ended["interrupted"] is False
    timeline = await server.kit.get_timeline(client.ready["room_id"])
    assert timeline[0].metadata["voice"]["session_id"] == client.session_id
    assert answer.duration > 1.0
    heard_back = await stt_base.transcribe(answer)
    assert word_error_rate([(final["text"], heard_back.text)]) <= 0.2


async def test_a_recorded_webrtc_call_is_a_stereo_file_of_both_sides_and_a_room_event(
    stt: FasterWhisperSTT, stt_base: FasterWhisperSTT, tts: PiperTTS, tmp_path: Path
) -> None:
    sentence = await speech(tts, SENTENCE, 48000)
    backend = WebRTCVoiceBackend(token_auth)
    recording = RecordingOptions(tmp_path)
    async with served_gateway(stt, tts, [backend], recording=recording) as (kit, _, server):
        url = f"http://127.0.0.1:{server.port}"
        async with session_end(kit) as session_ended:
            began = time.monotonic()
            async with WebRTCVoiceClient(url, token_auth.issue("alice"), record=True) as client:
                await client.play(sentence)
                await client.play(silence(48000, 1.0))
                async with asyncio.timeout(60):
                    await client.wait_for("tts_end")
            await session_ended()  # leaving sent bye
            ended = time.monotonic()
        events = await kit.store.list_events(client.ready["room_id"], limit=100)

    assert client.ready["recording"] is True
    answer = client.of_type("tts_start")[0]["text"]
    _, content = recording_of(events)
    await check_recording(
        stt_base,
        tmp_path,
        content,
        caller_said=SENTENCE,
        answered=answer,
        call_at_least_s=speech_end_s(sentence),
        call_at_most_s=ended - began,
    )


async def test_an_interrupt_on_the_data_channel_cuts_the_answer_short(
    server: Server, tts: PiperTTS
) -> None:
    sentence = await speech(tts, "Read me the whole weather report for tomorrow please.", 48000)
    async with WebRTCVoiceClient(server.url, token_auth.issue("carol")) as client:
        player = asyncio.create_task(client.play(sentence))
        async with asyncio.timeout(30):
            await client.wait_for("tts_start")
            client.send({"type": "interrupt"})
            ended = await client.wait_for("tts_end")
        await player
    assert ended["interrupted"] is True


@pytest.mark.parametrize(
    ("server", "token"),
    [
        (reject, None),
        (explode, None),
        (token_auth, "expired"),
        (token_auth, None),
        (token_auth, "forged.token"),
    ],
    indirect=["server"],
    ids=["callback-none", "callback-raises", "expired", "missing", "forged"],
)
async def test_rejected_offers_get_401_and_never_reach_a_room(
    server: Server, token: str | None
) -> None:
    if token == "expired":
        token = token_auth.issue("mallory", ttl=-1)
    with pytest.raises(OfferRejectedError) as rejected:
        async with WebRTCVoiceClient(server.url, token):
            pass
    assert (rejected.value.status, rejected.value.error) == (401, "unauthorized")
    assert "hunter2" not in str(rejected.value)
    assert await server.kit.store.list_rooms() == []
    assert server.backend.session_count == 0


async def test_bad_offers_get_400_with_a_reason_and_the_server_keeps_serving(
    server: Server,
) -> None:
    token = token_auth.issue("bob")
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "not valid JSON"),
        (json.dumps({"type": "offer"}).encode(), '"sdp"'),
        (json.dumps({"sdp": "hello", "type": "offer"}).encode(), "malformed SDP"),
        (json.dumps({"sdp": NO_AUDIO_SDP, "type": "offer"}).encode(), "no audio section"),
        (json.dumps({"sdp": "v=0", "type": "offer", "record": "yes"}).encode(), '"record"'),
    ]
    for body, reason in cases:
        status, answer = await asyncio.to_thread(server.post, body, token)
        assert (status, answer["error"]) == (400, "bad_request"), answer
        assert reason in answer["message"]
    granted = token_auth.issue("bob", rooms=["no-such-room"])
    with pytest.raises(OfferRejectedError) as missing_room:
        async with WebRTCVoiceClient(server.url, granted, room_id="no-such-room"):
            pass
    assert missing_room.value.status == 404
    assert await server.kit.store.list_rooms() == []
    async with WebRTCVoiceClient(server.url, token) as client:
        assert client.ready["room_id"]
        assert server.backend.session_count == 1
        client.send({"type": "dance"})
        async with asyncio.timeout(5):
            unknown = await client.wait_for("error")
            await server.backend.close()
            shutdown = await client.wait_for("error", count=2)
    assert (unknown["code"], unknown["fatal"]) == ("unknown_type", False)
    assert (shutdown["code"], shutdown["fatal"]) == ("server_shutting_down", True)
    assert server.backend.session_count == 0
    assert len(await server.kit.store.list_rooms()) == 1


async def test_an_offer_in_a_language_the_recogniser_does_not_know_gets_400(
    server: Server,
) -> None:
    with pytest.raises(OfferRejectedError) as refused:
        async with WebRTCVoiceClient(server.url, token_auth.issue("dora"), language="fr"):
            pass
    assert (refused.value.status, refused.value.error) == (400, "bad_request")
    assert refused.value.message.startswith("unsupported_language")
    assert await server.kit.store.list_rooms() == []
    assert server.backend.session_count == 0
    async with WebRTCVoiceClient(server.url, token_auth.issue("dora"), language="en") as client:
        assert client.ready["room_id"]


NO_AUDIO_SDP = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
        "c=IN IP4 127.0.0.1",
        "a=mid:0",
        "a=sctp-port:5000",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuvwx",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "",
    ]
)


async def test_an_offer_for_version_2_types_words_over_the_data_channel(
    server: Server, stt_base: FasterWhisperSTT
) -> None:
    with pytest.raises(OfferRejectedError) as refused:
        async with WebRTCVoiceClient(server.url, token_auth.issue("dora"), protocol=3):
            pass
    assert refused.value.status == 400
    assert refused.value.message.startswith("unsupported_protocol")
    async with WebRTCVoiceClient(server.url, token_auth.issue("dora"), protocol=2) as client:
        assert client.ready["protocol"] == 2
        client.send({"type": "say", "text": SENTENCE})
        final = await client.wait_for("final_transcript")
        started = await client.wait_for("tts_start")
        await client.wait_for("tts_end")
    assert final["text"] == SENTENCE
    assert started["turn_id"] == final["turn_id"]
    heard = await stt_base.transcribe(client.answer_audio(since=client.first_time("tts_start")))
    assert word_error_rate([(SENTENCE, heard.text)]) <= 0.2
