"""The short-window Whisper decode: an utterance decoded in a window fitted to its length.

Whisper encodes 30 s windows: a 1 s answer padded to 30 s pays about 300 ms of encoder time
for silence. Here an utterance is decoded in a window of its own length plus
``window_margin`` (2 s), at least ``MIN_WINDOW_SECONDS`` (5 s); its encoder pass costs about
a tenth of the 30 s one (28 ms against 298 ms for a 6 s window, on 2 cores; a decoded token
costs 5-10 ms, a single word about seven). How, chosen on the 551 real recordings of
``benchmarks/wer.py``:

- **Pad the audio, not the features.** Whisper was trained on audio padded with zeros, whose
  log-Mel frames sit at the utterance's floor (its loudest level minus 80 dB). faster-whisper
  pads the *features* with 0 instead, a mid-level constant: harmless in a 30 s window, but in
  a short one Whisper reads it as speech still going on and says the word again and again
  ("fifty" came back as "50" thirteen times; 40% WER, 1,149 of 1,330 errors insertions).
  Padding the audio alone cut the loops by half; a 10 s margin alone did not stop them.
- **A token budget bounded by the audio**, in two steps: ``FIRST_BUDGET`` (4 tokens plus 4.5
  a second: the prompts over 2 s needed a median of 3.6 and a p95 of 4.6 a second, timestamps
  included), then, only if that ran out before the text reached the audio's end, the same
  encoding decoded again with ``FULL_BUDGET`` (6 plus 7 a second; the most any prompt needed
  was 5.8). A tight first budget matters: every token of a restart is thrown away.
- **A loop said once.** A decode that runs out of its budget saying one phrase again and
  again (``"11. 11. 11. 11"``, ``"No more messages. No more messages. No"``) is kept as
  that phrase said once (:func:`~voicegate.stt.whisper_tokens.opening_copy`), with no second
  budget step: 18 of the 39 prompts that fell back at 16 kHz (14 of 38 at 8 kHz), each
  with the words the 30 s decode gives. Only a run-out text qualifies: a real "no, no" ends
  within its budget.
- **Check, then fall back.** Any other result is kept unless it looks like a failed decode:
  a word or phrase twice in a row, an ending that says the text's opening again (a restart
  cut short: ``"Parking attempt failed. Parking attempt"``), a text the full budget left
  short of the audio's end, an average log-probability under -1.2, or a confident text
  where the model also thinks nobody spoke (its "you" on silence). Such an utterance, about
  one in forty of the prompts and mostly single words, is tried again (``SECOND_TRIES``):
  after 150 ms of silence, where a failed decode is often chaotic ("Follow that upon key.",
  log-probability -1.23, became "Followed by the pound key."), then with a beam of 5; only
  if both fail, or hear silence where the first heard speech, is it decoded by
  faster-whisper's own 30 s path (whose temperature fallback samples: its texts vary from
  run to run, and a doubtful one took 1.2 s), whose result it then is exactly. Of the 43
  utterances of ``benchmarks/preroll.py`` whose short decode failed at the session's cut
  (real prompts at 16 and 8 kHz, synthetic voices; one run, the 30 s decode's text shared
  by every way), the two tries passed 28, with 19 word errors in the 43, as with the 30 s
  decode alone, in 10.7 s of decoding against 21.4 s (a try costs 35-60 ms). The lead-in
  alone passed 18 (19 errors, 15.0 s); the beam alone, 22 with 29 errors; the beam after the
  lead-in, 23 with 23.
- **Features without a thread pool.** The log-Mel features come from
  :class:`~voicegate.stt.log_mel.LogMel`, equal to faster-whisper's extractor to float32
  rounding, whose Mel projection (a matrix product) waited on OpenBLAS's threads: at load
  average 10 on 2 cores, a median of 9, 19 and 59 ms for 1, 3 and 8 s of audio, against
  0.6, 1.4 and 18 ms here (the fastest of 40 runs, the arithmetic: 0.4-11 ms against
  0.5-6.5 ms).
- **Against the 30 s decode.** In the README's run (all 551 prompts, load average 8-18) the
  short window's errors equal the 30 s decode's at 16 kHz (172 and 172 of 3,292 words) and
  are fewer at 8 kHz (201 against 204); the 30 s decode's own runs gave 172-173 and
  203-204. Its texts still differ on about 40 prompts, both ways, and which way is chaotic
  rather than a setting: this module's features, within 1.2e-7 of faster-whisper's, changed
  33 of the short window's texts at 16 kHz, 174 errors becoming 172.

What was measured and rejected is in the README ("Recognition on real speech").

**Batches.** Utterances recognised together
(:meth:`~voicegate.stt.whisper.FasterWhisperSTT.recognise_batch`, the finals or partials that
wait together) whose windows have the same length share one decoder
call per budget step: every utterance under 3 s (most turns of a conversation) has the 5 s
window. Each is encoded alone: on 2 loaded CPU cores one encoder call for six 5 s windows
took 0.8-1.2 s against 0.6 s for the six calls one by one, while one decoder call for the six
took 0.2-0.8 s against 0.6-1.1 s. The token budget is the largest of theirs and each result
is cut back to its own budget, so an utterance decodes to the tokens it would alone (keeping
the longer decode's score). Windows are not padded to a common length: a longer window
changes the decode (an espeak-ng Spanish sentence came back with other words). Fallbacks to
the 30 s path run one by one; a batch of finals leaves them out (``leave_slow``), each's 30 s
decode then the worker's next job (:class:`~voicegate.stt.worker.WorkerSTT`), so the others
need not wait, and its short decode and tries are not made again.

**Prompts.** A prompt (:meth:`~voicegate.stt.base.STTProvider.transcribe`) goes before
the task's tokens as Whisper's text of the audio before (faster-whisper's
``initial_prompt``), in both decodes; utterances with different prompts are decoded in
separate calls. Its tokens take room in CTranslate2's ``max_length``, which is set so the
decode stops at the budget: with room for the budget plus the prompt, a partial of a short
"no" kept decoding what the budget then threw away and took 90 ms instead of 55.

Segments that start where the audio ends are dropped (the model restarting the utterance),
and so are segments without a word ("...").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.stt.base import TranscriptSegment
from voicegate.stt.log_mel import LogMel
from voicegate.stt.whisper_tokens import (
    checked_segments,
    decoder_start,
    opening_copy,
    reaches_end,
)

Heard = tuple[str, list[TranscriptSegment] | None]
"""The language an utterance was recognised in, and its segments (None: the short-window
decode failed, the 30 s one gives them)."""

FRAMES_PER_SECOND = 100
"""Log-Mel frames per second of audio (a 10 ms hop)."""
FULL_WINDOW_SECONDS = 30.0
MIN_WINDOW_SECONDS = 5.0
FIRST_BUDGET = (4, 4.5)
FULL_BUDGET = (6, 7.0)
MAX_TOKENS = 224
"""Whisper's own cap on decoded tokens (half its 448-token text context)."""


