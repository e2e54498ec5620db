"""Model inference off the event loop: a worker thread per model, and the lanes in front of it.

:class:`InferenceWorker` runs a model's blocking calls on its own thread behind a bounded
queue; :class:`InferenceLanes` orders the jobs a worker is given (required before optional)
and measures its load.
"""

from voicegate.inference.lanes import InferenceLanes, JobSkippedError, Pressure, RunAlone
from voicegate.inference.worker import InferenceWorker, WorkerOverloadedError

__all__ = [
    "InferenceLanes",
    "InferenceWorker",
    "JobSkippedError",
    "Pressure",
    "RunAlone",
    "WorkerOverloadedError",
]
