"""The semantic end of turn: after a short pause, the end-of-turn model and the words decide.

Smart Turn hears how the caller stopped (prosody, and what the words sound like); the
transcript of the speech so far (the pass a pause starts anyway) shows whether the
sentence stops on a word no sentence ends with ("a table for", "my name is John and":
:mod:`voicegate.voice.phrase_end`).
The turn ends when both say it is complete: at once where the model is sure
(``turn_sure_threshold``) or the speech began over an answer (which it may interrupt: the
sooner the better), once the silence has lasted ``min_silence_ms`` (the closure of a stop
consonant between words, "quick | brown", is 100-140 ms of near silence, which the VAD
may call non-speech just before the next word: the model and the words heard "The quick"
as a whole sentence, "the quote."); otherwise after ``end_of_speech_ms`` of silence, as the
fixed timer would (a phrase break after "At the sound of the tone," came back as 0.70
complete). Where they do not agree, the session keeps listening and asks the model again
after more silence; words that end a sentence (".", "?", "!") end the turn after ``words_end_ms`` of
silence whatever the model says (it misjudges voices unlike its training speech), and
``max_silence_ms`` ends it in any case.
If the model fails or is overloaded, the words alone decide; if the words do not come
within :data:`WORDS_WAIT_S` of the model's answer (a recogniser far behind, or stuck), the
model alone decides: a turn never waits for a recogniser that gives nothing. Speech in
which the recogniser found no words at all (noise that passed the VAD) has no sentence to
finish: ``end_of_speech_ms`` of silence ends it, as in the ``fixed`` mode, so a noise burst
is an utterance of its own, which makes no turn, and never swallows the speech after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.stt.text import words
from voicegate.voice.phrase_end import sounds_unfinished
from voicegate.voice.session import VoiceSettings

logger = logging.getLogger(__name__)

WORDS_WAIT_S = 1.0
"""How long a complete answer of the model waits for the transcript of the speech so far."""


@dataclass(frozen=True, slots=True)
class _Words:
    """A transcript of the speech so far, read once when it comes (not on every quiet
    frame): whether it has words, and whether it stops mid-phrase."""

    text: str
    has_words: bool
    unfinished: bool
    sentence_end: bool
    """Whether the words end on a sentence's mark (".", "?", "!")."""

    @classmethod
    def of(cls, text: str) -> _Words:
        has_words, unfinished = bool(words(text)), sounds_unfinished(text)
        marked = text.rstrip().endswith((".", "?", "!"))
        return cls(text, has_words, unfinished, has_words and marked and not unfinished)


