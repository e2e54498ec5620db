"""The local backend's audio devices through ``sounddevice`` (PortAudio): found, checked and
opened as one mono int16 duplex stream, with errors that say how to fix what is missing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from voicegate.errors import RoomKitError

_FIX_DEVICES = (
    "choose others with --input-device/--output-device (see voicegate mic --list-devices)"
)


class AudioDeviceError(RoomKitError):
    """PortAudio, ``sounddevice`` or an audio device is missing; the message says how to fix it."""


AudioCallback = Callable[[Any, Any, int, Any, Any], None]
"""PortAudio's raw duplex callback: ``(indata, outdata, frames, time, status)``."""


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """What to open: mono int16 in and out at one rate, in fixed blocks."""

    sample_rate: int
    block_samples: int
    input_device: int | str | None
    output_device: int | str | None


class AudioStream(Protocol):
    """An open duplex stream (``sounddevice.RawStream`` or a test's stand-in)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


class StreamFactory(Protocol):
    """Checks devices and opens duplex streams on them."""

    def check(self, config: StreamConfig) -> None:
        """Raise :class:`AudioDeviceError` if ``config`` cannot be opened."""
        ...

    def open(self, config: StreamConfig, callback: AudioCallback) -> AudioStream:
        """A stream on ``config``'s devices that calls ``callback`` once per block."""
        ...


def import_sounddevice() -> Any:
    """The ``sounddevice`` module, or an :class:`AudioDeviceError` saying what to install."""
    try:
        import sounddevice
    except ImportError:
        raise AudioDeviceError(
            "sounddevice is not installed: pip install 'voicegate[local]'"
        ) from None
    except OSError:
        raise AudioDeviceError(
            "the PortAudio library is missing: install it "
            "(Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio)"
        ) from None
    return sounddevice


def list_devices() -> str:
    """PortAudio's devices, one a line (empty when there are none)."""
    return str(import_sounddevice().query_devices())


class SoundDeviceStreams:
    """The real :class:`StreamFactory`: ``sounddevice.RawStream``."""

    def check(self, config: StreamConfig) -> None:
        """Raise :class:`AudioDeviceError` unless both devices accept the settings."""
        sd = import_sounddevice()
        if len(sd.query_devices()) == 0:
            raise AudioDeviceError(
                "no audio device found: PortAudio sees no sound card "
                "(connect a microphone and a speaker, or check your audio system)"
            )
        for kind, device, checker in (
            ("microphone", config.input_device, sd.check_input_settings),
            ("speaker", config.output_device, sd.check_output_settings),
        ):
            try:
                checker(device=device, channels=1, dtype="int16", samplerate=config.sample_rate)
            except (sd.PortAudioError, ValueError) as error:
                which = "the default" if device is None else f"device {device!r} as"
                raise AudioDeviceError(
                    f"{which} {kind} cannot be used ({error}): {_FIX_DEVICES}"
                ) from None

    def open(self, config: StreamConfig, callback: AudioCallback) -> AudioStream:
        """Open a mono int16 duplex stream of ``config.block_samples`` blocks."""
        sd = import_sounddevice()
        try:
            stream: AudioStream = sd.RawStream(
                samplerate=config.sample_rate,
                blocksize=config.block_samples,
                device=(config.input_device, config.output_device),
                channels=1,
                dtype="int16",
                callback=callback,
            )
        except (sd.PortAudioError, ValueError) as error:
            raise AudioDeviceError(
                f"cannot open the audio devices ({error}): {_FIX_DEVICES}"
            ) from None
        return stream
