"""What a listener asks of its session's echo canceller, and a sound the canceller cut at an
answer's start, judged again once it can be.

On a line not known to echo, the canceller's output is used at an answer's start until
the :class:`~voicegate.audio.echo_match.EchoMatcher` can tell a sound from the echo (0.75 s
into the answer). AEC3 cuts a caller's word meanwhile, often to silence: a "wait" said
as the answer starts opened no utterance. Once the matcher judges the microphone's sound
not to be the echo, :meth:`~voicegate.audio.echo.EchoCanceller.cut_sound` gives back the
raw audio from the start of the sound it cut; :meth:`CancellerView.cut_speech` splits it
into the listener's frames and judges each again with a fresh stream of the session's VAD,
and the listener hears them in place of what it heard then.
"""

from __future__ import annotations

from voicegate.audio.echo import EchoCanceller
from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import VADProvider


class CancellerView:
    """The session's echo ``canceller`` as its listener sees it, with the session's ``vad``
    (without a canceller: no echo, no raw audio, no cut sound)."""

    def __init__(
        self, canceller: EchoCanceller | None = None, vad: VADProvider | None = None
    ) -> None:
        if (canceller is None) is not (vad is None):
            raise ValueError("a canceller's view needs both the canceller and the session's VAD")
        self._canceller = canceller
        self._vad = vad

    def is_echo(self) -> bool:
        """Whether the caller's last sound is the answer's echo
        (:meth:`~voicegate.audio.echo.EchoCanceller.is_echo`)."""
        return self._canceller is not None and self._canceller.is_echo()

    def line_echoes(self) -> bool:
        """Whether the caller's line is known to echo
        (:meth:`~voicegate.audio.echo.EchoCanceller.line_echoes`)."""
        return self._canceller is not None and self._canceller.line_echoes()

    def raw_since(self, start: float, not_before: float | None = None) -> AudioFrame | None:
        """The caller's raw audio from ``start`` (never from before ``not_before``) to now,
        where the canceller cut some of it and passes the raw sound now
        (:meth:`~voicegate.audio.echo.EchoCanceller.raw_since`)."""
        if self._canceller is None:
            return None
        return self._canceller.raw_since(start, not_before)

    def cut_speech(self, frame_samples: int) -> list[tuple[AudioFrame, bool]]:
        """The frames (``frame_samples`` each, the last ending now) of the sound the
        canceller gives back now, each with whether it is speech; none if it gives none."""
        if self._canceller is None or self._vad is None:
            return []
        raw = self._canceller.cut_sound()
        if raw is None or raw.num_samples < frame_samples:
            return []
        skip = raw.num_samples % frame_samples  # the frames end where the last one heard did
        stream = self._vad.new_stream()
        frames = []
        for offset in range(skip, raw.num_samples, frame_samples):
            frame = AudioFrame(
                raw.samples[offset : offset + frame_samples],
                raw.sample_rate,
                raw.timestamp + offset / raw.sample_rate,
            )
            frames.append((frame, stream.is_speech(frame)))
        return frames
