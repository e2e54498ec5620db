"""``voicegate bench``: N concurrent callers per transport, T spoken turns each, against a gateway.

For every N and transport, N callers connect at once (starts staggered by ``stagger``
seconds) and each speaks ``turns`` sentences in real time, waiting for the whole
answer (``tts_end`` and ``turn_metrics``) before the next one. See :mod:`.turns` for what
is measured per turn and :mod:`.report` for the output.

The callers share the machine with the gateway they measure. A browser caller is a whole
headless Chromium, about :data:`CHROMIUM_CORES` of a core for its call; the browser row
runs at most ``browsers`` of them (:func:`default_browsers`), and skips the larger N.
On the 2-core VM, 8 of them took the cores from the server: 18 of 24 turns failed, pages
did not connect, and the transcripts that came back lost their first words.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from voicegate.bench.caller import Caller
from voicegate.bench.callers import TRANSPORTS, make_caller
from voicegate.bench.phone_callers import QUIET_S
from voicegate.bench.report import format_table, plot, write_json
from voicegate.bench.server import SERVE_ARGS, GatewayAddress, GatewayProcess, wait_accepting
from voicegate.bench.speech import SpeechClip, piper_clips
from voicegate.bench.turns import TurnResult

logger = logging.getLogger(__name__)

RESULT_NAME = "voice_latency"
_POLL_SECONDS = 0.02
CHROMIUM_CORES = 0.4
"""The CPU a headless Chromium caller takes in a call (9.8 CPU seconds over a 3-turn call of
about 25 s, 2-core VM)."""
BROWSERS_SHARE = 0.2
"""The share of the machine's cores the browser callers may take by default."""


def default_browsers() -> int:
    """The most browser callers at once by default: :data:`BROWSERS_SHARE` of the cores'
    worth of Chromium (one per two cores), at least one."""
    return max(1, int((os.cpu_count() or 1) * BROWSERS_SHARE / CHROMIUM_CORES))


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What to run: client counts, turns per client, transports, and where to write.

    ``urls`` target running gateways (the page URLs they printed, their SIP on ``sip_port``;
    several processes of one gateway take the callers in turn) instead of starting
    ``voicegate serve``; ``turn_timeout`` bounds the wait for a turn's answer;
    ``browsers`` is the most browser callers at once (larger N are skipped). Each
    caller speaks again ``pause`` seconds after its answer ended (see
    :meth:`~voicegate.bench.caller.Caller.answer_ended`), the same for every transport: a
    SIP phone knows of the end :data:`~voicegate.bench.phone_callers.QUIET_S` later, so
    the default pause is that long (a shorter one would give SIP callers longer pauses,
    hence less load, than the others).
    """

    clients: tuple[int, ...] = (1, 2, 4, 8)
    turns: int = 3
    transports: tuple[str, ...] = TRANSPORTS
    out: Path = Path("benchmarks/results")
    urls: tuple[str, ...] = ()
    sip_port: int = 5060
    turn_timeout: float = 30.0
    pause: float = QUIET_S
    stagger: float = 0.25
    browsers: int = field(default_factory=default_browsers)

    def __post_init__(self) -> None:
        if not self.clients or min(self.clients) < 1:
            raise ValueError(f"client counts must be positive integers, got {self.clients}")
        if self.browsers < 1:
            raise ValueError(f"browsers must be at least 1, got {self.browsers}")
        if self.turns < 1:
            raise ValueError(f"turns must be at least 1, got {self.turns}")
        unknown = set(self.transports) - set(TRANSPORTS)
        if not self.transports or unknown:
            wanted = ", ".join(self.transports)
            raise ValueError(f"transports must be among {', '.join(TRANSPORTS)}, got {wanted}")
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"the results go in a folder, and {self.out} is a file")
        for url in self.urls:
            GatewayAddress.from_url(url)


async def await_answer(caller: Caller, speech_end: float, seconds: float) -> str | None:
    """Wait ``seconds`` at most for the answer to start after ``speech_end``, then as
    long again for it to end (a phone plays it in real time); why the turn failed, if it did.

    Only what came after the caller's speech belongs to its turn: the tail of an earlier
    answer that was late does not end it.
    """
    # Each kind of client records differently: polling serves them all.
    try:
        async with asyncio.timeout(seconds):
            while not (  # noqa: ASYNC110
                caller.answered(speech_end) or caller.turn_finished(speech_end)
            ):
                await asyncio.sleep(_POLL_SECONDS)
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    try:
        async with asyncio.timeout(seconds):
            while not caller.turn_finished(speech_end):  # noqa: ASYNC110
                await asyncio.sleep(_POLL_SECONDS)
    except TimeoutError:
        return f"the answer did not end within {seconds:g} s of its start"
    return None


async def _call(
    config: BenchConfig,
    address: GatewayAddress,
    transport: str,
    clients: int,
    client: int,
    clips: Sequence[SpeechClip],
    progress: tqdm[Any],
) -> list[TurnResult]:
    """One caller's turns; a failed connection fails the turns it had left."""
    await asyncio.sleep(client * config.stagger)
    spoken = [clips[(client * config.turns + turn) % len(clips)] for turn in range(config.turns)]
    results = [
        TurnResult(transport, clients, client, turn, clip.text) for turn, clip in enumerate(spoken)
    ]
    done = 0
    try:
        async with make_caller(transport, address, spoken) as caller:
            for clip, result in zip(spoken, results, strict=True):
                since = time.monotonic()
                speech_end = await caller.speak(clip)
                late = await await_answer(caller, speech_end, config.turn_timeout)
                caller.measure(result, since, speech_end)
                result.error = late or result.error
                done += 1
                progress.update(1)
                ended = caller.answer_ended(speech_end) or time.monotonic()
                await asyncio.sleep(max(0.0, ended + config.pause - time.monotonic()))
    except Exception as exc:  # a failed call is a result: record it, go on
        logger.warning("%s caller %d of %d failed: %s", transport, client + 1, clients, exc)
        for result in results[done:]:
            result.error = f"{type(exc).__name__}: {exc}"
        progress.update(len(results) - done)
    return results


