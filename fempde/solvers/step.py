"""The stepper's records: an accepted :class:`Step`, and the :class:`StepperState` to go on from.

Both are immutable; their arrays are read-only. A :class:`Step` is what the
stepper yields and what the run's record and the observers see; a
:class:`StepperState` is the part of it the stepper needs to continue exactly
(what a checkpoint stores, :mod:`fempde.solvers.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["Step", "StepperState"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class StepperState:
    """A point to go on stepping from (see :meth:`Step.state` and :mod:`fempde.solvers.resume`)."""

    index: int
    t: float
    rho: Array
    dt_next: float
    expected_mass: float
    free_energy: float
    past: tuple[Array, ...] = ()
    """The states of the steps before, newest first (at most two: the error
    estimate and BDF2 need them)."""
    past_dt: tuple[float, ...] = ()
    """The sizes of the steps that led to ``rho`` and to each of ``past``, newest first."""
    global_error: tuple[Array, ...] = ()
    """The estimated global errors of ``rho`` and of ``past[0]``, newest first."""
    error_ratio: float = 0.0
    """The controller's ``E`` of the step that led to ``rho``."""


@dataclass(frozen=True)
class Step:
    """One accepted time step (index 0 is the initial state). Built by keyword."""

    index: int
    t: float
    dt: float
    rho: Array
    free_energy: float
    risk: float
    mass: float
    expected_mass: float
    newton_iterations: int = 0
    rejected: int = 0
    at_output_time: bool = False
    energy_increase: float = 0.0
    """``F_h`` now minus ``F_h`` at the previous step (0 at the initial state)."""
    dt_next: float = 0.0
    """The step size the controller will try next (what a resumed run needs)."""
    wall_mass: float = 0.0
    """Mass within two mesh sizes of the wall: large values mean the walls matter."""
    past: tuple[Array, ...] = ()
    """The states of the steps before, newest first (at most two)."""
    past_dt: tuple[float, ...] = ()
    """The sizes of the steps that led to ``rho`` and to each of ``past``, newest first."""
    scheme: str = "euler"
    """The scheme this step was taken with (a name in :data:`~fempde.solvers.schemes.SCHEMES`)."""
    time_error: float = 0.0
    """Estimated global error of ρ from the time stepping, ``Σ m_i |g_i|``."""
    risk_time_error: float = 0.0
    """Estimated global error of the risk from the time stepping, ``|R(ρ + g) − R(ρ)|``."""
    error_ratio: float = 0.0
    """The controller's ``E`` for this step (<= 1 when accepted under control)."""
    global_error: tuple[Array, ...] = ()
    """The estimated global errors ``g`` of ``rho`` and of ``past[0]``, newest first."""
    cleared: float = 0.0
    """The depth of the round-off negatives Newton set to 0 in this step, mass kept
    (at most ``newton_tol · max(1, max ρ)``: :mod:`fempde.solvers.newton`)."""

    def state(self) -> StepperState:
        """What the stepper needs to continue from this step exactly (copies)."""
        return StepperState(index=self.index, t=self.t, rho=np.array(self.rho), dt_next=self.dt_next,
                            expected_mass=self.expected_mass, free_energy=self.free_energy,
                            past=tuple(np.array(r) for r in self.past), past_dt=self.past_dt,
                            global_error=tuple(np.array(g) for g in self.global_error),
                            error_ratio=self.error_ratio)

    @property
    def min_rho(self) -> float:
        return float(self.rho.min())

    @property
    def mass_drift(self) -> float:
        """``|mass − expected| / expected``; expected is the initial mass plus the integrated source."""
        return abs(self.mass - self.expected_mass) / abs(self.expected_mass)
