"""A caller in a real browser: headless Chromium on the call page, calling over WebRTC.

Chromium's fake capture device plays one WAV from the moment the page opens the microphone
(``--use-file-for-fake-audio-capture``), so the caller's sentences are laid out in it in
advance: :data:`LEAD_S` of silence while the call connects, then each sentence followed by
``gap`` seconds of silence for its answer. The page times every turn itself on its audio
clock (``window.voicegate.turns``, see ``static/turns.js``): from the capture of the
microphone's last loud sample to its final transcript and to the first loud sample of the
answer it played. This client reads those figures; Playwright drives Debian's Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from playwright.async_api import Browser, Page, Playwright, async_playwright

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.audio.wav import write_wav
from voicegate.bench.caller import ClientCaller
from voicegate.bench.connection import Connection
from voicegate.bench.server import GatewayAddress
from voicegate.bench.speech import SpeechClip
from voicegate.bench.turns import TurnResult, heard, server_stages

CHROMIUM = Path("/usr/bin/chromium")
FAKE_MIC_RATE = 48_000
LEAD_S = 3.0
"""Silence before the first sentence: capture starts at ``getUserMedia``, before the call is up."""
CONNECT_TIMEOUT_S = 30.0
SPEECH_END_WAIT_S = 30.0
"""How long after its sentence has played a browser caller waits for the page to count the turn."""
_POLL_S = 0.05

# Each turn's figures in ms from the microphone's last loud sample, as the page measured them.
_READ_TURNS = """() => ({
  status: window.voicegate.status,
  errors: window.voicegate.errors,
  turns: window.voicegate.turns.map((t) => {
    const since = (at) => (at === undefined || at === null ? null : (at - t.lastLoudAt) * 1000);
    return {
      transcript: t.transcript ?? null,
      transcriptMs: since(t.transcriptAt),
      firstAudioMs: since(t.firstPlayedAt),
      ended: t.answerEndedAt !== undefined,
      stages: t.stages ?? {},
    };
  }),
})"""


def chromium_flags(wav: Path) -> list[str]:
    """Chromium's flags for a loopback-only, headless machine with ``wav`` as microphone
    (played once)."""
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-loopback-in-peer-connection",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav.resolve()}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    ]


def script_audio(clips: Sequence[SpeechClip], gap: float) -> tuple[AudioFrame, list[float]]:
    """The fake microphone's audio at :data:`FAKE_MIC_RATE`, and where each clip's speech ends
    in it (seconds)."""
    parts = [np.zeros(round(LEAD_S * FAKE_MIC_RATE), np.int16)]
    ends = []
    for clip in clips:
        parts.append(resample(clip.audio, FAKE_MIC_RATE).samples.reshape(-1))
        ends.append(sum(len(part) for part in parts) / FAKE_MIC_RATE)
        parts.append(np.zeros(round(gap * FAKE_MIC_RATE), np.int16))
    return AudioFrame(np.concatenate(parts), FAKE_MIC_RATE), ends


@dataclass(frozen=True, slots=True)
class PageTurn:
    """One turn as the page timed it, in ms from the microphone's last loud sample (None: not
    yet), and the server's stages from ``turn_metrics``."""

    transcript: str | None
    transcript_ms: float | None
    first_audio_ms: float | None
    ended: bool
    stages_ms: dict[str, float] = field(default_factory=dict)


