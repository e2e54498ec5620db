"""numpy's BLAS on one thread in every ``voicegate`` command.

numpy's OpenBLAS starts a thread per core at import and hands it part of each matrix
product over a small size; after each one that thread spins, waiting for the next. The
products voicegate makes are small ones, made often: the audio path's (every session's
20 ms frame, :class:`~voicegate.audio.batch.BatchInboundPath`) and Smart Turn's feature
projection. With ``voicegate serve`` at 16 WebSocket callers on 2 cores, OpenBLAS's thread
took 0.15-0.16 s of CPU per turn (a sixth of the server's), spinning beside Whisper, Piper
and Smart Turn, whose own thread pools do the heavy work. On one thread it takes none.
"""

from __future__ import annotations

import os

BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


def limit_blas_threads() -> None:
    """Give numpy's OpenBLAS one thread unless ``OPENBLAS_NUM_THREADS`` says otherwise.
    OpenBLAS reads it when numpy is first imported: call this before that (the processes
    a command starts inherit it)."""
    os.environ.setdefault(BLAS_THREADS_ENV, "1")
