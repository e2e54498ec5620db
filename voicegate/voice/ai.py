"""An intelligence channel answering from any OpenAI-compatible chat endpoint, sentence by sentence.

It speaks ``POST {base_url}/chat/completions`` with ``stream: true`` (llama.cpp's
server, Ollama, vLLM, OpenAI itself) and reads the Server-Sent Events stream. Each
sentence (or long clause) is sent into the room as its own event the moment it is
complete, so a voice session starts speaking while the model is still writing; the
engine commits the sentences and owns the rest (see ``Channel.on_event``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

from voicegate.core.channels import AnswerParts, Channel, ChannelOutput
from voicegate.core.models import (
    RECENT_EVENTS,
    ChannelCategory,
    ChannelType,
    EventStatus,
    EventType,
    RoomContext,
    RoomEvent,
    TextContent,
)
from voicegate.errors import ConfigError, RoomKitError
from voicegate.tts.base import split_for_speech

if TYPE_CHECKING:
    import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_AI_URL = "http://127.0.0.1:11434/v1"
"""Ollama's OpenAI-compatible endpoint on this machine (llama-server: ``http://127.0.0.1:8080/v1``)."""

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your answers are spoken aloud: keep them short, "
    "in plain sentences, without lists, markdown or emoji."
)
APOLOGY = "Sorry, I cannot answer right now."
ANSWERED_CHANNEL_TYPES = frozenset({ChannelType.VOICE, ChannelType.WEBSOCKET})
_WORD = re.compile(r"\S+")
_SENTENCE_DONE = re.compile(r"[.!?]\s+$")


class ChatStreamError(RoomKitError):
    """The chat endpoint answered with an HTTP error or a stream that cannot be read."""


