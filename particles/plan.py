"""The plan of an SGD run: the steps that record, the chunks between them, and
the data draws, which depend on neither.

The SGD engine (:mod:`particles.engine`, on the CPU and on a device) runs one
chunk of steps at a time (:func:`chunk_plan`:
at most ``chunk`` steps, ending on every recording step) and records the
state at the end of a chunk. What a run draws does not depend on that cut:
its noise is keyed on the step counter (:mod:`particles.noise`), and its data
come from :class:`BlockDraws`, which draws them from the run's Generator in
fixed blocks of :data:`DATA_BLOCK` steps, block ``k // DATA_BLOCK`` holding
step ``k``'s sample. So the same seed gives the same run whatever the
recording times and ``chunk``, an ensemble equals its members' single runs,
and a resumed run the unbroken one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fempde.checks import generator
from fempde.meanfield import TimeAxis

__all__ = ["DATA_BLOCK", "BlockDraws", "Chunk", "chunk_plan", "record_steps"]

DATA_BLOCK = 1024
"""Steps per block of data draws: block ``b`` holds the samples of steps
``b DATA_BLOCK ... (b + 1) DATA_BLOCK − 1``, drawn at once, blocks in order."""

Draw = Callable[[int, np.random.Generator], Sequence[NDArray[Any]]]


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


class BlockDraws:
    """The data of a run, step by step, drawn in blocks of :data:`DATA_BLOCK` steps.

    ``draw(m, rng)`` returns arrays of ``m`` rows (one per step: ``x``, ``y``,
    ...); it is called with ``m = DATA_BLOCK`` once per block, in block order,
    so step ``k``'s sample depends on the seed and on ``k`` only, not on how
    the steps are taken in chunks. ``start``: the first step (a resumed run),
    with ``rng`` in the state :meth:`resume_state` gave.
    """

    def __init__(self, draw: Draw, rng: np.random.Generator, start: int = 0) -> None:
        self.draw, self.rng = draw, generator("rng", rng)
        self.next = start
        self.block = -1  # the block in ``buffer`` (none yet)
        self.buffer: Sequence[NDArray[Any]] = ()
        self.state_before: Mapping[str, Any] = rng.bit_generator.state  # the Generator before ``block`` was drawn

    def take(self, start: int, count: int) -> list[NDArray[Any]]:
        """The rows of steps ``start ... start + count − 1`` (``count >= 1``, ``start``
        the step after the last one taken)."""
        if start != self.next or count < 1:
            raise ValueError(f"steps must be taken in order, count >= 1: next step {self.next}, got "
                             f"start {start}, count {count}")
        parts: list[list[NDArray[Any]]] = []
        k, end = start, start + count
        while k < end:
            block = k // DATA_BLOCK
            if block != self.block:
                self.state_before = self.rng.bit_generator.state  # a copy
                self.buffer, self.block = self.draw(DATA_BLOCK, self.rng), block
            lo, hi = k - block * DATA_BLOCK, min(end - block * DATA_BLOCK, DATA_BLOCK)
            parts.append([column[lo:hi] for column in self.buffer])
            k = block * DATA_BLOCK + hi
        self.next = end
        if len(parts) == 1:
            return [column.copy() for column in parts[0]]
        return [np.concatenate(columns) for columns in zip(*parts, strict=True)]

    def resume_state(self) -> Mapping[str, Any]:
        """The Generator's state from which a run resumed at step ``next`` draws
        what this one draws: the state before ``next``'s block."""
        return self.state_before if self.block == self.next // DATA_BLOCK else self.rng.bit_generator.state
