"""ONNX Runtime sessions for the small audio models (Silero VAD, Smart Turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def onnx_session(model: Path, threads: int = 1) -> Any:
    """An inference session on ``threads`` threads that do not spin while idle.

    ONNX Runtime's threads spin between calls by default, which starves whatever else
    runs on a small machine (Whisper, Piper, the event loop).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(model), sess_options=options, providers=["CPUExecutionProvider"]
    )


def run_options() -> Any:
    """Options for one call of a session; setting their ``terminate`` from another thread
    stops the call within a millisecond or two, with an error."""
    import onnxruntime

    return onnxruntime.RunOptions()
