"""The :class:`Checkpointer` observer: a run's checkpoint, kept current.

It saves the run's record and state (:func:`fempde.solvers.resume.save_checkpoint`)
every ``every`` seconds of wall time and at the end of the run — also when it
ends by Ctrl-C — so that ``solve(..., resume=path)`` (or ``resume=load_checkpoint(path)``)
can continue it.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..atomic import owned_file
from ..checks import number
from ..solvers.observers import Observer, RunInfo
from ..solvers.record import RunRecord
from ..solvers.result import Result
from ..solvers.resume import Checkpoint, load_checkpoint, save_checkpoint
from ..solvers.step import Step

__all__ = ["Checkpoint", "Checkpointer", "load_checkpoint"]


class Checkpointer(Observer):
    """Write ``path`` (``.npz``) every ``every`` seconds of wall time (0: every step) and at the end."""

    def __init__(self, path: str | Path, every: float = 60.0) -> None:
        self.path = Path(path)
        self.files = (self.path.name,)
        self.every = number("every (the checkpoint interval, seconds)", every, minimum=0.0)
        self._record: RunRecord | None = None
        self._written_at = -np.inf

    def start(self, info: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        owned_file(self.path)  # a link at its name is refused before the run, not at its first write
        self._record = info.record

    def observe(self, step: Step) -> None:
        if time.monotonic() - self._written_at >= self.every:
            self.write()

    def finish(self, result: Result) -> None:
        if self._record is not None and self._record.last is not None:
            self.write()

    def write(self) -> None:
        """Save the record and the last step's state now."""
        assert self._record is not None
        save_checkpoint(self.path, self._record)
        self._written_at = time.monotonic()
