"""What a run returns: :class:`Result`, its :class:`Certificates`, and the spatial estimate :class:`SpaceError`.

The run loop (:mod:`fempde.solvers.loop`) builds the :class:`Result` from the
run's record (:mod:`fempde.solvers.record`); :func:`fempde.solve` adds the
spatial estimate (:mod:`fempde.solvers.accuracy`) when asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..fem.space import Space
from .system import GradientFlowSystem

__all__ = ["STOP_REASONS", "Certificates", "Result", "SpaceError"]

Array = NDArray[np.float64]

STOP_REASONS = ("t_end", "observer", "interrupted", "failed")
"""Why a run stopped (``Result.stop_reason``)."""


@dataclass(frozen=True)
class Certificates:
    """What every run proves about itself (DESIGN.md §2)."""

    max_mass_drift: float
    min_rho: float
    max_energy_increase: float
    energy_checked: bool
    failed: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        energy = (
            f"max free-energy increase {self.max_energy_increase:.2e}"
            if self.energy_checked else "free energy not checked (source term)"
        )
        verdict = "all certificates hold" if self.ok else "FAILED: " + ", ".join(self.failed)
        return f"mass drift {self.max_mass_drift:.2e}, min rho {self.min_rho:.3g}, {energy}: {verdict}"


@dataclass(frozen=True)
class SpaceError:
    """Spatial error estimates of a run at its output times (:mod:`fempde.solvers.accuracy`):
    from its difference with the same run on a second mesh about twice as fine, times
    ``factor = 1/(1 − r^{−2})`` (second order, ``r`` the ratio of the mesh sizes; 4/3
    for ``r = 2``)."""

    times: Array
    risk: Array
    """``R_h(t)`` of the run."""
    risk_refined: Array
    """``R(t)`` on the second mesh."""
    rho_l1: Array
    """The estimated L1 error of ρ: ``factor · Σ m_i |ρ_h − ρ_fine|`` at the run's nodes."""
    nodes_refined: int
    """The second mesh's nodes."""
    kind: str = "refined"
    """How the second mesh was made: ``"refined"``, ``"remeshed"`` or ``"given"``."""
    factor: float = 4.0 / 3.0
    """``1/(1 − r^{−2})``: the run's error from its difference with the second mesh's."""

    @property
    def risk_error(self) -> Array:
        """The estimated error of ``R_h(t)``: ``factor · |R_h − R_fine|``."""
        return self.factor * np.abs(self.risk - self.risk_refined)

    @property
    def max_risk_error(self) -> float:
        return float(self.risk_error.max()) if self.risk_error.size else 0.0


@dataclass
class Result:
    """The outcome of :func:`fempde.solve`.

    ``history`` maps :data:`~fempde.solvers.record.HISTORY_COLUMNS` to arrays
    (one entry per accepted step). ``stop_reason`` is one of
    :data:`STOP_REASONS`: ``"t_end"``, ``"observer"`` (e.g. steady state),
    ``"interrupted"`` or ``"failed"``. ``risk_time_error`` is the largest
    estimated error of the risk curve from the time stepping (per step: the
    history's ``risk_time_error``); ``space_error`` (present when the run was
    asked for it) holds the spatial estimates per output time.
    """

    space: Space
    system: GradientFlowSystem
    rho: Array
    t: float
    history: dict[str, Array]
    certificates: Certificates
    stop_reason: str
    snapshots: dict[float, Array] = field(default_factory=dict)
    space_error: SpaceError | None = None

    @property
    def ok(self) -> bool:
        return self.certificates.ok

    @property
    def risk_time_error(self) -> float:
        """The largest estimated error of the risk curve from the time stepping (the
        history's ``risk_time_error``; its ``time_error`` is the L1 error of ρ)."""
        return float(self.history["risk_time_error"].max())

    @property
    def relative_risk_time_error(self) -> float:
        """The largest estimated relative error of the risk curve from the time stepping."""
        risk, error = np.abs(self.history["risk"]), self.history["risk_time_error"]
        return float(np.max(error / np.maximum(risk, 1e-300)))

    def describe_accuracy(self) -> str:
        """One line: how accurate the risk curve is (what the CLI prints)."""
        text = (f"risk curve accurate to about ±{self.risk_time_error:.1e} in time "
                f"(at most {self.relative_risk_time_error:.1e} relative)")
        if self.space_error is not None:
            estimate = self.space_error
            relative = float(np.max(estimate.risk_error / np.maximum(np.abs(estimate.risk), 1e-300)))
            second = {"refined": "refined", "remeshed": "h/2", "given": "second"}[estimate.kind]
            text += (f", ±{estimate.max_risk_error:.1e} in space (at most {relative:.1e} relative; "
                     f"{second}-mesh estimate)")
        return text