@dataclass(frozen=True, slots=True)
class SecondTry:
    """One more short-window decode of an utterance whose decode looked failed: after
    ``lead_in`` s of silence, with a beam of ``beam_size`` (None: the recogniser's own)."""

    lead_in: float
    beam_size: int | None = None


SECOND_TRIES = (SecondTry(lead_in=0.15), SecondTry(lead_in=0.0, beam_size=5))
"""The tries, in order, before the 30 s decode (see the module docstring)."""


def window_frames(duration: float, margin: float | None) -> int | None:
    """The log-Mel frames of the short window for ``duration`` s of audio with ``margin`` s
    after it; None where only the 30 s decode fits (no margin, or too long)."""
    if margin is None or duration + margin > FULL_WINDOW_SECONDS:
        return None
    window = max(duration + margin, MIN_WINDOW_SECONDS)
    return math.ceil(window * FRAMES_PER_SECOND)


@dataclass(frozen=True, slots=True)
class ShortWindowDecoder:
    """The short-window decode over a loaded model: ``model`` is faster-whisper's
    CTranslate2 Whisper, ``tokenizer`` gives the tokenizer of a language."""

    model: Any
    log_mel: LogMel
    tokenizer: Callable[[str], Any]
    sample_rate: int
    beam_size: int

    def decode(
        self,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompt: str | None,
        frames: int,
    ) -> list[Heard]:
        """The decode of utterances with a window of ``frames``, each after ``prompt``, in
        shared decoder calls (a language of None: the one detected); segments None for each
        whose result looks failed."""
        import ctranslate2
        from faster_whisper.transcribe import get_ctranslate2_storage

        model = self.model
        durations = [len(audio) / self.sample_rate for audio in samples]
        encodings = [
            model.encode(get_ctranslate2_storage(self.log_mel.window(audio, frames)), to_cpu=True)
            for audio in samples  # one by one: see the module docstring
        ]
        stacked = np.concatenate([np.asarray(encoding) for encoding in encodings])
        encoded = ctranslate2.StorageView.from_array(stacked)
        if None in languages:  # the most likely language token, read from the same encoding
            detected = [found[0][0][2:-2] for found in model.detect_language(encoded)]
            languages = [given or detected[i] for i, given in enumerate(languages)]
        heard_in = [str(language) for language in languages]
        tokenizers = [self.tokenizer(language) for language in heard_in]
        starts = [decoder_start(tokenizer, prompt) for tokenizer in tokenizers]
        prompt_length = len(starts[0]) - len(tokenizers[0].sot_sequence)
        decodes: dict[int, tuple[list[int], Any, bool]] = {}
        pending = list(range(len(samples)))
        for allowance, rate in FIRST_BUDGET, FULL_BUDGET:
            budgets = [min(MAX_TOKENS, allowance + math.ceil(durations[i] * rate)) for i in pending]
            source = encoded
            if len(pending) < len(samples):  # the utterances whose text ran past the budget
                source = ctranslate2.StorageView.from_array(np.ascontiguousarray(stacked[pending]))
            results = model.generate(
                source,
                [starts[i] for i in pending],
                beam_size=self.beam_size,
                # CTranslate2's Whisper yields at most half of it, and at most what a prompt
                # leaves: exactly the budget (a longer decode is thrown away)
                max_length=max(2 * max(budgets), max(budgets) + prompt_length),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )
            for index, budget, result in zip(pending, budgets, results, strict=True):
                tokens: list[int] = result.sequences_ids[0][:budget]
                # Run out: the budget ended before the text reached the audio's end.
                cut = len(tokens) >= budget
                reached = reaches_end(tokenizers[index], tokens, durations[index])
                decodes[index] = (tokens, result, cut and not reached)
            pending = [  # the full budget for those run out, unless they only repeat a phrase
                index
                for index in pending
                if decodes[index][2]
                and opening_copy(tokenizers[index], decodes[index][0], durations[index]) is None
            ]
            if not pending:
                break
        heard: list[Heard] = []
        for index in range(len(samples)):
            tokens, result, ran_out = decodes[index]
            segments = checked_segments(
                tokenizers[index], tokens, result, durations[index], ran_out
            )
            heard.append((heard_in[index], segments))
        return heard
