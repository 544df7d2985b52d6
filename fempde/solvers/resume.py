"""Resuming a run: the checkpoint file, and what a resumed run keeps.

The one place that knows how a run continues after an interruption:
:func:`save_checkpoint` stores the run record (:mod:`.record`) and the
stepper's state (density, time, next step size, the past states BDF2 and the
error estimate use, the mass and error bookkeeping) in fempde's one checkpoint
container (:mod:`fempde.archive`, kind :data:`KIND`); :func:`load_checkpoint`
reads it back, every field's dtype and shape checked (against the run's mesh
before the density is read, when the mesh is known) and its numbers finite;
:func:`check_resume` refuses one that cannot continue the run at hand (a time
beyond its end, a step index its history contradicts, a density of another
mass, a last history row that is not its state's). The record's certificates
are recomputed from the history and the state when the run is restored
(:meth:`~fempde.solvers.record.RunRecord.restore`), never taken from the file.
The :class:`Checkpoint` read is the start state the run loop (:mod:`.loop`) is
handed: the file is read before the loop, never inside it.
:func:`restored_step` rebuilds its last step for the record;
:class:`ResumePoint` says which rows and frames of an interrupted run's files
a resumed run keeps. The
steps after a resume are those of the uninterrupted run (to round-off with the
direct solver; the 2-D AMG hierarchy, reused across steps, is rebuilt on resume).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..archive import Field, read_archive, write_archive
from .record import CERTIFICATES, HISTORY_COLUMNS, RunRecord
from .step import Step, StepperState
from .system import GradientFlowSystem

__all__ = ["KIND", "VERSION", "Checkpoint", "ResumePoint", "check_resume", "load_checkpoint", "restored_step",
           "save_checkpoint"]

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


KIND, VERSION = "pde-checkpoint", 1
"""The archive kind of a PDE checkpoint (:mod:`fempde.archive`) and the version of its layout."""

_SPEC = {
    "rho": Field("float", ("n",)),
    "index": Field("int"),
    "t": Field("float"),
    "dt_next": Field("float"),
    "expected_mass": Field("float"),
    "free_energy": Field("float"),
    "past": Field("float", ("past", "n")),
    "past_dt": Field("float", ("past",)),
    "global_error": Field("float", ("errors", "n")),
    "error_ratio": Field("float"),
    "history": Field("float", ("steps", len(HISTORY_COLUMNS)), finite=False),
    "failed": Field("str", ("flags",)),
    "max_energy_increase": Field("float", finite=False),
}
_LIMITS = {"past": 2, "errors": 2, "flags": 3}  # BDF2 keeps two past states; three certificates


def save_checkpoint(path: str | Path, record: RunRecord) -> Path:
    """Write the record and its last step's state to ``path`` (``.npz``), atomically,
    in fempde's checkpoint container (:mod:`fempde.archive`)."""
    state = record.last_state()
    n = state.rho.size
    return write_archive(path, KIND, VERSION, {
        "rho": state.rho, "index": np.int64(state.index), "t": np.float64(state.t),
        "dt_next": np.float64(state.dt_next), "expected_mass": np.float64(state.expected_mass),
        "free_energy": np.float64(state.free_energy),
        "past": np.array(state.past, dtype=np.float64).reshape(-1, n),
        "past_dt": np.array(state.past_dt, dtype=np.float64),
        "global_error": np.array(state.global_error, dtype=np.float64).reshape(-1, n),
        "error_ratio": np.float64(state.error_ratio),
        "history": np.array(record.rows, dtype=np.float64).reshape(-1, len(HISTORY_COLUMNS)),
        "failed": np.array(sorted(record.failed), dtype=str),
        "max_energy_increase": np.float64(record.max_energy_increase),
    })


