"""The listener on its own, fed speech decisions directly (no VAD, no mixer)."""

from __future__ import annotations

import asyncio

import pytest

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.testing import ScriptedSTT, silence, speech
from voicegate.testing.fakes import ScriptedEndOfTurn
from voicegate.voice.canceller_view import CancellerView
from voicegate.voice.interruption import ACKNOWLEDGEMENT_PROMPT
from voicegate.voice.listener import Listener
from voicegate.voice.notices import BargeIn, Floor, SpeechEnded, SpeechStarted
from voicegate.voice.session import EndOfTurn, InterruptionStrategy, VoiceSettings
from voicegate.voice.utterance_events import (
    ListenerEvent,
    PartialHeard,
    UtteranceHeard,
    UtteranceIgnored,
)

FRAME_S = FRAME_MS / 1000


class Ears:
    """A listener and what it reported."""

    def __init__(
        self,
        script: list[str],
        settings: VoiceSettings,
        turn_model: EndOfTurnModel | None = None,
        answer: str = "",
    ) -> None:
        self.floor = Floor.LISTENING
        self.interruptions: list[BargeIn] = []
        self.told: list[SpeechStarted] = []
        self.stt = ScriptedSTT(script)
        self.listener = Listener(
            self.stt,
            settings,
            floor=lambda: self.floor,
            answer_text=lambda: answer,
            on_speech_start=self.told.append,
            on_interrupt=self.interruptions.append,
            turn_model=turn_model,
        )
        self.clock = 0.0

    @property
    def barge_ins(self) -> int:
        return len(self.interruptions)

    def hear(self, ms: int, is_speech: bool, dbfs: float | None = None) -> None:
        """``ms`` of frames with the given speech decision (and level, if not the
        speech's or the silence's own)."""
        level = (-20.0 if is_speech else -90.0) if dbfs is None else dbfs
        audio = speech(ms) if is_speech and level > -60 else silence(ms)
        size = round(FRAME_S * audio.sample_rate)
        for start in range(0, audio.num_samples, size):
            frame = audio.samples[start : start + size, 0]
            chunk = type(audio)(frame, audio.sample_rate, self.clock)
            self.listener.on_frame(chunk, is_speech, level)
            self.clock += FRAME_S

    async def heard(self) -> UtteranceHeard:
        async for event in self.listener.events():
            if isinstance(event, UtteranceHeard):
                return event
        raise AssertionError("the events ended")

    async def outcome(self) -> UtteranceHeard | UtteranceIgnored:
        """The next utterance's outcome: a turn, or no turn."""
        async for event in self.listener.events():
            if isinstance(event, UtteranceHeard | UtteranceIgnored):
                return event
        raise AssertionError("the events ended")

    async def events(self, count: int) -> list[ListenerEvent]:
        got: list[ListenerEvent] = []
        async for event in self.listener.events():
            got.append(event)
            if len(got) == count:
                return got
        raise AssertionError("the events ended")


async def test_an_utterance_gives_start_partials_end_and_its_transcript_in_order() -> None:
    settings = VoiceSettings(end_of_turn=EndOfTurn.FIXED, partial_interval_ms=200)
    ears = Ears(["open the door"], settings)
    ears.hear(500, is_speech=True)
    await asyncio.sleep(0)  # the partials are relayed while the utterance goes on
    ears.hear(400, is_speech=False)
    events = await asyncio.wait_for(ears.events(5), 5)
    assert [type(e).__name__ for e in events] == [
        "SpeechStarted",
        "PartialHeard",
        "PartialHeard",
        "SpeechEnded",  # before the pass at the pause could report: the loop never ran
        "UtteranceHeard",
    ]
    started, first, second, ended, heard = events
    assert isinstance(started, SpeechStarted)
    assert started.at == 0.0
    assert isinstance(first, PartialHeard)
    assert first.transcript.text == "open"
    assert isinstance(second, PartialHeard)
    assert second.transcript.text == "open the"
    assert isinstance(ended, SpeechEnded)
    assert abs(ended.at - 0.5) < 1e-6
    assert isinstance(heard, UtteranceHeard)
    assert heard.transcript.text == "open the door"
    assert heard.timings.transcribed is not None
    ears.listener.close()


async def test_barge_in_only_while_an_answer_plays_and_once_per_utterance() -> None:
    settings = VoiceSettings(
        end_of_turn=EndOfTurn.FIXED,
        interruption_speaking=InterruptionStrategy.CONFIRMED,
        barge_in_ms=100,
    )
    ears = Ears(["one", "two", "three"], settings)
    ears.hear(300, is_speech=True)
    ears.hear(400, is_speech=False)
    assert ears.barge_ins == 0  # nothing was playing

    ears.floor = Floor.SPEAKING
    ears.hear(80, is_speech=True)
    assert ears.barge_ins == 0  # not long enough yet
    ears.hear(300, is_speech=True)
    assert ears.barge_ins == 1
    ears.hear(400, is_speech=False)
    ears.hear(300, is_speech=True)
    assert ears.barge_ins == 2  # a new utterance may interrupt again
    ears.listener.close()


