"""The turn-taking evaluation's scenarios: one conversation each, over the voice WebSocket.

A :class:`Mode` is what the caller's ``hello`` chooses (end of turn, interruption
strategy, echo cancellation, VAD) and how it sounds (the answer's echo, background
noise). Each scenario returns an :class:`Outcome` with its figures:

- :func:`complete_turn`: ``end_of_turn_ms`` from the caller's last loud sample to the
  final transcript, ``first_audio_ms`` to the first answer audio, ``wer``;
- :func:`hesitation`: ``cut`` when the pause ended the turn (two turns, not one), for an
  unfinished sentence and for a whole one followed by more (``kind`` ``clause``);
- :func:`acknowledgement`: ``barge_in`` when the acknowledgement interrupted the answer,
  ``turn`` when it became a turn, ``heard`` when the server heard it at all;
- :func:`echo`: ``barge_in`` and ``echo_turns`` while only the answer's echo came back
  (in a mode with ``stall_s``, the caller's frames held back that long 1.5 s into the
  answer and then sent at once, as a server that falls behind reads them);
- :func:`interruption`: ``stopped`` and ``reaction_ms`` from its first loud sample to
  ``barge_in``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from voicegate.audio.frame import to_int16
from voicegate.bench.conversation import ConversationCaller, Message, Spoken
from voicegate.bench.turn_items import Hesitation, Utterance
from voicegate.bench.voices import Samples, active_rms, noise
from voicegate.stt.wer import word_error_rate

SPEECH_RMS = 2300.0
"""Every caller utterance is scaled to this active level (about -23 dBFS)."""
ANSWER_WAIT_S = 45.0
HEARD_WAIT_S = 10.0
"""How long an acknowledgement's ``speech_start`` is waited for."""
STALL_AFTER_S = 1.5
"""When, into the answer, the caller's frames are held back (in a mode with ``stall_s``)."""
END_BEFORE_LAST_LOUD_S = 0.3
"""How far before an utterance's last loud sample the server's ``speech_end`` may put its
end: the VAD misses a soft ending (a real "PBX" said over an answer, with the fixed timer,
ended 240 ms before its last loud sample: its /ks/ was not speech to webrtcvad). A turn that
ends inside the second part and goes on is at least 160 ms of silence (``min_silence_ms``;
300 with the fixed timer) and 60 ms of speech (``speech_start_ms``) before that sample, and
the end at the pause 400 ms and the second part's length."""


@dataclass(frozen=True, slots=True)
class Mode:
    """Session settings the caller's ``hello`` chooses, and how its line sounds."""

    label: str
    settings: Mapping[str, object] = field(default_factory=dict)
    echo_db: float | None = None
    stall_s: float = 0.0
    """How long the caller's frames are held back, :data:`STALL_AFTER_S` into the answer."""
    noise: str | None = None
    snr_db: float = 15.0

    def caller(self, url: str, seed: int = 0) -> ConversationCaller:
        """A caller in this mode."""
        background = None
        if self.noise is not None:
            rms = SPEECH_RMS / 10 ** (self.snr_db / 20)
            background = noise(self.noise, 30.0, rms, seed)
        return ConversationCaller(url, self.settings, echo_db=self.echo_db, noise=background)


@dataclass(slots=True)
class Outcome:
    """One conversation's figures (``None``: not reached)."""

    scenario: str
    mode: str
    voice: str
    text: str
    figures: dict[str, float | bool | None] = field(default_factory=dict)
    error: str | None = None


def leveled(samples: Samples) -> Samples:
    """``samples`` scaled to :data:`SPEECH_RMS` over their loud frames."""
    gain = SPEECH_RMS / max(active_rms(samples), 1.0)
    return to_int16(samples * gain)


def _of(messages: list[Message], kind: str, after: float = 0.0) -> list[Message]:
    return [(t, m) for t, m in messages if m["type"] == kind and t >= after]


async def complete_turn(url: str, mode: Mode, item: Utterance) -> Outcome:
    """Say ``item`` and time the end of the turn and the answer."""
    outcome = Outcome("complete", mode.label, item.voice, item.text)
    async with mode.caller(url) as caller:
        await caller.pause(0.5)
        spoken = await caller.say(leveled(item.samples))
        audio_at = await _answer_audio(caller, spoken)
        messages = caller.since(spoken.first_loud)
    finals = _of(messages, "final_transcript")
    if not finals or audio_at is None:
        outcome.error = "no final transcript" if not finals else "no answer audio"
        return outcome
    final_at = finals[0][0]
    outcome.figures = {
        "end_of_turn_ms": round((final_at - spoken.last_loud) * 1000, 1),
        "first_audio_ms": round((audio_at - spoken.last_loud) * 1000, 1),
        "turns": len(finals),
        # the turn ended before the caller's last sound: a cut, though the rest of the
        # sentence may make its own turn only after the caller has hung up
        "early": final_at < spoken.last_loud,
        "wer": word_error_rate([(item.text, " ".join(m["text"] for _, m in finals))]),
    }
    return outcome


