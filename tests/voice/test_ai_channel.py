"""The AIChannel against a real local HTTP server that stands in for the language model.

``ChatServer`` is the LLM stand-in: a real aiohttp.web server on a free port that speaks
OpenAI's streaming chat format (``data: {...delta...}`` lines, ``data: [DONE]``) with a
scripted answer. Its script can pause at a gate, stall, or send garbage.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from websockets.asyncio.client import connect

from tests.voice.conftest import (
    SECRET,
    Received,
    pcm_frames,
    receive_into,
    silence,
    speech,
    stream_realtime,
)
from voicegate import InMemoryStore, RoomKit, WebSocketChannel
from voicegate.core.models import RECENT_EVENTS, EventType, RoomEvent, TextContent
from voicegate.errors import ConfigError
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.base import split_for_speech
from voicegate.tts.piper import PiperTTS
from voicegate.voice.ai import APOLOGY, AIChannel, SentenceStream
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.websocket import WebSocketVoiceBackend

STALL = object()
"""A script step: the server stops sending (until the test ends)."""


@dataclass
class ChatServer:
    """The LLM stand-in: OpenAI-style streaming chat completions from a script."""

    script: list[Any] = field(default_factory=list)
    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        if self.status != 200:
            return web.Response(status=self.status, text="model not loaded")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for step in self.script:
            if isinstance(step, asyncio.Event):
                await step.wait()
            elif step is STALL:
                await self.closing.wait()
            elif isinstance(step, bytes):
                await response.write(step)
            else:
                chunk = {"choices": [{"index": 0, "delta": {"content": step}}]}
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.sent += 1
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def chat() -> AsyncIterator[ChatServer]:
    server = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    server.closing.set()
    await runner.cleanup()


@dataclass
class Room:
    """A room with a websocket channel (the asker) and the AIChannel."""

    kit: RoomKit
    ai: AIChannel
    room_id: str
    seen: list[RoomEvent]
    arrived: asyncio.Queue[RoomEvent]

    async def ask(self, text: str) -> None:
        await self.kit.send_event(self.room_id, "ws", TextContent(text))

    async def next_answer(self) -> RoomEvent:
        return await asyncio.wait_for(self.arrived.get(), 10)

    async def answers(self) -> list[RoomEvent]:
        await asyncio.wait_for(self.kit.wait_answers(self.room_id), 10)
        timeline = await self.kit.get_timeline(self.room_id)
        return [e for e in timeline if e.source.channel_id == "ai"]


async def make_room(base_url: str, **options: Any) -> tuple[RoomKit, Room]:
    kit = RoomKit(store=InMemoryStore())
    ai = AIChannel(base_url=base_url, **options)
    kit.register_channel(ai)
    kit.register_channel(WebSocketChannel("ws"))
    seen: list[RoomEvent] = []
    arrived: asyncio.Queue[RoomEvent] = asyncio.Queue()

    async def send(connection_id: str, event: RoomEvent) -> None:
        seen.append(event)
        arrived.put_nowait(event)

    await kit.connect_websocket("ws", "client", send)
    room = await kit.create_room()
    await kit.attach_channel(room.id, "ws")
    await kit.attach_channel(room.id, "ai")
    return kit, Room(kit, ai, room.id, seen, arrived)


@pytest.fixture
async def room(chat: ChatServer) -> AsyncIterator[Room]:
    kit, made = await make_room(chat.base_url, timeout=10.0, stall_timeout=0.5)
    yield made
    await kit.close()
    await made.ai.close()


def bodies(events: list[RoomEvent]) -> list[str]:
    return [e.content.body for e in events if isinstance(e.content, TextContent)]


async def test_sentences_arrive_as_separate_events_before_the_stream_ends(
    chat: ChatServer, room: Room
) -> None:
    gate = asyncio.Event()
    chat.script = ["Hello", " there. The lights", " are on now", ". ", gate, "Anything", " else?"]
    await room.ask("Turn on the lights.")

    first = await room.next_answer()
    assert first.content == TextContent("Hello there.")
    second = await room.next_answer()
    assert second.content == TextContent("The lights are on now.")
    assert chat.sent == 4  # the rest of the answer is still held back at the gate
    gate.set()

    answers = await room.answers()
    assert bodies(answers) == ["Hello there.", "The lights are on now.", "Anything else?"]
    asked = (await room.kit.get_timeline(room.room_id))[0]
    assert [a.metadata["part"] for a in answers] == [0, 1, 2]
    assert {a.metadata["responds_to"] for a in answers} == {asked.id}
    assert len({a.response_id for a in answers}) == 1
    assert None not in {a.response_id for a in answers}
    assert all(a.chain_depth == 1 for a in answers)
    assert chat.requests[0]["stream"] is True
    assert chat.requests[0]["model"] == "local"


async def test_the_room_history_is_sent_as_user_and_assistant_messages(
    chat: ChatServer, room: Room
) -> None:
    chat.script = ["It is sunny.", " Enjoy it."]
    await room.ask("What is the weather?")
    await room.answers()
    chat.script = ["You are welcome."]
    await room.ask("Thanks.")
    await room.answers()

    messages = chat.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert [m["content"] for m in messages[1:]] == [
        "What is the weather?",
        "It is sunny. Enjoy it.",
        "Thanks.",
    ]


async def test_the_history_is_limited_to_the_last_events(chat: ChatServer) -> None:
    kit, made = await make_room(chat.base_url, history_events=2)
    for text in ("first", "second", "third"):
        await kit.send_event(made.room_id, "ws", TextContent(text), visibility="ws")
    chat.script = ["Ok."]
    await made.ask("fourth")
    await made.answers()
    await kit.close()
    await made.ai.close()
    assert [m["content"] for m in chat.requests[0]["messages"][1:]] == ["third fourth"]


@pytest.mark.parametrize(
    ("status", "script", "logged"),
    [
        (500, [], "HTTP 500: model not loaded"),
        (200, [b"data: {not json\n\n"], "not JSON in the stream"),
        (200, [b'data: {"error": {"message": "out of memory"}}\n\n'], "out of memory"),
        (200, [b'data: {"choices": []}\n\n'], "chunk without choices"),
        (200, ["Let me see", STALL], "timed out"),
    ],
    ids=["http-error", "not-json", "error-chunk", "no-choices", "stalled"],
)
async def test_errors_send_one_apology_and_log_why(
    chat: ChatServer,
    room: Room,
    caplog: pytest.LogCaptureFixture,
    status: int,
    script: list[Any],
    logged: str,
) -> None:
    chat.status, chat.script = status, script
    with caplog.at_level(logging.WARNING, logger="voicegate.voice.ai"):
        await room.ask("Hello?")
        answers = await room.answers()
    assert bodies(answers) == [APOLOGY]
    assert answers[0].metadata["error"] is True
    assert logged in caplog.text


async def test_a_dead_endpoint_gets_an_apology(caplog: pytest.LogCaptureFixture) -> None:
    kit, made = await make_room("http://127.0.0.1:9/v1")
    with caplog.at_level(logging.WARNING, logger="voicegate.voice.ai"):
        await made.ask("Is anybody there?")
        answers = await made.answers()
    await kit.close()
    await made.ai.close()
    assert bodies(answers) == [APOLOGY]
    assert "127.0.0.1:9" in caplog.text


async def test_a_new_message_cancels_the_answer_still_streaming(
    chat: ChatServer, room: Room
) -> None:
    chat.script = ["One moment,", STALL]
    await room.ask("Tell me a long story.")
    await asyncio.sleep(0)
    chat.script = ["Sure."]
    await room.ask("Never mind, say sure.")
    assert bodies(await room.answers()) == ["Sure."]


async def test_cancelling_the_answer_stops_it_after_the_sentence_sent(
    chat: ChatServer, room: Room
) -> None:
    gate = asyncio.Event()
    chat.script = ["Hello there. ", gate, "This is never sent."]
    await room.ask("Hi.")
    first = await room.next_answer()
    assert first.response_id is not None
    assert await room.kit.cancel_response(first.response_id) is True
    gate.set()
    assert bodies(await room.answers()) == ["Hello there."]


def test_the_history_must_fit_the_recent_events() -> None:
    with pytest.raises(ConfigError, match="history_events"):
        AIChannel(history_events=RECENT_EVENTS + 1)


async def test_only_text_messages_from_voice_and_websocket_channels_are_answered(
    chat: ChatServer, room: Room
) -> None:
    chat.script = ["Yes."]
    await room.ask("   ")
    assert await room.answers() == []
    assert chat.requests == []


def test_missing_aiohttp_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    with pytest.raises(ConfigError, match=r"voicegate\[ai\]"):
        AIChannel()


@pytest.mark.parametrize(
    "text",
    [
        "Hello there. The lights are on now, and the heating is set to twenty degrees. Bye!",
        "One, two, three, four, five six seven eight: nine.  Ten\neleven.",
        "No punctuation at all in this answer",
        " ".join(f"word{n}" for n in range(70)),  # cut by length: 16, 16, 16, 16, 6 words
        "A long clause " + " ".join(f"w{n}" for n in range(30)) + ", then a comma. End.",
    ],
)
def test_sentence_stream_cuts_like_split_for_speech(text: str) -> None:
    stream = SentenceStream()
    pieces = [p for i in range(0, len(text), 3) for p in stream.feed(text[i : i + 3])]
    assert pieces + stream.finish() == split_for_speech(text)


@pytest.mark.models
async def test_a_voice_caller_hears_the_ai_answer_sentence_by_sentence(
    chat: ChatServer, stt: FasterWhisperSTT, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    answer = "The kitchen lights are on. Anything else?"
    chat.script = ["The kitchen", " lights are on.", " Anything else?"]
    kit = RoomKit(store=InMemoryStore())
    auth = TokenAuth(SECRET, ttl=60)
    backend = WebSocketVoiceBackend(auth)
    ai = AIChannel(base_url=chat.base_url)
    voice = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend], responder=ai)
    await voice.start()
    frames = pcm_frames(await speech(tts, "Please turn on the kitchen lights."))
    frames += pcm_frames(silence(16000, 1.0))
    received = Received()
    async with EmbeddedServer(create_voice_app(voice), "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/ws?token={auth.issue('alice')}"
        async with connect(url) as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            ready = json.loads(await ws.recv())
            sender = asyncio.create_task(stream_realtime(ws, frames))
            await asyncio.wait_for(receive_into(ws, received, "tts_end", count=2), 60)
            await sender
        await voice.close()
    await ai.close()
    await kit.close()

    spoken = [m["text"] for m in received.of_type("tts_start")]
    assert spoken == ["The kitchen lights are on.", "Anything else?"]
    assert chat.requests[0]["messages"][-1]["role"] == "user"
    assert (
        word_error_rate(
            [("please turn on the kitchen lights", chat.requests[0]["messages"][-1]["content"])]
        )
        <= 0.2
    )
    heard = await stt_base.transcribe(received.audio_frame(ready["output_sample_rate"]))
    assert word_error_rate([(answer, heard.text)]) <= 0.2


async def test_an_answer_cut_short_is_in_the_history_as_far_as_the_caller_heard_it(
    chat: ChatServer, room: Room
) -> None:
    chat.script = ["It is sunny and warm all day.", " Enjoy the walk by the river."]
    await room.ask("What is the weather?")
    first, second = await room.answers()
    heard = {"text": "It is sunny", "interrupted_at_ms": 700, "event_id": first.id}
    await room.kit.send_event(
        room.room_id, "ws", TextContent("It is sunny"), EventType.SYSTEM, metadata={"heard": heard}
    )
    chat.script = ["Yes."]
    await room.ask("Warm?")
    await room.answers()

    messages = chat.requests[1]["messages"]
    assert first.response_id == second.response_id  # the second part was never heard
    assert [m["content"] for m in messages[1:]] == ["What is the weather?", "It is sunny", "Warm?"]
