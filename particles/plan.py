"""The plan of an SGD run: the steps that record, the chunks between them, and
the data draws, which depend on neither.

The SGD engine (:mod:`particles.engine`, on the CPU and on a device) runs one
chunk of steps at a time (:func:`chunk_plan`:
at most ``chunk`` steps, ending on every recording step) and records the
state at the end of a chunk. The plan is a :class:`ChunkPlan`, a sequence
whose chunks are computed when asked for: it holds one number per recording
step, so a run of 10¹² steps starts at once and in as little memory as one of
10³. What a run draws does not depend on that cut:
its noise is keyed on the step counter (:mod:`particles.noise`), and its data
come from :class:`BlockDraws`, which draws them from the run's Generator in
fixed blocks of :data:`DATA_BLOCK` steps, block ``k // DATA_BLOCK`` holding
step ``k``'s sample. So the same seed gives the same run whatever the
recording times and ``chunk``, an ensemble equals its members' single runs,
and a resumed run the unbroken one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, overload

import numpy as np
from numpy.typing import NDArray

from fempde.checks import generator
from fempde.meanfield import TimeAxis

__all__ = ["DATA_BLOCK", "BlockDraws", "Chunk", "ChunkPlan", "chunk_plan", "record_steps"]

DATA_BLOCK = 1024
"""Steps per block of data draws: block ``b`` holds the samples of steps
``b DATA_BLOCK`` to ``(b + 1) DATA_BLOCK − 1``, drawn at once, blocks in order."""

Draw = Callable[[int, np.random.Generator], Sequence[NDArray[Any]]]


class Chunk(NamedTuple):
    """``steps`` SGD steps from step ``start``; ``record``: the state after them is recorded."""

    start: int
    steps: int
    record: bool


def record_steps(axis: TimeAxis, times: Sequence[float]) -> NDArray[np.int64]:
    """The step counts ``k`` (``t = kε``) of the recording ``times``: one or more finite,
    increasing times ``>= 0`` on the SGD grid (to 10⁻⁶ of a step), so that a run records
    exactly one state per time asked for, at that time; otherwise a ``ValueError`` that
    says which time and what to ask instead."""
    values = np.asarray(times, dtype=np.float64).ravel() if len(times) else np.zeros(0)
    if values.size == 0 or not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError(f"record times must be one or more finite times >= 0, got {list(times)}")
    if np.any(np.diff(values) <= 0):
        raise ValueError(f"record times must increase, got {list(times)}")
    marks = np.rint(values / axis.epsilon)
    off = np.abs(values / axis.epsilon - marks) > 1e-6 * np.maximum(1.0, marks * 1e-6)
    if np.any(off) or marks[-1] > 2.0**62:
        i = int(np.flatnonzero(off)[0]) if np.any(off) else len(values) - 1
        raise ValueError(f"record time {float(values[i])!r} is not on the SGD grid of epsilon = "
                         f"{axis.epsilon:g} (or has more than 2^62 steps): ask for multiples of epsilon, e.g. "
                         f"{marks[i] * axis.epsilon:g}")
    marks = marks.astype(np.int64)
    return marks


class ChunkPlan(Sequence[Chunk]):
    """Chunks of at most ``chunk`` steps from step ``start`` that end on every
    recording step of ``marks`` (increasing, the first ``>= start``); a first
    mark that needs no step (``start``) is a zero-step chunk that records.

    The chunks are computed on demand, by index or in order: the plan holds the
    marks and, per mark, the number of chunks up to it, never the chunks."""

    def __init__(self, marks: Sequence[int] | NDArray[np.int64], chunk: int, *, start: int = 0) -> None:
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1 steps, got {chunk}")
        self.marks = np.array([int(m) for m in marks], dtype=np.int64)
        self.chunk, self.start = int(chunk), int(start)
        previous = np.concatenate([[self.start], self.marks[:-1]]).astype(np.int64)
        gaps = self.marks - previous
        if np.any(gaps < 0) or np.any(gaps[1:] == 0):
            raise ValueError(f"recording steps must increase from step {start}, got {self.marks.tolist()}")
        self._previous = previous
        self._ends = np.cumsum(np.maximum(-(-gaps // self.chunk), 1))  # chunks up to and including each mark

    def __len__(self) -> int:
        return int(self._ends[-1]) if self._ends.size else 0

    @overload
    def __getitem__(self, index: int) -> Chunk: ...

    @overload
    def __getitem__(self, index: slice) -> list[Chunk]: ...

    def __getitem__(self, index: int | slice) -> Chunk | list[Chunk]:
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"chunk {index} of a plan of {n}")
        index %= n
        j = int(np.searchsorted(self._ends, index, side="right"))
        return self._chunk(j, index - (int(self._ends[j - 1]) if j else 0))

    def __iter__(self) -> Iterator[Chunk]:
        for j in range(len(self.marks)):
            first = int(self._ends[j - 1]) if j else 0
            for offset in range(int(self._ends[j]) - first):
                yield self._chunk(j, offset)

    def _chunk(self, j: int, offset: int) -> Chunk:
        """Chunk ``offset`` of those that end on mark ``j``."""
        previous, mark = int(self._previous[j]), int(self.marks[j])
        if mark == previous:
            return Chunk(previous, 0, True)
        first = previous + offset * self.chunk
        steps = min(self.chunk, mark - first)
        return Chunk(first, steps, first + steps == mark)


def chunk_plan(marks: Sequence[int] | NDArray[np.int64], chunk: int, *, start: int = 0) -> ChunkPlan:
    """The :class:`ChunkPlan` of ``marks`` in chunks of at most ``chunk`` steps from ``start``."""
    return ChunkPlan(marks, chunk, start=start)


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
