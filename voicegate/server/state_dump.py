"""What a running server is doing, on demand: ``kill -USR1 <pid>`` logs the stack of every
asyncio task and every thread, and the server goes on. For a server that seems stuck (one
that does not stop, a call that does not end): the stacks say what each is waiting for. A
shutdown that does not finish logs the same, and the process exits anyway
(:func:`finish_within`)."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)

DUMP_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)
"""The signal that asks for the dump (none on Windows)."""
CANCEL_WAIT_S = 1.0
"""How long a close given up on is given to unwind once cancelled."""


async def finish_within(closing: Coroutine[Any, Any, None], limit_s: float, what: str) -> bool:
    """Run ``closing`` (as a task named ``what``) for at most ``limit_s`` seconds; past that,
    log what every task and thread is still waiting for (:func:`dump`, while the stuck ones
    still wait where they are stuck), then cancel it. Whether it finished."""
    task = asyncio.create_task(closing, name=what)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        task.result()  # its error, if it failed
        return True
    logger.error("%s did not finish within %g s: giving up on it", what, limit_s)
    dump()
    task.cancel()
    await asyncio.wait({task}, timeout=CANCEL_WAIT_S)
    return False


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Log :func:`dump` whenever the process gets :data:`DUMP_SIGNAL`."""
    if DUMP_SIGNAL is not None:
        loop.add_signal_handler(DUMP_SIGNAL, dump)


def dump() -> None:
    """Log every asyncio task's stack (what it awaits) and every thread's, at warning."""
    out = io.StringIO()
    tasks = sorted(asyncio.all_tasks(), key=lambda task: task.get_name())
    for task in tasks:
        out.write(f"--- task {task.get_name()}\n{_awaiting(task.get_coro())}")
    frames = sys._current_frames()
    threads = threading.enumerate()
    for thread in threads:
        frame = frames.get(thread.ident or -1)
        out.write(f"--- thread {thread.name}\n")
        out.write("".join(traceback.format_stack(frame)) if frame is not None else "(no frame)\n")
    logger.warning("state: %d tasks, %d threads\n%s", len(tasks), len(threads), out.getvalue())


def _awaiting(awaitable: object) -> str:
    """Where ``awaitable`` (a task's coroutine) waits, down its chain of awaits, innermost
    last (a task's own stack shows only its outermost coroutine)."""
    lines = []
    while awaitable is not None:
        frame = _first_attribute(awaitable, ("cr_frame", "ag_frame", "gi_frame"))
        if frame is not None:
            code = frame.f_code
            lines.append(f'  File "{code.co_filename}", line {frame.f_lineno}, in {code.co_name}\n')
        awaitable = _first_attribute(awaitable, ("cr_await", "ag_await", "gi_yieldfrom"))
    return "".join(lines) or "  (done)\n"


def _first_attribute(thing: object, names: tuple[str, ...]) -> Any:
    """The first of ``names`` that ``thing`` (a coroutine, async generator or generator)
    has set, or None."""
    return next((value for name in names if (value := getattr(thing, name, None))), None)
