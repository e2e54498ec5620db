"""``PiperTTS``: local neural speech synthesis with Piper (piper-tts, GPL-3.0, optional)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.catalog import DEFAULT_TTS_VOICE, resolve_model
from voicegate.inference import InferenceLanes, InferenceWorker
from voicegate.tts.base import (
    MIN_CLAUSE_WORDS,
    SpeechPiece,
    TTSProvider,
    speech_pieces,
    trim_lead_in,
    trim_phrase_end,
)

PLAYOUT_MARGIN_S = 1.5
"""A later piece of an answer is needed this long before the audio synthesised before it
will have played out: time for the synthesis in progress to end and for its own."""


class PiperTTS(TTSProvider):
    """A Piper voice, loaded once and shared by every session.

    ``voice`` is a manifest id or the path of a Piper ``.onnx`` file (with its ``.onnx.json``
    beside it). The voice loads on the worker thread at the first call; call
    :meth:`warm_up` at start-up. ``min_clause_words`` tunes :func:`speech_pieces`. Pieces
    wait their turn on the worker in the order their audio is needed (see
    :meth:`synthesize_stream`), at most ``max_queue`` of them (each session has one at a
    time), beyond which :class:`WorkerOverloadedError` refuses one. ``clock`` is the time
    that order is kept in.
    """

    def __init__(
        self,
        voice: str = DEFAULT_TTS_VOICE,
        *,
        min_clause_words: int = MIN_CLAUSE_WORDS,
        max_queue: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.voice_name = voice
        self.model_path = resolve_model(voice, "tts")
        self.min_clause_words = min_clause_words
        self._worker = InferenceWorker(f"tts-{voice}")
        self._lanes = InferenceLanes(self._worker, max_waiting=max_queue, clock=clock)
        self._voice: Any = None
        self.sample_rate = self._read_sample_rate()

    @property
    def worker(self) -> InferenceWorker:
        """The worker thread this voice runs on."""
        return self._worker

    async def synthesize(self, text: str) -> AudioFrame:
        """All of ``text`` as one frame at :attr:`sample_rate`."""
        return await self._lanes.run(self._synthesize_text, text)

    async def synthesize_stream(self, text: str) -> AsyncGenerator[AudioFrame, None]:
        """One frame per piece of :func:`speech_pieces`, each yielded as soon as it is
        synthesised.

        Each piece is a job of its own on the worker, and a consumer that pauses holds up
        no one. The first piece is needed now; a later one :data:`PLAYOUT_MARGIN_S` before
        the audio yielded before it, played from the first piece on, will have run out. So
        another answer's first piece goes ahead of this answer's later pieces while they
        are not needed yet; once one is, it goes ahead of the first pieces that wait."""
        played_out: float | None = None  # when the audio yielded so far will have played
        for piece in speech_pieces(text, self.min_clause_words):
            needed_at = None if played_out is None else played_out - PLAYOUT_MARGIN_S
            frame = await self._lanes.run(self._synthesize_piece, piece, needed_at=needed_at)
            started = self._lanes.clock() if played_out is None else played_out
            played_out = started + frame.duration
            yield frame

    def close(self) -> None:
        """Stop the worker; the voice is freed with this object."""
        self._worker.close()

    def _read_sample_rate(self) -> int:
        config = self.model_path.with_name(self.model_path.name + ".json")
        if not config.is_file():
            raise FileNotFoundError(f"Piper voice config {config} is missing")
        rate: int = json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
        return rate

    def _load(self) -> float:
        """Load the model once; only ever called on the worker's single thread."""
        if self._voice is not None:
            return 0.0
        started = time.perf_counter()
        import onnxruntime
        from piper import PiperVoice

        voice = PiperVoice.load(str(self.model_path))
        # Piper's session spins its idle threads, which starves whatever else runs
        # (Whisper, the event loop) on a small machine: rebuild it without spinning.
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        voice.session = onnxruntime.InferenceSession(
            str(self.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._voice = voice
        return time.perf_counter() - started

    def _synthesize_piece(self, piece: SpeechPiece) -> AudioFrame:
        """``piece``'s audio, an opening's and a first phrase's trimmed (on the worker, off
        the event loop)."""
        audio = self._synthesize_text(piece.text)
        if piece.opening:
            audio = trim_lead_in(audio)
        return trim_phrase_end(audio) if piece.phrase else audio

    def _synthesize_text(self, text: str) -> AudioFrame:
        self._load()
        chunks = [chunk.audio_int16_array for chunk in self._voice.synthesize(text)]
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return AudioFrame(samples, self.sample_rate)
