"""``voicegate say "text" -o out.wav``: synthesise speech with Piper into a WAV file."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from voicegate.audio.wav import write_wav
from voicegate.catalog import DEFAULT_TTS_VOICE
from voicegate.errors import ModelNotAvailableError


def add_parser(subparsers: Any) -> None:
    """Register ``say``."""
    parser = subparsers.add_parser("say", help="synthesise speech into a WAV file")
    parser.add_argument("text", help="what to say")
    parser.add_argument("-o", "--output", required=True, help="WAV file to write")
    parser.add_argument("--voice", default=DEFAULT_TTS_VOICE, help="manifest id or .onnx")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write ``args.text`` as speech to ``args.output``; exit code 2 on bad input."""
    from voicegate.engines import create_tts

    if not args.text.strip():
        print("voicegate say: nothing to say (empty text)", file=sys.stderr)
        return 2
    try:
        tts = create_tts(args.voice)
    except (OSError, ModelNotAvailableError) as error:
        print(f"voicegate say: {error}", file=sys.stderr)
        return 2
    print(f"loading {args.voice} ...", end=" ", file=sys.stderr, flush=True)
    began = time.perf_counter()
    asyncio.run(tts.warm_up())
    print(f"{time.perf_counter() - began:.2f} s", file=sys.stderr)
    started = time.perf_counter()
    audio = asyncio.run(tts.synthesize(args.text))
    tts.close()
    try:
        write_wav(args.output, audio)
    except OSError as error:
        print(f"voicegate say: cannot write {args.output}: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(
        f"wrote {args.output}: {audio.duration:.2f} s of speech in {elapsed:.2f} s", file=sys.stderr
    )
    return 0