def load_checkpoint(path: str | Path, nodes: int | None = None) -> Checkpoint:
    """Read a checkpoint written by :class:`~fempde.io.Checkpointer` (of a mesh of
    ``nodes`` nodes, when given: a density of another size is refused before it is
    read). A damaged, incomplete, oversized or foreign file raises ``ValueError``
    naming it and what is wrong; a missing one ``FileNotFoundError``."""
    fields, dims = read_archive(path, KIND, VERSION, _SPEC, what="checkpoint",
                                sizes=None if nodes is None else {"n": nodes}, limits=_LIMITS)
    where = f"checkpoint {path}"
    history = fields["history"]
    if np.any(np.isnan(history)) or np.any(history == np.inf):
        raise ValueError(f"{where}: its history holds NaN or +inf values")
    increase = float(fields["max_energy_increase"])  # -inf: no step has increased it yet
    if math.isnan(increase) or increase == math.inf:
        raise ValueError(f"{where}: its max_energy_increase = {increase!r} is not a number < inf")
    if dims["past"] > 2 or dims["errors"] > 2:
        raise ValueError(f"{where}: its state is malformed ({dims['past']} past states, {dims['errors']} error "
                         f"estimates; at most 2)")
    unknown = sorted(set(fields["failed"].tolist()) - set(CERTIFICATES))
    if unknown:
        raise ValueError(f"{where}: its failed certificates {unknown} are not among {list(CERTIFICATES)}")
    ratio = float(fields["error_ratio"])
    if ratio < 0:
        raise ValueError(f"{where}: its error_ratio = {ratio!r} is negative")
    state = StepperState(
        index=int(fields["index"]), t=float(fields["t"]), rho=np.array(fields["rho"]),
        dt_next=float(fields["dt_next"]), expected_mass=float(fields["expected_mass"]),
        free_energy=float(fields["free_energy"]), past=tuple(np.array(r) for r in fields["past"]),
        past_dt=tuple(float(v) for v in fields["past_dt"]),
        global_error=tuple(np.array(g) for g in fields["global_error"]), error_ratio=ratio,
    )
    return Checkpoint(state, history, tuple(str(f) for f in fields["failed"]), increase)


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
    last = dict(zip(HISTORY_COLUMNS, (float(v) for v in history[-1]), strict=True))
    if last["t"] != state.t:
        raise refuse("t", state.t, f"differs from its history's last time {last['t']!r}")
    times = history[:, HISTORY_COLUMNS.index("t")]
    if times[0] < 0 or np.any(np.diff(times) <= 0):
        raise refuse("history", "its times", "do not increase from t >= 0 step by step")
    if not (math.isfinite(state.expected_mass) and state.expected_mass > 0):
        raise refuse("expected_mass", state.expected_mass, "is not a finite positive mass")
    reference = 1.0 if conserved else state.expected_mass
    if not abs(mass - reference) <= MASS_TOL * reference:
        raise refuse("rho", f"a density of mass {mass:.12g}", f"differs from the run's mass {reference:.12g} by more "
                     f"than {MASS_TOL:g}")
    # the last row is the checkpointed state's: its numbers are recomputed from the state, not trusted
    if last["min_rho"] != float(state.rho.min()):
        raise refuse("history", f"min_rho {last['min_rho']!r} in its last row",
                     f"differs from its density's minimum {float(state.rho.min())!r}")
    if last["free_energy"] != state.free_energy:
        raise refuse("history", f"free_energy {last['free_energy']!r} in its last row",
                     f"differs from its state's {state.free_energy!r}")
    if not abs(last["mass"] - mass) <= 1e-12 * max(1.0, abs(mass)):
        raise refuse("history", f"mass {last['mass']!r} in its last row", f"differs from its density's {mass!r}")


def restored_step(state: StepperState, system: GradientFlowSystem) -> Step:
    """The checkpointed step, rebuilt: what a resumed run's record holds as its last step."""
    rho = state.rho.copy()
    rho.flags.writeable = False
    return Step(index=state.index, t=state.t, dt=state.past_dt[0] if state.past_dt else 0.0, rho=rho,
                free_energy=state.free_energy, risk=system.risk(rho), mass=system.space.integrate(rho),
                expected_mass=state.expected_mass, dt_next=state.dt_next, wall_mass=system.space.wall_mass(rho),
                past=state.past, past_dt=state.past_dt, global_error=state.global_error,
                error_ratio=state.error_ratio)