async def test_the_vads_tail_after_the_last_loud_frame_counts_as_the_pause() -> None:
    model = ScriptedEndOfTurn(otherwise=0.9)
    settings = VoiceSettings(end_of_turn=EndOfTurn.SEMANTIC, turn_check_ms=100)
    ears = Ears(["book a table"], settings, turn_model=model)
    ears.hear(600, is_speech=True)
    ears.hear(120, is_speech=True, dbfs=-70.0)  # WebRTC VAD still says speech: 50 dB down
    await asyncio.sleep(0)
    assert model.asked == 1  # asked 100 ms after the last loud frame, inside the tail
    ears.hear(settings.min_silence_ms - 120, is_speech=False)  # the VAD agrees: the turn
    # may end once the pause is longer than a stop consonant's closure
    events = await asyncio.wait_for(ears.events(4), 5)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    assert abs(ended[0].at - 0.6) < 1e-6  # the turn ended at the last loud frame
    ears.listener.close()


async def test_a_quiet_sound_the_vad_calls_speech_is_heard_and_is_no_pause() -> None:
    """The murmur of a final "d" ("dialed"), 35 dB under the loudest frame: the recogniser
    hears it, and the pause (the model's question) starts after it."""
    model = ScriptedEndOfTurn(otherwise=0.9)
    settings = VoiceSettings(end_of_turn=EndOfTurn.SEMANTIC, turn_check_ms=100)
    ears = Ears(["your call cannot be completed as dialed"], settings, turn_model=model)
    ears.hear(600, is_speech=True)
    ears.hear(120, is_speech=True, dbfs=-55.0)  # 35 dB down, within Endpointer.sound_db
    await asyncio.sleep(0)
    assert model.asked == 0
    ears.hear(100, is_speech=True, dbfs=-90.0)  # the VAD's tail: the pause began after the "d"
    await asyncio.sleep(0)
    assert model.asked == 1
    ears.hear(settings.min_silence_ms - 100, is_speech=False)
    heard = await asyncio.wait_for(ears.heard(), 5)
    assert heard.transcript.audio_duration >= 0.72  # the "d" reached the recogniser
    ears.listener.close()


async def test_speech_over_an_answer_is_prompted_as_an_acknowledgement_until_it_interrupts() -> (
    None
):
    """Under ``semantic``, the recogniser hears speech over an answer with the
    acknowledgement prompt (Whisper spells a hum then); once the speech interrupts, it is
    a turn and is recognised without it. Speech with the floor, or under another
    strategy, never has it."""
    settings = VoiceSettings(
        end_of_turn=EndOfTurn.FIXED,
        partial_interval_ms=100,
        interruption_speaking=InterruptionStrategy.SEMANTIC,
        interruption_thinking=InterruptionStrategy.CONFIRMED,
    )
    story = "Once upon a time there was a lighthouse keeper."
    ears = Ears(
        ["mm-hmm", "wait stop that is not what I meant", "open the door", "go"], settings, story
    )
    ears.floor = Floor.SPEAKING
    ears.hear(300, is_speech=True)
    ears.hear(400, is_speech=False)
    acknowledged = await asyncio.wait_for(ears.outcome(), 5)
    assert isinstance(acknowledged, UtteranceIgnored)
    assert acknowledged.reason == "acknowledgement"
    assert ears.stt.prompts == [ACKNOWLEDGEMENT_PROMPT]

    for _ in range(8):  # the partials reach the listener as the speech goes on
        ears.hear(100, is_speech=True)
        await asyncio.sleep(0.01)
    assert ears.barge_ins == 1
    ears.hear(400, is_speech=False)
    interrupted = await asyncio.wait_for(ears.outcome(), 5)
    assert isinstance(interrupted, UtteranceHeard)
    assert ears.stt.prompts[-1] is None  # a turn now: the caller's words, unprompted

    ears.floor = Floor.LISTENING
    ears.hear(300, is_speech=True)
    ears.hear(400, is_speech=False)
    assert isinstance(await asyncio.wait_for(ears.outcome(), 5), UtteranceHeard)
    ears.floor = Floor.THINKING  # an answer is being prepared, under ``confirmed``
    ears.hear(300, is_speech=True)
    ears.hear(400, is_speech=False)
    assert isinstance(await asyncio.wait_for(ears.outcome(), 5), UtteranceHeard)
    assert ears.stt.prompts[2:] == [None, None]
    ears.listener.close()


