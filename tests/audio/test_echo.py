"""Server-side echo cancellation (WebRTC's AEC3 from livekit) on real speech: the echo of
what plays is removed, a headset caller passes untouched, a missing package is a clear
error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voicegate.audio import AudioFrame, resample
from voicegate.audio.echo import EchoCanceller, EchoCancellerUnavailableError
from voicegate.audio.echo_match import EchoMatcher
from voicegate.audio.echo_path import EchoPathDetector, level_db
from voicegate.voice.overlap import ECHO_SHARE

DATA = Path(__file__).parent / "data"
RATE = 16000
FRAME = RATE // 50  # 20 ms, as sessions send them
Samples = npt.NDArray[np.int16]


def _speech(utterances: list[AudioFrame]) -> Samples:
    """All the utterances at 16 kHz, one after the other (about 10 s)."""
    return np.concatenate([resample(u, RATE).samples[:, 0] for u in utterances])


def _capture(canceller: EchoCanceller, frame: Samples) -> Samples:
    """Clean one microphone frame as an inbound batch does: into the frame's own memory."""
    buffer = frame.copy()
    buffer[:] = canceller.process(buffer)
    return buffer


def _run(canceller: EchoCanceller, played: Samples, microphone: Samples) -> Samples:
    """Play ``played`` and capture ``microphone`` frame by frame, as a session does."""
    out = []
    for start in range(0, len(microphone) - FRAME + 1, FRAME):
        canceller.played(AudioFrame(played[start : start + FRAME], RATE))
        out.append(_capture(canceller, microphone[start : start + FRAME]))
    return np.concatenate(out)


def _rms_db(samples: Samples) -> float:
    return 10 * np.log10(np.mean(samples.astype(np.float64) ** 2) + 1e-9)


