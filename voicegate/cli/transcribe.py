"""``voicegate transcribe FILE``: print what Whisper hears in an audio file."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from voicegate.audio.decode import decode_audio
from voicegate.catalog import DEFAULT_STT_MODEL
from voicegate.errors import ModelNotAvailableError


def add_parser(subparsers: Any) -> None:
    """Register ``transcribe``."""
    parser = subparsers.add_parser("transcribe", help="transcribe an audio file")
    parser.add_argument(
        "file", help="any audio file FFmpeg reads (WAV, G.722, MP3, Ogg/Opus...), any rate"
    )
    parser.add_argument("--model", default=DEFAULT_STT_MODEL, help="manifest id or CTranslate2 dir")
    parser.add_argument(
        "--language", default=None, help="the language spoken (fr, de...); default: detected"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Transcribe ``args.file``; exit code 2 on a bad file or a missing model."""
    from voicegate.engines import create_stt
    from voicegate.stt.base import UnsupportedLanguageError

    try:
        audio = decode_audio(args.file)
        stt = create_stt(args.model)
        if args.language is not None and not stt.supports_language(args.language):
            raise UnsupportedLanguageError(f"{args.model} does not know language {args.language!r}")
    except (OSError, ValueError, ModelNotAvailableError, UnsupportedLanguageError) as error:
        print(f"voicegate transcribe: {error}", file=sys.stderr)
        return 2
    print(f"loading {args.model} ...", end=" ", file=sys.stderr, flush=True)
    began = time.perf_counter()
    asyncio.run(stt.warm_up())
    print(f"{time.perf_counter() - began:.2f} s", file=sys.stderr)
    started = time.perf_counter()
    transcript = asyncio.run(stt.transcribe(audio, args.language))
    elapsed = time.perf_counter() - started
    print(
        f"{audio.duration:.2f} s of audio transcribed in {elapsed:.2f} s ({transcript.language})",
        file=sys.stderr,
    )
    stt.close()
    print(transcript.text)
    return 0
