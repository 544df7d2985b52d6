"""Checkpoints of a PDE run, and resuming from them.

A :class:`Checkpointer` observer writes ``checkpoint.npz`` (state, time, next
step size, mass bookkeeping, the history so far and its certificates) under a
temporary name and renames it into place, every ``every`` seconds of wall time
and at the end of the run — also when it ends by Ctrl-C. ``solve(...,
resume=path)`` continues from it; the steps that follow are exactly those of
the uninterrupted run, so the results agree to round-off.
"""

from __future__ import annotations

import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .observers import Observer, RunInfo
from .stepping import Step, StepperState

__all__ = ["Checkpoint", "Checkpointer", "HISTORY_COLUMNS", "history_row", "load_checkpoint"]

HISTORY_COLUMNS = ("t", "dt", "free_energy", "risk", "mass", "mass_drift", "min_rho",
                   "newton_iterations", "rejected_steps", "wall_mass")


def history_row(step: Step) -> tuple[float, ...]:
    """The scalars of one step, in the order of :data:`HISTORY_COLUMNS`."""
    return (step.t, step.dt, step.free_energy, step.risk, step.mass, step.mass_drift, step.min_rho,
            step.newton_iterations, step.rejected, step.wall_mass)


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds."""

    state: StepperState
    history: NDArray[np.float64]  # (steps so far, len(HISTORY_COLUMNS))
    failed: tuple[str, ...]
    max_energy_increase: float


class Checkpointer(Observer):
    """Write ``path`` (``.npz``) every ``every`` seconds of wall time (0: every step) and at the end."""

    def __init__(self, path: str | Path, every: float = 60.0) -> None:
        if not every >= 0:
            raise ValueError(f"checkpoint interval must be >= 0 seconds, got {every!r}")
        self.path = Path(path)
        self.every = every
        self._rows: list[tuple[float, ...]] = []
        self._last: Step | None = None
        self._written_at = -np.inf
        self._max_increase = -np.inf
        self._failed: set[str] = set()
        self._check: Any = None

    def start(self, info: RunInfo) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if info.start_index > 0 and self.path.is_file():
            previous = load_checkpoint(self.path)
            self._rows = [tuple(r) for r in previous.history]
            self._failed = set(previous.failed)
            self._max_increase = previous.max_energy_increase

    def observe(self, step: Step) -> None:
        self._rows.append(history_row(step))
        if step.index:
            self._max_increase = max(self._max_increase, step.energy_increase)
        self._last = step
        if time.monotonic() - self._written_at >= self.every:
            self.write()

    def finish(self, result: Any) -> None:
        self._failed |= set(result.certificates.failed)
        if self._last is not None:
            self.write()

    def write(self) -> None:
        assert self._last is not None
        state = self._last.state()
        tmp = self.path.with_name(f".{self.path.stem}.tmp.npz")
        np.savez(
            tmp, rho=state.rho, index=state.index, t=state.t, dt_next=state.dt_next,
            expected_mass=state.expected_mass, free_energy=state.free_energy,
            rho_before=state.rho_before if state.rho_before is not None else np.empty(0), dt_last=state.dt_last,
            history=np.array(self._rows, dtype=np.float64).reshape(-1, len(HISTORY_COLUMNS)),
            failed=np.array(sorted(self._failed), dtype=str), max_energy_increase=self._max_increase,
        )
        os.replace(tmp, self.path)
        self._written_at = time.monotonic()


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :class:`Checkpointer`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: was the run started with a Checkpointer?")
    try:
        with np.load(path) as data:
            before = np.array(data["rho_before"]) if "rho_before" in data.files else np.empty(0)
            state = StepperState(int(data["index"]), float(data["t"]), np.array(data["rho"]),
                                 float(data["dt_next"]), float(data["expected_mass"]), float(data["free_energy"]),
                                 before if before.size else None,
                                 float(data["dt_last"]) if "dt_last" in data.files else 0.0)
            return Checkpoint(state, np.array(data["history"]), tuple(str(f) for f in data["failed"]),
                              float(data["max_energy_increase"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} is unreadable or incomplete: {err}") from err
