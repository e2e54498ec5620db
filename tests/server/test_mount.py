"""voicegate mounted at ``/voice`` in a user's own Starlette or FastAPI app, served by uvicorn.

The user's app starts and closes the gateway in its lifespan, as the README shows; each test
runs a full voice turn (speech in, final transcript, the echo's answer audio back) through the
mounted path, over the WebSocket or over WebRTC, with the real models.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from tests.voice.conftest import silence, speech, spoken_turn, voice_client
from voicegate import InMemoryStore, RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.bench.webrtc_client import WebRTCVoiceClient
from voicegate.server.asgi import create_voice_app
from voicegate.server.metrics import GatewayMetrics
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

pytestmark = pytest.mark.models

SECRET = b"mount-tests-secret-0123456789"
SENTENCE = "Please turn on the kitchen lights."


def starlette_app(gateway: VoiceGateway, voice_app: ASGIApp) -> ASGIApp:
    """A user's Starlette app with a page of its own and voicegate under ``/voice``."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.close()

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("the user's own page")

    return Starlette(routes=[Route("/", home), Mount("/voice", voice_app)], lifespan=lifespan)


def fastapi_app(gateway: VoiceGateway, voice_app: ASGIApp) -> ASGIApp:
    """A user's FastAPI app with a page of its own and voicegate under ``/voice``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/", response_class=PlainTextResponse)
    async def home() -> str:
        return "the user's own page"

    app.mount("/voice", voice_app)
    return app


@dataclass
class UserApp:
    port: int
    auth: TokenAuth
    metrics: GatewayMetrics

    @property
    def voice_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/voice"


@asynccontextmanager
async def uvicorn_serving(app: ASGIApp) -> AsyncIterator[int]:
    """``app`` on uvicorn's defaults, port 0, in this event loop; yields the bound port."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None))
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if serving.done():
                serving.result()
                raise AssertionError("uvicorn stopped before it served")
            await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await serving


@pytest.fixture(params=[starlette_app, fastapi_app], ids=["starlette", "fastapi"])
async def user_app(
    stt: FasterWhisperSTT, tts: PiperTTS, request: pytest.FixtureRequest
) -> AsyncIterator[UserApp]:
    build: Callable[[VoiceGateway, ASGIApp], ASGIApp] = request.param
    auth = TokenAuth(SECRET, ttl=60)
    metrics = GatewayMetrics()
    kit = RoomKit(store=InMemoryStore())
    gateway = VoiceGateway(
        kit,
        stt=stt,
        tts=tts,
        backends=[WebSocketVoiceBackend(auth), WebRTCVoiceBackend(auth)],
        observer=metrics,
    )
    async with uvicorn_serving(build(gateway, create_voice_app(gateway, metrics=metrics))) as port:
        yield UserApp(port, auth, metrics)
    await kit.close()


def _get(url: str, data: bytes | None = None, **headers: str) -> tuple[int, str, str]:
    """Status, final URL (after redirects) and body of a request."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as r:
            return r.status, r.url, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, url, exc.read().decode()


def _heard(finals: list[dict[str, Any]]) -> str:
    """The caller's words as the server transcribed them.

    A loaded machine may cut the sentence into two utterances: each gets its final
    transcript and its own echo (the first may be cut short by the second: barge-in).
    """
    return " ".join(final["text"] for final in finals)


async def test_a_voice_turn_over_the_websocket_through_the_mount(
    user_app: UserApp, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    url = f"ws://127.0.0.1:{user_app.port}/voice/ws?token={user_app.auth.issue('alice')}"
    async with voice_client(url) as client:
        await client.say(spoken_turn(await speech(tts, SENTENCE)))
        await client.wait_for("tts_end")
        utterances = len(client.received.of_type("speech_end"))
        await client.wait_for("final_transcript", utterances)
        ended = await client.wait_for("tts_end", utterances)
    finals = client.received.of_type("final_transcript")
    assert word_error_rate([(SENTENCE, _heard(finals))]) <= 0.2
    kinds = [message["type"] for _, message in client.received.messages]
    assert kinds.index("final_transcript") < kinds.index("tts_start") < kinds.index("tts_end")
    assert ended["interrupted"] is False
    started, spoken = next(
        (at, m) for at, m in reversed(client.received.messages) if m["type"] == "tts_start"
    )
    last_answer = b"".join(pcm for at, pcm in client.received.audio if at >= started)
    heard_back = await stt_base.transcribe(AudioFrame.from_bytes(last_answer, client.output_rate))
    assert word_error_rate([(spoken["text"], heard_back.text)]) <= 0.2
    _, _, metrics = await asyncio.to_thread(_get, f"{user_app.voice_url}/metrics")
    assert f"voicegate_turns_total {utterances}.0" in metrics


async def test_a_voice_turn_over_webrtc_through_the_mount(
    user_app: UserApp, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    sentence = await speech(tts, SENTENCE, 48000)
    async with WebRTCVoiceClient(user_app.voice_url, user_app.auth.issue("bob")) as client:
        await client.play(sentence)
        await client.play(silence(48000, 1.0))
        async with asyncio.timeout(30):
            await client.wait_for("tts_end")
            utterances = len(client.of_type("speech_end"))
            await client.wait_for("final_transcript", utterances)
            ended = await client.wait_for("tts_end", utterances)
        spoken = next(m for m in reversed(client.messages) if m.message["type"] == "tts_start")
        last_answer = client.answer_audio(since=spoken.arrived)
    finals = client.of_type("final_transcript")
    assert word_error_rate([(SENTENCE, _heard(finals))]) <= 0.2
    assert ended["interrupted"] is False
    heard_back = await stt_base.transcribe(last_answer)
    assert word_error_rate([(spoken.message["text"], heard_back.text)]) <= 0.2


async def test_the_page_health_and_errors_work_under_the_prefix(user_app: UserApp) -> None:
    def fetch_all() -> dict[str, tuple[int, str, str]]:
        base = user_app.voice_url
        text_offer = {
            "Content-Type": "text/plain",
            "Authorization": f"Bearer {user_app.auth.issue('carol')}",
        }
        return {
            "user": _get(f"http://127.0.0.1:{user_app.port}/"),
            "page": _get(base),
            "script": _get(f"{base}/static/app.js"),
            "health": _get(f"{base}/healthz"),
            "missing": _get(f"{base}/nope"),
            "upgrade": _get(f"{base}/ws"),
            "offer": _get(f"{base}/webrtc/offer", b"{}", **text_offer),
        }

    replies = await asyncio.to_thread(fetch_all)
    assert replies["user"][0::2] == (200, "the user's own page")
    status, final_url, page = replies["page"]
    assert (status, final_url) == (200, f"{user_app.voice_url}/")
    assert 'src="static/app.js"' in page
    assert replies["script"][0] == 200
    assert json.loads(replies["health"][2])["status"] == "ok"
    for name, status, error in [
        ("missing", 404, "not_found"),
        ("upgrade", 426, "upgrade_required"),
        ("offer", 415, "unsupported_media_type"),
    ]:
        reply: dict[str, Any] = json.loads(replies[name][2])
        assert (replies[name][0], reply["error"]) == (status, error), name
