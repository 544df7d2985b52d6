"""Resuming a run: the checkpoint file, and what a resumed run keeps.

The one place that knows how a run continues after an interruption:
:func:`save_checkpoint` stores the run record (:mod:`.record`) and the
stepper's state (density, time, next step size, the past states BDF2 and the
error estimate use, the mass and error bookkeeping); :func:`load_checkpoint`
reads it back, refusing a malformed or foreign file; :func:`check_resume`
refuses one that cannot continue the run at hand (a time beyond its end, a
step index its history contradicts, a density of another mass). The
:class:`Checkpoint` read is the start state the run loop (:mod:`.loop`) is
handed: the file is read before the loop, never inside it.
:func:`restored_step` rebuilds its last step for the record;
:class:`ResumePoint` says which rows and frames of an interrupted run's files
a resumed run keeps. The
steps after a resume are those of the uninterrupted run (to round-off with the
direct solver; the 2-D AMG hierarchy, reused across steps, is rebuilt on resume).
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write
from .record import HISTORY_COLUMNS, RunRecord
from .step import Step, StepperState
from .system import GradientFlowSystem

__all__ = ["Checkpoint", "ResumePoint", "check_resume", "load_checkpoint", "restored_step", "save_checkpoint"]

_FORMAT = 2  # checkpoints of an older layout are refused, not misread
MASS_TOL = 1e-9  # a checkpointed density's mass may differ this much (relative) from the run's


@dataclass(frozen=True)
class ResumePoint:
    """The last step an interrupted run had checkpointed: a resumed run keeps
    what the first run wrote up to it and writes the rest afresh."""

    index: int
    t: float

    def keeps_row(self, index: int) -> bool:
        return index <= self.index

    def keeps_frame(self, t: float, marks: Sequence[float]) -> bool:
        """A frame before the resume time stays; one at it stays only at an output
        time (an interrupted run also wrote its last step, which the resumed run
        passes through and writes again if it is an output)."""
        return t < self.t or (t == self.t and t in marks)


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds."""

    state: StepperState
    history: NDArray[np.float64]  # (steps so far, len(HISTORY_COLUMNS))
    failed: tuple[str, ...]
    max_energy_increase: float


def save_checkpoint(path: str | Path, record: RunRecord) -> Path:
    """Write the record and its last step's state to ``path`` (``.npz``), atomically."""
    state = record.last_state()
    past = np.array(state.past) if state.past else np.empty((0, state.rho.size))

    def save(tmp: Path) -> None:
        np.savez(
            tmp, format=_FORMAT, rho=state.rho, index=state.index, t=state.t, dt_next=state.dt_next,
            expected_mass=state.expected_mass, free_energy=state.free_energy, past=past,
            past_dt=np.array(state.past_dt, dtype=np.float64),
            global_error=np.array(state.global_error) if state.global_error else np.empty((0, state.rho.size)),
            error_ratio=state.error_ratio,
            history=np.array(record.rows, dtype=np.float64).reshape(-1, len(HISTORY_COLUMNS)),
            failed=np.array(sorted(record.failed), dtype=str),
            max_energy_increase=record.max_energy_increase,
        )

    return atomic_write(path, save)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :class:`Checkpointer`; an unreadable, incomplete or
    foreign file raises ``ValueError`` naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: was the run started with a Checkpointer?")
    try:
        with np.load(path, allow_pickle=False) as data:
            for key in ("format", "index", "t", "dt_next", "expected_mass", "free_energy", "error_ratio",
                        "max_energy_increase"):
                if key in data.files and (data[key].ndim != 0 or data[key].dtype.kind not in "iuf"):
                    raise ValueError(f"its {key} must be one number, got {data[key].dtype} of shape {data[key].shape}")
            for key in ("history", "rho", "past", "past_dt", "global_error"):
                if key in data.files and data[key].dtype.kind != "f":
                    raise ValueError(f"its {key} must hold floating-point numbers, got {data[key].dtype}")
            if "failed" in data.files and (data["failed"].ndim != 1 or data["failed"].dtype.kind not in "U"
                                           and data["failed"].size):
                raise ValueError(f"its failed must be a list of flag names, got {data['failed'].dtype} of shape "
                                 f"{data['failed'].shape}")
            if "format" not in data.files or int(data["format"]) != _FORMAT:
                raise ValueError(f"it was written by another version of fempde (format "
                                 f"{int(data['format']) if 'format' in data.files else 1}, this one reads {_FORMAT}); "
                                 "start the run afresh")
            history = np.array(data["history"], dtype=np.float64)
            if history.ndim != 2 or history.shape[1] != len(HISTORY_COLUMNS):
                raise ValueError(f"its history has shape {history.shape}, expected (steps, {len(HISTORY_COLUMNS)})")
            rho = np.array(data["rho"], dtype=np.float64)
            past = np.array(data["past"], dtype=np.float64)
            past_dt = tuple(float(v) for v in data["past_dt"])
            errors = np.array(data["global_error"], dtype=np.float64)
            if not (np.all(np.isfinite(past)) and np.all(np.isfinite(errors))
                    and np.isfinite(float(data["error_ratio"])) and float(data["error_ratio"]) >= 0):
                raise ValueError("its past states, error estimates or error ratio are not finite")
            if np.any(np.isnan(history)) or np.any(history == np.inf):
                raise ValueError("its history holds NaN or +inf values")
            if not np.isfinite(float(data["free_energy"])):
                raise ValueError(f"its free_energy = {float(data['free_energy'])!r} is not finite")
            increase = float(data["max_energy_increase"])  # -inf: no step has increased it yet
            if math.isnan(increase) or increase == math.inf:
                raise ValueError(f"its max_energy_increase = {increase!r} is not a number < inf")
            if rho.ndim != 1 or not np.all(np.isfinite(rho)) or len(past) != len(past_dt) or len(past) > 2 \
                    or any(a.shape[1:] != rho.shape for a in (past, errors) if a.size):
                raise ValueError("its state is malformed (density or past states)")
            state = StepperState(
                index=int(data["index"]), t=float(data["t"]), rho=rho, dt_next=float(data["dt_next"]),
                expected_mass=float(data["expected_mass"]), free_energy=float(data["free_energy"]),
                past=tuple(np.array(r) for r in past), past_dt=past_dt,
                global_error=tuple(np.array(g, dtype=np.float64) for g in data["global_error"]),
                error_ratio=float(data["error_ratio"]),
            )
            for field, value, valid in (("index", state.index, state.index >= 0), ("t", state.t, np.isfinite(state.t)),
                                        ("dt_next", state.dt_next, np.isfinite(state.dt_next) and state.dt_next > 0)):
                if not valid:  # the rest is checked against the run by check_resume
                    raise ValueError(f"its {field} = {value!r} is invalid")
            return Checkpoint(state, history, tuple(str(f) for f in data["failed"]),
                              float(data["max_energy_increase"]))
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"checkpoint {path} is unreadable or incomplete: {err}") from err


