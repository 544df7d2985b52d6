"""The record of one run: its history, its certificates, and the snapshots it keeps.

:class:`RunRecord` is the only owner of a run's history. The run loop
(:mod:`fempde.solvers.loop`) adds each accepted step to it before any observer
sees the step; the CSV writer reads the step's certificate flags from it, the
checkpointer saves it, a resumed run restores it, and the
:class:`~fempde.solvers.result.Result` is built from it. The certificate
tolerances (:class:`Tolerances`) and the test of a step against them
(:func:`certificate_flags`) are defined here and nowhere else. Saving and
restoring it for a resumed run is :mod:`fempde.solvers.resume`'s.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..checks import number
from .result import Certificates, Result
from .step import Step, StepperState
from .system import GradientFlowSystem

__all__ = ["CERTIFICATES", "HISTORY_COLUMNS", "RunRecord", "Tolerances", "certificate_flags", "history_flags",
           "history_row"]

Array = NDArray[np.float64]

HISTORY_COLUMNS = ("t", "dt", "free_energy", "risk", "mass", "mass_drift", "min_rho",
                   "newton_iterations", "rejected_steps", "wall_mass", "time_error", "risk_time_error", "cleared")
"""The scalars of every accepted step, in this order (``Result.history``, checkpoints,
CSV). ``time_error`` and ``risk_time_error`` are the estimated global errors of ρ
(mass-weighted L1) and of the risk from the time stepping, at the step; ``cleared``
the depth of the round-off negatives Newton set to 0 with the mass kept (at most
``newton_tol · max(1, max ρ)``, :mod:`fempde.solvers.newton`)."""


CERTIFICATES = ("mass", "negative", "energy")
"""The certificates a run checks at every step (:func:`certificate_flags`)."""


def history_row(step: Step) -> tuple[float, ...]:
    """The scalars of one step, in the order of :data:`HISTORY_COLUMNS`."""
    return (step.t, step.dt, step.free_energy, step.risk, step.mass, step.mass_drift, step.min_rho,
            step.newton_iterations, step.rejected, step.wall_mass, step.time_error, step.risk_time_error,
            step.cleared)


@dataclass(frozen=True)
class Tolerances:
    """The certificates' tolerances: relative mass drift, and the free-energy
    increase per step relative to ``max(1, |F|)``."""

    mass: float = 1e-12
    energy: float = 1e-11

    def __post_init__(self) -> None:
        number("Tolerances.mass", self.mass, positive=True)
        number("Tolerances.energy", self.energy, positive=True)


def certificate_flags(step: Step, check_energy: bool, tolerances: Tolerances) -> tuple[str, ...]:
    """Names of the certificates a step fails: ``mass``, ``negative``, ``energy``
    (the last only with ``check_energy``: a source term may raise the free energy)."""
    flags = []
    if step.mass_drift > tolerances.mass:
        flags.append("mass")
    if step.min_rho < -tolerances.mass * max(1.0, float(np.abs(step.rho).max())):
        flags.append("negative")
    energy_bound = tolerances.energy * max(1.0, abs(step.free_energy))
    if check_energy and not step.energy_increase <= energy_bound:  # NaN fails
        flags.append("energy")
    return tuple(flags)


def history_flags(rows: Array, check_energy: bool, tolerances: Tolerances, scale: float) -> set[str]:
    """The certificates the rows of a history (``(steps, len(HISTORY_COLUMNS))``) fail,
    recomputed from their numbers as :func:`certificate_flags` tests a step; ``scale``
    stands for the largest ``|ρ|`` (which a row does not hold) in the test of ``min_rho``."""
    column = {name: rows[:, k] for k, name in enumerate(HISTORY_COLUMNS)}
    flags = set()
    if np.any(column["mass_drift"] > tolerances.mass):
        flags.add("mass")
    if np.any(column["min_rho"] < -tolerances.mass * max(1.0, scale)):
        flags.add("negative")
    energy = column["free_energy"]
    bound = tolerances.energy * np.maximum(1.0, np.abs(energy[1:]))
    if check_energy and not np.all(np.diff(energy) <= bound):  # NaN fails
        flags.add("energy")
    return flags


class RunRecord:
    """History, certificate flags and kept snapshots of one run (module docstring)."""

    def __init__(self, tolerances: Tolerances, check_energy: bool, keep: Sequence[float] = ()) -> None:
        self.tolerances = tolerances
        self.check_energy = check_energy
        self.keep = frozenset(float(t) for t in keep)
        self.rows: list[tuple[float, ...]] = []
        self.failed: set[str] = set()
        self.max_energy_increase = -math.inf
        self.snapshots: dict[float, Array] = {}
        self.last: Step | None = None
        self.last_flags: tuple[str, ...] = ()

    def add(self, step: Step) -> tuple[str, ...]:
        """Record an accepted step; returns the certificates it fails."""
        if step.index:
            self.max_energy_increase = max(self.max_energy_increase, step.energy_increase)
        self.last_flags = certificate_flags(step, self.check_energy, self.tolerances)
        self.failed.update(self.last_flags)
        self.rows.append(history_row(step))
        if step.t in self.keep or step.index == 0:
            self.snapshots[step.t] = step.rho
        self.last = step
        return self.last_flags

    def restore(self, rows: Array, failed: Sequence[str], step: Step) -> None:
        """Take over the history of a checkpointed run whose last step is ``step``.
        Its certificates are recomputed from the rows and from ``step``, never read
        from the file: a failure the file records stays, one its numbers show is added."""
        table = np.array(rows, dtype=np.float64).reshape(-1, len(HISTORY_COLUMNS))
        self.rows = [tuple(float(v) for v in r) for r in table]
        scale = float(np.abs(step.rho).max()) if step.rho.size else 1.0
        self.failed = (set(failed) | history_flags(table, self.check_energy, self.tolerances, scale)
                       | set(certificate_flags(step, self.check_energy, self.tolerances)))
        increases = np.diff(table[:, HISTORY_COLUMNS.index("free_energy")])
        self.max_energy_increase = float(increases.max()) if increases.size else -math.inf
        self.last = step

    def columns(self) -> dict[str, Array]:
        table = np.array(self.rows, dtype=float).reshape(-1, len(HISTORY_COLUMNS))
        return {name: table[:, k] for k, name in enumerate(HISTORY_COLUMNS)}

    def certificates(self) -> Certificates:
        columns = self.columns()
        return Certificates(
            max_mass_drift=float(columns["mass_drift"].max()),
            min_rho=float(columns["min_rho"].min()),
            max_energy_increase=float(self.max_energy_increase) if len(self.rows) > 1 else 0.0,
            energy_checked=self.check_energy,
            failed=tuple(sorted(self.failed)),
        )

    def result(self, system: GradientFlowSystem, stop_reason: str) -> Result:
        """The :class:`~fempde.solvers.result.Result` of the run so far."""
        if self.last is None:
            raise RuntimeError("the run recorded no step")
        return Result(space=system.space, system=system, rho=np.array(self.last.rho), t=self.last.t,
                      history=self.columns(), certificates=self.certificates(), stop_reason=stop_reason,
                      snapshots=self.snapshots)

    def last_state(self) -> StepperState:
        if self.last is None:
            raise RuntimeError("the run recorded no step")
        return self.last.state()