async def hesitation(
    url: str, mode: Mode, item: Hesitation, pause_ms: int, kind: str = "hesitation"
) -> Outcome:
    """Say ``item`` with a ``pause_ms`` pause inside; ``cut`` if that made two turns."""
    outcome = Outcome(f"{kind} {pause_ms} ms", mode.label, item.voice, item.text)
    async with mode.caller(url) as caller:
        await caller.pause(0.5)
        first = await caller.say(leveled(item.before))
        await caller.pause(pause_ms / 1000)
        second = await caller.say(leveled(item.after))
        # the server may lag: wait for the end of the utterance that holds the second part
        # (on the stream's clock), so that an end at the pause has surely arrived before it
        ended = await caller.wait_for(
            lambda ms: ends_second_part(_of(ms, "speech_end", first.first_loud), second),
            ANSWER_WAIT_S,
        )
        messages = caller.since(first.first_loud)
    ends = _of(messages, "speech_end")
    if not ended:
        outcome.error = "no end of turn"
        return outcome
    outcome.figures = {"cut": len(ends) > 1, "turns": len(ends)}
    return outcome


def ends_second_part(ends: list[Message], second: Spoken) -> bool:
    """Whether one of the ``speech_end`` messages ``ends`` closes the utterance holding the
    end of ``second`` (within :data:`END_BEFORE_LAST_LOUD_S` of its last loud sample)."""
    return any(m["at"] >= second.last_loud_at - END_BEFORE_LAST_LOUD_S for _, m in ends)


async def _answer_audio(caller: ConversationCaller, spoken: Spoken) -> float | None:
    """When the first audio of the answer to ``spoken`` arrived (``None``: not within
    :data:`ANSWER_WAIT_S`)."""
    if not await caller.wait_for(
        lambda ms: bool(_of(ms, "audio", _first(ms, "tts_start", spoken.first_loud))),
        ANSWER_WAIT_S,
    ):
        return None
    start = _first(caller.messages, "tts_start", spoken.first_loud)
    return _of(caller.messages, "audio", start)[0][0]


async def _answer_playing(caller: ConversationCaller, request: Samples) -> float | None:
    """Ask for the story; when its first audio arrived (``None``: it did not)."""
    return await _answer_audio(caller, await caller.say(leveled(request)))


async def _over_answer(
    caller: ConversationCaller, request: Samples, item: Utterance, into_s: float
) -> Spoken | None:
    """Ask for the story and say ``item`` ``into_s`` into its audio (``None``: no answer)."""
    if await _answer_playing(caller, request) is None:
        return None
    await caller.pause(into_s)
    return await caller.say(leveled(item.samples))


async def acknowledgement(url: str, mode: Mode, item: Utterance, request: Samples) -> Outcome:
    """Acknowledge the answer 1 s into it; did that interrupt it, or make a turn?"""
    outcome = Outcome("acknowledgement", mode.label, item.voice, item.text)
    async with mode.caller(url) as caller:
        spoken = await _over_answer(caller, request, item, 1.0)
        if spoken is None:
            outcome.error = "no answer"
            return outcome
        # heard at all? (a loaded server tells it late: wait for it, not a fixed time)
        heard = await caller.wait_for(
            lambda ms: bool(_of(ms, "speech_start", spoken.first_loud)), HEARD_WAIT_S
        )
        if heard:  # wait for its fate
            await caller.wait_for(
                lambda ms: bool(
                    _of(ms, "final_transcript", spoken.first_loud)
                    or _of(ms, "speech_ignored", spoken.first_loud)
                ),
                ANSWER_WAIT_S,
            )
        messages = caller.since(spoken.first_loud)
    outcome.figures = {
        "barge_in": bool(_of(messages, "barge_in")),
        "turn": any(m["event_id"] is not None for _, m in _of(messages, "final_transcript")),
        "heard": heard,
    }
    return outcome


async def echo(url: str, mode: Mode, request: Samples, listen_s: float = 6.0) -> Outcome:
    """Stay quiet while the answer (and, in ``mode``, its echo) plays for ``listen_s``."""
    outcome = Outcome("echo", mode.label, "piper", "(the answer's own echo)")
    async with mode.caller(url) as caller:
        started = await _answer_playing(caller, request)
        if started is None:
            outcome.error = "no answer"
            return outcome
        if mode.stall_s:
            await caller.pause(STALL_AFTER_S)
            caller.stall_uplink(mode.stall_s)
            await caller.pause(listen_s - STALL_AFTER_S)
        else:
            await caller.pause(listen_s)
        messages = caller.since(started)
    finals = _of(messages, "final_transcript")
    outcome.figures = {
        "barge_in": bool(_of(messages, "barge_in")),
        "echo_turns": sum(m["event_id"] is not None for _, m in finals),
    }
    return outcome


async def interruption(
    url: str,
    mode: Mode,
    item: Utterance,
    request: Samples,
    into_s: float = 1.5,
    within_s: float = 3.0,
) -> Outcome:
    """Interrupt the answer ``into_s`` into it; did it stop within ``within_s``, and how
    soon?"""
    outcome = Outcome("interruption", mode.label, item.voice, item.text)
    async with mode.caller(url) as caller:
        spoken = await _over_answer(caller, request, item, into_s)
        if spoken is None:
            outcome.error = "no answer"
            return outcome
        await caller.wait_for(lambda ms: bool(_of(ms, "barge_in", spoken.first_loud)), within_s)
        messages = caller.since(spoken.first_loud - 0.5)
    barge_ins = _of(messages, "barge_in", spoken.first_loud)
    outcome.figures = {
        "stopped": bool(barge_ins),
        "reaction_ms": (
            round((barge_ins[0][0] - spoken.first_loud) * 1000, 1) if barge_ins else None
        ),
    }
    return outcome


def _first(messages: list[Message], kind: str, after: float) -> float:
    """When the first ``kind`` message after ``after`` came (infinity: none yet)."""
    return next((t for t, m in messages if m["type"] == kind and t >= after), float("inf"))
