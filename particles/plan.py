"""The plan of an SGD run: the steps that record, and the chunks between them.

Every SGD path (:mod:`particles.rbf`, :mod:`particles.dd` and its GPU twin
:mod:`particles.gpu`) draws its data and noise one chunk of steps at a time
and records the state at the end of a chunk. The runs are reproducible only
if all of them cut the steps the same way: the same seed gives the same
draws only in the same chunks, and an ensemble equals its members' single
runs, or a resumed run the unbroken one, only because each plans its chunks
by :func:`chunk_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from fempde.meanfield import TimeAxis

__all__ = ["Chunk", "chunk_plan", "record_steps"]


class Chunk(NamedTuple):
    """``steps`` SGD steps from step ``start``; ``record``: the state after them is recorded."""

    start: int
    steps: int
    record: bool


def record_steps(axis: TimeAxis, times: Sequence[float]) -> NDArray[np.int64]:
    """The step counts ``k`` (``t = kε``, rounded to the grid) of the recording
    ``times``, sorted, once each; raises ``ValueError`` for no times or a time < 0."""
    marks = np.array(sorted({axis.steps_until(t) for t in times}), dtype=np.int64)
    if marks.size == 0 or marks[0] < 0:
        raise ValueError(f"record times must be one or more times >= 0, got {list(times)}")
    return marks


def chunk_plan(marks: Sequence[int] | NDArray[np.int64], chunk: int, *, start: int = 0) -> list[Chunk]:
    """Chunks of at most ``chunk`` steps from step ``start`` that end on every
    recording step of ``marks`` (increasing, the first ``>= start``); a first
    mark that needs no step (``start``) is a zero-step chunk that records."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1 steps, got {chunk}")
    plan: list[Chunk] = []
    k = start
    for index, mark in enumerate(int(m) for m in marks):
        if mark < k or (mark == k and index > 0):
            raise ValueError(f"recording steps must increase from step {start}, got {[int(m) for m in marks]}")
        if mark == k:
            plan.append(Chunk(k, 0, True))
        while k < mark:
            m = min(chunk, mark - k)
            plan.append(Chunk(k, m, k + m == mark))
            k += m
    return plan