def check_resume(checkpoint: Checkpoint, path: str | Path, t_end: float, mass: float, *, conserved: bool) -> None:
    """Refuse a checkpoint that cannot continue a run to ``t_end``: its time ``t``
    non-finite, negative or beyond ``t_end``; ``dt_next`` or a past step not a
    finite positive number; ``index`` negative or not its history's last row;
    the density's ``mass`` (computed by the caller on the run's mesh) off by more
    than :data:`MASS_TOL` from 1 (``conserved``) or from the checkpoint's
    expected mass. Raises ``ValueError`` naming the file and the field."""
    state, history = checkpoint.state, checkpoint.history

    def refuse(field: str, value: object, why: str) -> ValueError:
        return ValueError(f"checkpoint {path}: {field} = {value!r} {why}; it cannot be resumed, start the run afresh")

    if not (math.isfinite(state.t) and state.t >= 0):
        raise refuse("t", state.t, "is not a finite time >= 0")
    if state.t > t_end:
        raise refuse("t", state.t, f"is beyond the run's t_end = {t_end!r}")
    if not (math.isfinite(state.dt_next) and state.dt_next > 0):
        raise refuse("dt_next", state.dt_next, "is not a finite positive step")
    if not all(math.isfinite(dt) and dt > 0 for dt in state.past_dt):
        raise refuse("past_dt", state.past_dt, "holds a step that is not finite and positive")
    if state.index < 0:
        raise refuse("index", state.index, "is negative")
    if state.index != len(history) - 1:
        raise refuse("index", state.index, f"contradicts its history of {len(history)} rows (one per step from 0)")
    last_t = float(history[-1, HISTORY_COLUMNS.index("t")])
    if last_t != state.t:
        raise refuse("t", state.t, f"differs from its history's last time {last_t!r}")
    if not (math.isfinite(state.expected_mass) and state.expected_mass > 0):
        raise refuse("expected_mass", state.expected_mass, "is not a finite positive mass")
    reference = 1.0 if conserved else state.expected_mass
    if not abs(mass - reference) <= MASS_TOL * reference:
        raise refuse("rho", f"a density of mass {mass:.12g}", f"differs from the run's mass {reference:.12g} by more "
                     f"than {MASS_TOL:g}")


def restored_step(state: StepperState, system: GradientFlowSystem) -> Step:
    """The checkpointed step, rebuilt: what a resumed run's record holds as its last step."""
    rho = state.rho.copy()
    rho.flags.writeable = False
    return Step(index=state.index, t=state.t, dt=state.past_dt[0] if state.past_dt else 0.0, rho=rho,
                free_energy=state.free_energy, risk=system.risk(rho), mass=system.space.integrate(rho),
                expected_mass=state.expected_mass, dt_next=state.dt_next, wall_mass=system.space.wall_mass(rho),
                past=state.past, past_dt=state.past_dt, global_error=state.global_error,
                error_ratio=state.error_ratio)
