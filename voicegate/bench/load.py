"""Load on a running gateway: callers that talk turn after turn, and the server's memory.

Each :func:`talk` caller joins over the WebSocket (again and again: a session refused with
1013 waits and tries again), plays a spoken clip in real time, waits for its turn to come
back (final transcript, answer audio, ``tts_end``), pauses, and goes on until a deadline.
Every turn it spoke is recorded as a :class:`Turn`; :func:`rss_mib` reads a process's
resident memory from ``/proc``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from voicegate.bench.server import GatewayAddress
from voicegate.bench.speech import SpeechClip
from voicegate.bench.websocket_client import WebSocketVoiceClient

TRY_AGAIN_LATER = 1013


@dataclass
class Turn:
    """One clip a caller spoke, and what came back for it."""

    session_id: str
    spoken_at: float
    """When its last frame was sent (monotonic seconds)."""
    event_ids: list[str] = field(default_factory=list)
    """The room events its final transcripts became."""
    first_audio_s: float | None = None
    """From the end of the speech to the first answer audio at the caller."""


@dataclass
class CallerLog:
    """Everything one caller did."""

    turns: list[Turn] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    """Room id by session id."""
    refused: int = 0
    """Sessions the server refused with 1013 (try again later)."""
    closed: list[tuple[int, str]] = field(default_factory=list)
    """Close codes and reasons of sessions the server ended."""


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB (``VmRSS`` in ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def talk(
    address: GatewayAddress,
    clips: Sequence[SpeechClip],
    until: float,
    log: CallerLog,
    *,
    pause: tuple[float, float] = (0.5, 2.0),
    turn_timeout: float = 60.0,
    seed: int = 0,
) -> None:
    """Talk turn after turn until monotonic time ``until``; ``log`` records it all."""
    choose = random.Random(seed)
    while time.monotonic() < until:
        try:
            async with WebSocketVoiceClient(address.websocket_url) as client:
                session_id = str(client.ready["session_id"])
                log.sessions[session_id] = str(client.ready["room_id"])
                while time.monotonic() < until:
                    turn = await _turn(client, session_id, choose.choice(clips), turn_timeout)
                    log.turns.append(turn)
                    await asyncio.sleep(choose.uniform(*pause))
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == TRY_AGAIN_LATER:
                log.refused += 1
                await asyncio.sleep(choose.uniform(1.0, 3.0))
            else:
                code = closed.rcvd.code if closed.rcvd else 1006
                log.closed.append((code, closed.rcvd.reason if closed.rcvd else ""))
        except ConnectionError as refused:  # the server ended the session while it spoke
            log.closed.append((0, str(refused)))


async def _turn(
    client: WebSocketVoiceClient, session_id: str, clip: SpeechClip, wait_s: float
) -> Turn:
    client.recording.messages.clear()  # a long run keeps only the turn in progress
    client.recording.audio.clear()
    turn = Turn(session_id, await client.play(clip.frames))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        messages = [m for _, m in client.recording.messages]
        finals = [m for m in messages if m["type"] == "final_transcript"]
        if finals and any(m["type"] == "tts_end" for m in messages):
            break
        await asyncio.sleep(0.05)
    turn.event_ids = [m["event_id"] for m in finals if m.get("event_id")]
    audio = [at for at, _ in client.recording.audio if at > turn.spoken_at]
    turn.first_audio_s = audio[0] - turn.spoken_at if audio else None
    return turn