def levels(config: BenchConfig) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The (transport, N) levels to run, and those skipped: the browser's above
    ``config.browsers``."""
    run: list[tuple[str, int]] = []
    skipped: list[tuple[str, int]] = []
    for transport in config.transports:
        for clients in config.clients:
            too_many = transport == "browser" and clients > config.browsers
            (skipped if too_many else run).append((transport, clients))
    return run, skipped


async def run_levels(
    config: BenchConfig, addresses: Sequence[GatewayAddress], clips: Sequence[SpeechClip]
) -> list[TurnResult]:
    """Every level of ``config`` against the gateways at ``addresses`` (callers take them in
    turn), each level once they admit sessions; the turns' results."""
    chosen, skipped = levels(config)
    if skipped:
        counts = ", ".join(str(clients) for _, clients in skipped)
        print(
            f"browser N={counts} skipped: more than --browsers {config.browsers} Chromium "
            f"callers on {os.cpu_count()} CPUs (each takes about {CHROMIUM_CORES:g} of a core "
            "from the server it measures)",
            file=sys.stderr,
        )
    total = sum(clients for _, clients in chosen) * config.turns
    results: list[TurnResult] = []
    with tqdm(total=total, unit="turn", desc="voice turns") as progress:
        for transport, clients in chosen:
            progress.set_postfix_str(f"{transport} N={clients}")
            await asyncio.gather(*(wait_accepting(address) for address in addresses))
            calls = [
                _call(
                    config,
                    addresses[client % len(addresses)],
                    transport,
                    clients,
                    client,
                    clips,
                    progress,
                )
                for client in range(clients)
            ]
            for turns in await asyncio.gather(*calls):
                results.extend(turns)
    return results


async def run_benchmark(config: BenchConfig) -> dict[str, Any]:
    """Run the benchmark, print the table, write ``voice_latency.json`` and ``.png`` to
    ``config.out``; returns the JSON document."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="voicegate-bench-") as scratch:
        clips = await piper_clips(Path(scratch) / "speech")
        if config.urls:
            addresses = [GatewayAddress.from_url(url, config.sip_port) for url in config.urls]
            results = await run_levels(config, addresses, clips)
        else:
            async with GatewayProcess(Path(scratch) / "serve.log") as address:
                results = await run_levels(config, [address], clips)
    meta = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            # 1, 5 and 15 minute load averages: the machine may be shared
            "load_average": {"start": list(load_before), "end": list(os.getloadavg())},
        },
        "config": {
            "clients": list(config.clients),
            "turns": config.turns,
            "transports": list(config.transports),
            "servers": list(config.urls) or [" ".join(("voicegate", *SERVE_ARGS))],
            "stagger_s": config.stagger,
            "browsers": config.browsers,
            "skipped": [f"{transport} N={clients}" for transport, clients in levels(config)[1]],
        },
    }
    document = await asyncio.to_thread(
        write_json, config.out / f"{RESULT_NAME}.json", meta, results
    )
    print(format_table(document["summary"]))
    if importlib.util.find_spec("matplotlib") is None:
        print(
            f"no plot: matplotlib is missing (pip install 'voicegate[bench]'); "
            f"the figures are in {config.out / RESULT_NAME}.json",
            file=sys.stderr,
        )
        return document
    title = f"voicegate voice latency ({os.cpu_count()} CPUs, {config.turns} turns per client)"
    await asyncio.to_thread(plot, config.out / f"{RESULT_NAME}.png", document["summary"], title)
    return document