class SentenceStream:
    """Cuts streamed text into the pieces :func:`split_for_speech` would make.

    :meth:`feed` returns the pieces completed by the new text (a sentence is complete
    once whitespace follows its full stop); the piece still growing stays buffered
    (raw, whitespace intact) until :meth:`finish`.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, text: str) -> list[str]:
        """Add ``text``; returns the pieces that are now complete."""
        self._pending += text
        pieces = split_for_speech(self._pending)
        if _SENTENCE_DONE.search(self._pending):
            self._pending = ""
            return pieces
        if len(pieces) < 2:
            return []
        done = pieces[:-1]
        words = sum(len(piece.split()) for piece in done)
        last_word = list(_WORD.finditer(self._pending))[words - 1]
        self._pending = self._pending[last_word.end() :].lstrip()
        return done

    def finish(self) -> list[str]:
        """The rest of the text, as pieces; the stream is empty afterwards."""
        pieces = split_for_speech(self._pending)
        self._pending = ""
        return pieces


def _import_aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:
        raise ConfigError(
            "AIChannel needs aiohttp: install the 'ai' extra (pip install 'voicegate[ai]')"
        ) from None
    return aiohttp


class AIChannel(Channel):
    """Answers text messages from voice and websocket channels with a chat model.

    The answer streams into the room sentence by sentence (each one event, all with the
    answer's ``response_id``), while the model is still writing. A new answer in a room
    cancels the one still streaming there (the caller moved on). The history sent to the
    model is the text messages among the room's last ``history_events`` events (at most
    :data:`~voicegate.core.models.RECENT_EVENTS`). When the endpoint is down, slow, or
    answers badly, the error is logged and :data:`APOLOGY` is sent instead (metadata
    ``error``): nobody is left waiting. ``timeout`` bounds a whole answer,
    ``stall_timeout`` any silence in the stream (the first token included).
    """

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE
    cancel_previous_answer = True

    def __init__(
        self,
        channel_id: str = "ai",
        *,
        base_url: str = DEFAULT_AI_URL,
        model: str = "local",
        api_key: str | None = None,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        history_events: int = 20,
        timeout: float = 60.0,
        stall_timeout: float = 15.0,
    ) -> None:
        super().__init__(channel_id)
        if not 1 <= history_events <= RECENT_EVENTS:
            raise ConfigError(
                f"history_events must be from 1 to {RECENT_EVENTS}, got {history_events}"
            )
        if timeout <= 0 or stall_timeout <= 0:
            raise ConfigError("AIChannel timeouts must be positive")
        self._aiohttp = _import_aiohttp()
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._system_prompt = system_prompt
        self._history_events = history_events
        self._timeout = self._aiohttp.ClientTimeout(total=timeout, sock_read=stall_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def on_event(self, event: RoomEvent, context: RoomContext) -> AnswerParts | None:
        """The answer to a text message, as it streams from the model."""
        if (
            event.type is not EventType.MESSAGE
            or event.source.channel_type not in ANSWERED_CHANNEL_TYPES
            or not isinstance(event.content, TextContent)
            or not event.content.body.strip()
        ):
            return None
        return self._answer(event, self._history(context.recent_events))

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _answer(
        self, event: RoomEvent, messages: list[dict[str, str]]
    ) -> AsyncIterator[ChannelOutput]:
        parts = 0
        try:
            sentences = SentenceStream()
            async with contextlib.aclosing(self._stream(messages)) as deltas:
                async for delta in deltas:
                    for piece in sentences.feed(delta):
                        parts += 1
                        yield ChannelOutput(TextContent(piece))
            for piece in sentences.finish():
                parts += 1
                yield ChannelOutput(TextContent(piece))
            if parts == 0:
                logger.warning("%s: the model gave an empty answer to %s", self._url, event.id)
        except Exception as error:
            logger.warning(
                "%s: answer to %s failed: %s", self._url, event.id, _describe(error), exc_info=True
            )
            yield ChannelOutput(TextContent(APOLOGY), metadata={"error": True})

    def _history(self, recent: list[RoomEvent]) -> list[dict[str, str]]:
        """The chat so far: the room's messages, each of this channel's answers as far as a
        caller heard it when one cut it short (the ``heard`` records of voice sessions)."""
        messages = [{"role": "system", "content": self._system_prompt}]
        heard = _heard_parts(recent)
        cut: set[str] = set()  # answers whose later parts nobody heard
        for past in recent[-self._history_events :]:
            if (
                past.type is not EventType.MESSAGE
                or past.status is not EventStatus.DELIVERED
                or not isinstance(past.content, TextContent)
                or (past.response_id is not None and past.response_id in cut)
            ):
                continue
            body = past.content.body
            if past.id in heard and past.response_id is not None:
                body = heard[past.id]
                cut.add(past.response_id)
            role = "assistant" if past.source.channel_id == self.channel_id else "user"
            if not body:
                continue
            if messages[-1]["role"] == role:
                messages[-1]["content"] += " " + body
            else:
                messages.append({"role": role, "content": body})
        return messages

    async def _stream(self, messages: list[dict[str, str]]) -> AsyncGenerator[str, None]:
        if self._session is None or self._session.closed:
            self._session = self._aiohttp.ClientSession(timeout=self._timeout)
        body = {"model": self._model, "messages": messages, "stream": True}
        async with self._session.post(self._url, json=body, headers=self._headers) as response:
            if response.status != 200:
                detail = (await response.text())[:200]
                raise ChatStreamError(f"HTTP {response.status}: {detail}")
            async for raw in response.content:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event/id fields
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                delta = _delta(data)
                if delta:
                    yield delta


def _heard_parts(recent: list[RoomEvent]) -> dict[str, str]:
    """The text heard of each answer part a caller cut short, by the part's event id."""
    heard: dict[str, str] = {}
    for event in recent:
        record = event.metadata.get("heard") if event.type is EventType.SYSTEM else None
        if isinstance(record, dict) and isinstance(record.get("event_id"), str):
            heard.setdefault(record["event_id"], str(record.get("text", "")))
    return heard


def _delta(data: str) -> str:
    """The text of one streamed chunk (``choices[0].delta.content``)."""
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError:
        raise ChatStreamError(f"not JSON in the stream: {data[:80]!r}") from None
    if not isinstance(chunk, dict):
        raise ChatStreamError(f"unexpected chunk in the stream: {data[:80]!r}")
    if "error" in chunk:
        raise ChatStreamError(f"the endpoint reported an error: {str(chunk['error'])[:200]}")
    try:
        content = chunk["choices"][0]["delta"].get("content")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise ChatStreamError(f"chunk without choices[0].delta: {data[:80]!r}") from None
    return content if isinstance(content, str) else ""


def _describe(error: Exception) -> str:
    if isinstance(error, TimeoutError):
        return "the endpoint timed out"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