class BrowserVoiceClient(Connection):
    """One call from the page at ``page_url`` (``http://host:port/?token=...``) over WebRTC,
    its microphone speaking ``clips`` ``gap`` seconds apart; :attr:`turns` is what the page
    measured so far, polled every 50 ms.

    ``page_query`` is added to the page's URL: the browser's own voice processing is off
    (``aec=0``), as for the other benchmark callers, which have none.
    """

    def __init__(
        self,
        page_url: str,
        clips: Sequence[SpeechClip],
        *,
        gap: float = 8.0,
        page_query: str = "transport=webrtc&aec=0",
    ) -> None:
        separator = "&" if "?" in page_url else "?"
        self.url = f"{page_url}{separator}{page_query}"
        self.clips = tuple(clips)
        self.gap = gap
        self.turns: list[PageTurn] = []
        self.ended_at: dict[int, float] = {}
        """When (monotonic seconds) the poll first saw each turn's answer end, by index."""
        self.planned_ends: list[float] = []
        """Monotonic seconds by which each clip's speech has played, give or take the start."""
        self._scratch = tempfile.TemporaryDirectory(prefix="voicegate-browser-")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._page: Page | None = None
        self._poller: asyncio.Task[None] | None = None
        self._failure: str | None = None

    async def open(self) -> None:
        """Launch Chromium, open the page and press Call; return once the call is live."""
        await self._closing_on_failure(self._connect)

    async def _connect(self) -> None:
        if not await asyncio.to_thread(CHROMIUM.exists):
            raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium package")
        audio, ends = script_audio(self.clips, self.gap)
        wav = Path(self._scratch.name) / "microphone.wav"
        await asyncio.to_thread(write_wav, wav, audio)
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=chromium_flags(wav)
        )
        self._page = await self._browser.new_page()
        await self._page.goto(self.url)
        await self._page.click("#call")  # the microphone opens: the WAV starts
        started = time.monotonic()
        self.planned_ends = [started + end for end in ends]
        await self._page.wait_for_function(
            "() => window.voicegate.status !== 'connecting'", timeout=CONNECT_TIMEOUT_S * 1000
        )
        state = await self._read()
        if state["status"] != "live":
            raise ConnectionError(f"the page did not call: {state['status']} {state['errors']}")
        self._poller = asyncio.create_task(self._poll(self._page), name="browser-turns")

    async def wait_turn(self, index: int, seconds: float) -> None:
        """Wait ``seconds`` at most for the page to count turn ``index`` (its speech ended)."""
        async with asyncio.timeout(seconds):
            while len(self.turns) <= index:
                if self._failure is not None:
                    raise ConnectionError(self._failure)
                await asyncio.sleep(_POLL_S)

    async def close(self) -> None:
        """Hang up and close the browser."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._page is not None:
            with contextlib.suppress(Exception):  # the page may be gone already
                if (await self._read())["status"] == "live":
                    await self._page.click("#call")
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        await asyncio.to_thread(self._scratch.cleanup)

    async def _read(self) -> dict[str, Any]:
        assert self._page is not None
        state: dict[str, Any] = await self._page.evaluate(_READ_TURNS)
        return state

    async def _poll(self, page: Page) -> None:
        while not page.is_closed():
            state = await self._read()
            self.turns = [
                PageTurn(
                    t["transcript"],
                    t["transcriptMs"],
                    t["firstAudioMs"],
                    t["ended"],
                    {name: float(ms) for name, ms in t["stages"].items()},
                )
                for t in state["turns"]
            ]
            now = time.monotonic()
            for index, turn in enumerate(self.turns):
                if turn.ended:
                    self.ended_at.setdefault(index, now)
            if state["status"] != "live":
                self._failure = f"the call ended: {state['status']} {state['errors']}"
            await asyncio.sleep(_POLL_S)


class BrowserCaller(ClientCaller):
    """A caller in headless Chromium on the call page, over WebRTC (see :mod:`.browser_client`).

    Its sentences are known in advance (the fake microphone plays them at set times): the
    k-th :meth:`speak` returns once the page counted its k-th turn, and the page's audio
    clock times it, from the microphone's last loud sample.
    """

    def __init__(self, address: GatewayAddress, clips: Sequence[SpeechClip]) -> None:
        self._client = BrowserVoiceClient(address.page_url, clips)
        self._turns: dict[float, int] = {}  # what speak returned -> the page's turn index

    async def _dial(self) -> BrowserVoiceClient:
        return self._client

    async def speak(self, clip: SpeechClip) -> float:
        index = len(self._turns)
        if index >= len(self._client.clips) or self._client.clips[index] != clip:
            raise ValueError(f"a browser caller speaks its sentences in order, not {clip.text!r}")
        planned = self._client.planned_ends[index]
        await self._client.wait_turn(index, planned + SPEECH_END_WAIT_S - time.monotonic())
        spoken = time.monotonic()
        self._turns[spoken] = index
        return spoken

    def _page_turn(self, since: float) -> PageTurn | None:
        index = self._turns.get(since)
        return None if index is None else self._client.turns[index]

    def answered(self, since: float) -> bool:
        turn = self._page_turn(since)
        return turn is not None and (turn.first_audio_ms is not None or turn.ended)

    def turn_finished(self, since: float) -> bool:
        turn = self._page_turn(since)
        return turn is not None and turn.ended

    def answer_ended(self, since: float) -> float | None:
        """When the poll of the page first saw the answer's ``tts_end``."""
        index = self._turns.get(since)
        return None if index is None else self._client.ended_at.get(index)

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        turn = self._page_turn(speech_end)
        if turn is None or turn.transcript is None:
            result.error = "no final transcript"
            return
        heard(result, turn.transcript)
        for stage, ms in (("transcript", turn.transcript_ms), ("first_audio", turn.first_audio_ms)):
            if ms is not None:
                result.client_ms[stage] = round(ms, 1)
        result.server_ms = server_stages(turn.stages_ms)
        if turn.first_audio_ms is None:
            result.error = "no answer audio"