class _EchoingLine(CancellerView):
    """A line the canceller knows to echo (a speakerphone)."""

    def line_echoes(self) -> bool:
        return True


async def test_on_a_line_that_echoes_speech_over_an_answer_is_not_prompted() -> None:
    """There it is likely the answer's echo, which the echo guard knows by its words."""
    settings = VoiceSettings(
        end_of_turn=EndOfTurn.FIXED, interruption_speaking=InterruptionStrategy.SEMANTIC
    )
    ears = Ears(["mm-hmm"], settings, "Once upon a time there was a lighthouse keeper.")
    ears.listener.canceller = _EchoingLine()
    ears.floor = Floor.SPEAKING
    ears.hear(300, is_speech=True)
    ears.hear(400, is_speech=False)
    await asyncio.wait_for(ears.outcome(), 5)
    assert ears.stt.prompts == [None]
    ears.listener.close()


async def _ended_at(ears: Ears) -> list[float]:
    """Where the utterances ended, up to the first one that was a turn."""
    ended: list[float] = []
    async for event in ears.listener.events():
        if isinstance(event, SpeechEnded):
            ended.append(event.at)
        if isinstance(event, UtteranceHeard):
            return ended
    raise AssertionError("the events ended")


async def test_an_end_of_turn_is_not_taken_when_speech_already_here_follows_the_pause() -> None:
    """Audio held up on its way comes all at once: the end of turn decided on a frame of
    the pause is taken only once the frames that came with it are heard, and they show the
    caller went on. Frames that come one by one end the turn at the same pause."""
    settings = VoiceSettings(end_of_turn=EndOfTurn.SEMANTIC, turn_check_ms=100)
    pause_ms = settings.min_silence_ms + 40
    for held_up in (False, True):
        model = ScriptedEndOfTurn(otherwise=0.95)
        ears = Ears(["no", "no i would like a window seat"], settings, model)
        ears.hear(400, is_speech=True)
        ears.hear(100, is_speech=False)
        await asyncio.sleep(0.01)  # the model and the words answered: complete
        if held_up:  # the rest of the pause and the next words, in one go
            ears.hear(pause_ms - 100, is_speech=False)
            ears.hear(400, is_speech=True)
        else:
            for _ in range((pause_ms - 100) // FRAME_MS):
                ears.hear(FRAME_MS, is_speech=False)
                await asyncio.sleep(0)  # a frame as it comes, in real time
            ears.hear(400, is_speech=True)
        ears.hear(pause_ms, is_speech=False)
        ended = await asyncio.wait_for(_ended_at(ears), 5)
        end_s = 0.8 + pause_ms / 1000 if held_up else 0.4  # the caller's last words, or "no"
        assert ended == [pytest.approx(end_s)], held_up
        ears.listener.close()


class _StaleCut(CancellerView):
    """A canceller that cut the start of a sound at ``since`` and, once that is set, gives the
    raw audio from there to now (``ears``' clock), whatever ``start`` is asked for, but not
    from before the ``not_before`` asked for (as :meth:`RawCapture.since` does); ``floors``
    lists those asked for."""

    def __init__(self, ears: Ears) -> None:
        super().__init__()
        self.ears = ears
        self.since: float | None = None
        self.floors: list[float | None] = []

    def raw_since(self, start: float, not_before: float | None = None) -> AudioFrame | None:
        if self.since is None:
            return None
        self.floors.append(not_before)
        first = self.since if not_before is None else max(self.since, not_before)
        now = self.ears.clock + FRAME_S  # the frame being taken ends then
        return AudioFrame(speech(round((now - first) * 1000)).samples, 16000, first)


async def test_the_raw_audio_of_an_utterance_never_reaches_back_into_the_last_one() -> None:
    """The canceller gives the raw audio from the start of the sound it cut, which may have
    been the last utterance's (a turn heard already): Whisper heard "please" as "I would like
    a window seat, please.", that turn again. The raw audio starts where the last ended."""
    script = ["i would like a window seat", "please", "please"]  # "please" again: raw
    ears = Ears(script, VoiceSettings(end_of_turn=EndOfTurn.FIXED))
    view = _StaleCut(ears)
    ears.listener.canceller = view
    ears.hear(1000, is_speech=True)
    ears.hear(400, is_speech=False)
    await asyncio.wait_for(ears.heard(), 5)
    view.since = 0.2  # cut in the first utterance, judged only now
    ears.hear(300, is_speech=True)  # "please", 1.4-1.7 s
    ears.hear(400, is_speech=False)
    await asyncio.wait_for(ears.heard(), 5)
    assert view.floors == [pytest.approx(1.0)]  # asked from the first one's end on
    given = ears.stt.audio_seconds[-1]
    assert given == pytest.approx(1.7 - 1.0, abs=0.05), given
    ears.listener.close()