class SemanticTurnEnd:
    """One session's semantic end of turn. The listener tells it when speech goes on
    (:meth:`speech`), the utterance's audio, pauses included (:meth:`hear`), how long the
    silence is (:meth:`quiet`) and the transcript of all the speech so far
    (:meth:`transcript`); it calls ``end_turn`` once the turn is over."""

    def __init__(
        self, model: EndOfTurnModel, settings: VoiceSettings, end_turn: Callable[[], None]
    ) -> None:
        self._model = model
        self._settings = settings
        self._end_turn = end_turn
        self._check: asyncio.Task[None] | None = None
        self._next_check_s = settings.turn_check_ms / 1000
        self._probability: float | None = None
        self._words: _Words | None = None
        self._words_late: asyncio.TimerHandle | None = None
        self._silence_s = 0.0
        self._voiced = False  # the VAD still calls the quiet speech
        self._over_answer = False  # the utterance began over an answer
        self._recent: deque[AudioFrame] = deque()  # the utterance's end the model hears
        self._recent_s = 0.0

    def hear(self, audio: AudioFrame) -> None:
        """The utterance's next audio (16 kHz mono), speech or pause."""
        self._recent.append(audio)
        self._recent_s += audio.duration
        while self._recent_s - self._recent[0].duration >= self._model.window_s:
            self._recent_s -= self._recent.popleft().duration

    def begin(self, *, over_answer: bool) -> None:
        """A new utterance begins with speech; ``over_answer``: while an answer is prepared
        or played, where an unsure complete ends the turn at once."""
        self._over_answer = over_answer
        self.speech()

    def speech(self) -> None:
        """The caller speaks: whatever was judged of the last pause no longer holds."""
        if self._silence_s:
            logger.debug("speech again after %.0f ms of quiet", self._silence_s * 1000)
        self._cancel()
        self._next_check_s = self._settings.turn_check_ms / 1000
        self._probability = None
        self._words = None
        self._silence_s = 0.0
        self._voiced = False

    def quiet(self, silence_s: float, *, voiced: bool = False) -> None:
        """``silence_s`` of silence since the last speech. While it is ``voiced`` (the VAD
        still calls it speech: its 100-150 ms tail after speech, or the closure of a stop
        consonant inside a word, "dial|ed") the model is asked, but the turn does not end."""
        self._silence_s = silence_s
        self._voiced = voiced
        if self._wordless() or self._decide():
            return  # the answers may have come during the VAD's tail or a shorter silence
        if silence_s + 1e-9 < self._next_check_s or self._check is not None:
            return
        if self._words is not None and self._words.unfinished:
            return  # more silence will not finish the sentence: max_silence_ms decides
        self._next_check_s = silence_s + self._settings.turn_recheck_ms / 1000
        self._check = asyncio.create_task(self._ask(self._window()), name="voicegate-turn-end")

    def transcript(self, text: str) -> None:
        """The transcript of all the speech so far."""
        logger.debug("words so far: %r", text)
        self._words = _Words.of(text)
        if not self._wordless():
            self._decide()

    def close(self) -> None:
        """Stop judging (the utterance ended)."""
        self._cancel()
        self._recent.clear()
        self._recent_s = 0.0

    def _window(self) -> AudioFrame:
        """The utterance's end the model hears (or less), its pause included."""
        rate = self._recent[0].sample_rate
        samples = np.concatenate([f.samples[:, 0] for f in self._recent])
        return AudioFrame(samples[-round(self._model.window_s * rate) :], rate)

    async def _ask(self, audio: AudioFrame) -> None:
        try:
            self._probability = await self._model.completion(audio)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("end-of-turn model failed (%s): the words decide", error)
            self._probability = 1.0
        self._check = None
        logger.debug("end-of-turn model: %.2f complete", self._probability)
        self._decide()
        if self._words is None and self._complete() and self._words_late is None:
            loop = asyncio.get_running_loop()
            self._words_late = loop.call_later(WORDS_WAIT_S, self._without_words)

    def _wordless(self) -> bool:
        """End the turn if the speech so far has no words and the silence is long enough."""
        if self._voiced or self._words is None or self._words.has_words:
            return False
        if self._silence_s + 1e-9 < self._settings.end_of_speech_ms / 1000:
            return False
        self._end()
        return True

    def _complete(self) -> bool:
        probability = self._probability
        return probability is not None and probability >= self._settings.turn_threshold

    def _decide(self) -> bool:
        """End the turn if the model and the words say it is complete (and the model is
        sure, the speech is over an answer or the silence is ``end_of_speech_ms`` long), or
        if the words end a sentence and the silence is ``words_end_ms`` long; never before
        ``min_silence_ms``; whether it ended."""
        probability, heard = self._probability, self._words
        if self._voiced or heard is None or heard.unfinished:
            return False
        if self._silence_s + 1e-9 < self._settings.min_silence_ms / 1000:
            return False  # quiet this short may be a stop consonant's closure
        if not self._complete():
            return self._words_decide(heard)
        assert probability is not None  # _complete() says so
        sure = probability >= self._settings.turn_sure_threshold or self._over_answer
        if not sure and self._silence_s + 1e-9 < self._settings.end_of_speech_ms / 1000:
            return False
        logger.debug("end of turn: %.2f complete, words %r", probability, heard.text)
        self._end()
        return True

    def _words_decide(self, heard: _Words) -> bool:
        """End the turn the model calls unfinished if its words end a sentence and the
        silence is ``words_end_ms`` long (the model misjudges a voice unlike its training
        speech: espeak-ng's "Book a table for four people at seven." at 0.02-0.06)."""
        after_s = self._settings.words_end_ms / 1000
        if not (after_s and heard.sentence_end and self._silence_s + 1e-9 >= after_s):
            return False
        logger.debug("end of turn: the words end a sentence, %r", heard.text)
        self._end()
        return True

    def _without_words(self) -> None:
        """The words did not come in time: the model's answer stands alone."""
        self._words_late = None
        if self._words is None and self._complete():
            logger.info(
                "no transcript %.1f s after the end-of-turn model: it decides", WORDS_WAIT_S
            )
            self._end()

    def _end(self) -> None:
        self._cancel()
        self._end_turn()

    def _cancel(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self._words_late is not None:
            self._words_late.cancel()
            self._words_late = None