def test_the_echo_of_what_plays_is_cancelled(espeak_utterances: list[AudioFrame]) -> None:
    answer = _speech(espeak_utterances)
    delay = RATE * 60 // 1000  # a 60 ms echo path, 12 dB down
    echo = (np.concatenate([np.zeros(delay), answer[:-delay]]) * 10 ** (-12 / 20)).astype(np.int16)

    canceller = EchoCanceller()
    cleaned = _run(canceller, answer, echo)

    tail = slice(len(cleaned) // 2, len(cleaned))  # once the canceller has converged
    reduction = _rms_db(echo[tail]) - _rms_db(cleaned[tail])
    assert reduction >= 15, f"echo reduced by only {reduction:.1f} dB"
    assert canceller.echo_match.found
    assert canceller.line_echoes()


def test_a_caller_on_a_headset_is_not_suppressed(espeak_utterances: list[AudioFrame]) -> None:
    answer = _speech(espeak_utterances)
    # another voice (12% higher) speaks over the answer; no echo comes back
    caller = _speech([AudioFrame(u.samples, u.sample_rate * 112 // 100) for u in espeak_utterances])
    canceller = EchoCanceller()

    cleaned = _run(canceller, answer, caller)

    assert not canceller.echo_path.heard
    assert not canceller.echo_match.found
    assert not canceller.line_echoes()
    # untouched from the first judgement that its sound is no echo on (0.8 s: 0.25 s heard
    # and the longest echo delay played), not once AEC3 has found there is no echo
    # (seconds): early in an answer too
    judged = slice(RATE, len(cleaned))
    assert np.array_equal(cleaned[judged], caller[: len(cleaned)][judged])


def test_a_silent_caller_who_speaks_over_the_answer_passes_from_the_first_sample(
    espeak_utterances: list[AudioFrame],
) -> None:
    """A headset caller silent for the answer's first 1.5 s, then speaking over it: no echo
    came while the answer played, so their voice passes untouched from its start (under the
    canceller's output until the first judgement, its first 0.1 s was cut to silence)."""
    answer = _speech(espeak_utterances)
    caller = _speech([AudioFrame(u.samples, u.sample_rate * 112 // 100) for u in espeak_utterances])
    start = RATE * 3 // 2
    microphone = np.concatenate([np.zeros(start, np.int16), caller])[: len(answer)]

    cleaned = _run(EchoCanceller(), answer, microphone)

    assert np.array_equal(cleaned[start:], microphone[start : len(cleaned)])


def test_the_echo_path_detector_hears_an_echo_and_its_absence() -> None:
    rng = np.random.default_rng(1)
    levels = list(rng.uniform(-40, -10, 400))  # a played level envelope
    echoing, deaf = EchoPathDetector(), EchoPathDetector()
    for index, db in enumerate(levels):
        for detector in (echoing, deaf):
            detector.played(db)
        echoing.picked_up(levels[index - 5] - 12 if index >= 5 else -100.0)  # 50 ms later
        deaf.picked_up(float(rng.uniform(-40, -10)))
    assert echoing.heard
    assert not deaf.heard
    assert level_db(np.zeros(160, np.int16)) == -100.0


def test_an_echo_counted_early_by_a_backlog_of_microphone_blocks_is_still_heard() -> None:
    """A server that fell behind counts played audio at the microphone block it is at,
    some 700 ms before the block that carries its echo: that echo is still heard."""
    rng = np.random.default_rng(2)
    levels = list(rng.uniform(-40, -10, 600))
    detector = EchoPathDetector()
    heard_at = None
    for index, db in enumerate(levels):
        detector.played(db)
        detector.picked_up(levels[index - 70] - 12 if index >= 70 else -100.0)
        if heard_at is None and detector.heard:
            heard_at = index
        assert heard_at is None or detector.heard, f"judged without echo at block {index}"
    assert heard_at is not None


def test_without_livekit_the_canceller_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "livekit", None)
    with pytest.raises(EchoCancellerUnavailableError, match="pip install"):
        EchoCanceller()


def _judged(canceller: EchoCanceller, played: Samples, microphone: Samples) -> list[bool]:
    """:meth:`EchoCanceller.is_echo` at every loud frame (over -50 dBFS, as a listener
    asks while speech goes on) from 1 s on, as a session plays ``played`` and captures
    ``microphone``."""
    judged = []
    for index, start in enumerate(range(0, len(microphone) - FRAME + 1, FRAME)):
        canceller.played(AudioFrame(played[start : start + FRAME], RATE))
        _capture(canceller, microphone[start : start + FRAME])
        if index >= 50 and _rms_db(microphone[start : start + FRAME]) > 10 * np.log10(
            (32768 * 10 ** (-50 / 20)) ** 2
        ):
            judged.append(canceller.is_echo())
    return judged


def test_the_answers_echo_is_told_from_a_caller_talking_over_it(
    espeak_utterances: list[AudioFrame],
) -> None:
    answer = _speech(espeak_utterances)
    caller = answer[::-1]  # speech of its own (the same sentences would be the same waveform)
    delay = RATE * 80 // 1000
    echo = np.concatenate([np.zeros(delay), answer[:-delay]]) * 10 ** (-12 / 20)
    # the echo path a server sees moves: 400 ms later from the middle on
    jump = RATE * 400 // 1000
    middle = len(answer) // 2
    moved = np.concatenate([echo[:middle], np.zeros(jump), echo[middle : len(echo) - jump]])

    for microphone in (echo, moved):
        judged = _judged(EchoCanceller(), answer, microphone.astype(np.int16))
        assert all(judged)
    over = (moved + caller).clip(-32768, 32767).astype(np.int16)
    assert not any(_judged(EchoCanceller(), answer, caller))
    # over the echo, only the caller's pauses, where the echo is all there is, are echo
    judged = _judged(EchoCanceller(), answer, over)
    assert sum(judged) < len(judged) * ECHO_SHARE


def test_the_answers_own_voice_starting_a_word_is_not_its_echo() -> None:
    """The onset of the same Piper voice's "Wait" after silence, 3.1 s into its answer,
    matched a stretch of that answer at 0.8 (as in a browser test's interrupted call, whose
    caller's words the canceller then suppressed): one match is not the echo, a second one
    0.1 s later at the same echo delay is."""
    recorded = np.load(DATA / "same_voice_onset.npz")
    played, microphone = recorded["played"], recorded["microphone"]
    matcher = EchoMatcher()
    verdicts = []
    for start in range(0, len(played) - FRAME + 1, FRAME):
        matcher.played(played[start : start + FRAME])
        matcher.picked_up(microphone[start : start + FRAME])
        verdicts.append(matcher.verdict)
    assert True not in verdicts
    assert not matcher.found
    # the caller's word, once judged, is not the echo
    assert verdicts[-1] is False


def test_an_echo_is_found_anywhere_in_the_last_3_s_played_and_no_further() -> None:
    """The matcher correlates over exactly the 3 s searched: an echo delayed near its
    oldest end is found, one delayed past it is not, however the played audio comes in."""
    rng = np.random.default_rng(7)
    played = (rng.standard_normal(RATE * 8) * 3000).astype(np.int16)
    chunk = RATE // 5  # 200 ms pieces: what the matcher keeps runs past 3 s by up to one
    for delay_s, found in ((0.05, True), (2.6, True), (3.4, False)):
        delay = round(delay_s * RATE)
        microphone = np.concatenate([np.zeros(delay, np.int16), played[:-delay] // 4])
        matcher = EchoMatcher()
        for start in range(0, len(played), chunk):
            matcher.played(played[start : start + chunk])
            for block in range(start, start + chunk, FRAME):
                matcher.picked_up(microphone[block : block + FRAME])
        assert matcher.found is found, delay_s
