"""The run loop: discretise, step, hand every step to the observers, certify."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from .checkpoint import HISTORY_COLUMNS, history_row, load_checkpoint
from .observers import Observer, RunInfo, certificate_flags
from .space import NodalFunction, Space
from .stepping import ConvergenceError, Step, steps

__all__ = ["Certificates", "OutputError", "Result", "initial_density", "solve"]


class OutputError(OSError):
    """An observer could not write its output; what was written before stays valid."""

Array = NDArray[np.float64]


def initial_density(space: Space, rho0: NodalFunction | ArrayLike | str, *, mass_tol: float = 2e-2,
                    normalize: bool = False) -> Array:
    """Nodal values of a probability density ``ρ0``: a callable of ``x``, an
    array of nodal values, a number, or ``"uniform"``.

    A density whose discrete mass is within ``mass_tol`` of 1 (interpolation
    error) is rescaled to mass 1 exactly; anything else raises, unless
    ``normalize`` asks for any positive mass to be rescaled.
    """
    if isinstance(rho0, str):
        if rho0 != "uniform":
            raise ValueError(f"rho0 must be a callable, an array, a number or 'uniform', got {rho0!r}")
        rho0 = 1.0 / space.volume
    rho = space.interpolate(rho0, "rho0")
    if np.any(rho < 0):
        k = int(np.argmin(rho))
        raise ValueError(
            f"rho0 is negative at {int((rho < 0).sum())} nodes (min {rho[k]:.3g} at x = {space.x[:, k].tolist()}); "
            "a density must be >= 0"
        )
    mass = space.integrate(rho)
    if mass == 0:
        raise ValueError("rho0 has zero mass (it vanishes at every node); a probability density needs mass 1")
    if not (normalize or abs(mass - 1.0) <= mass_tol):
        raise ValueError(
            f"rho0 has mass {mass:.6g} but must be a probability density (mass 1): "
            f"divide it by {mass:.6g} (for a uniform start use rho0='uniform')"
        )
    return rho / mass


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


@dataclass
class Result:
    """The outcome of :func:`solve`.

    ``history`` maps ``t, dt, free_energy, risk, mass, mass_drift, min_rho,
    newton_iterations, rejected_steps, wall_mass`` to arrays (one entry per accepted step).
    ``stop_reason`` is ``"t_end"``, ``"observer"`` (e.g. steady state) or ``"interrupted"``.
    """

    space: Space
    system: Any
    rho: Array
    t: float
    history: dict[str, Array]
    certificates: Certificates
    stop_reason: str
    snapshots: dict[float, Array] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.certificates.ok


class _History(Observer):
    def __init__(self, mass_tol: float, energy_tol: float, keep: Sequence[float]) -> None:
        self.rows: list[tuple[float, ...]] = []
        self.mass_tol, self.energy_tol = mass_tol, energy_tol
        self.keep = set(float(t) for t in keep)
        self.snapshots: dict[float, Array] = {}
        self.failed: set[str] = set()
        self.max_increase = -np.inf
        self.last: Step | None = None

    def observe(self, step: Step) -> None:
        if step.index:
            self.max_increase = max(self.max_increase, step.energy_increase)
        self.failed.update(certificate_flags(step, self.check_energy, self.mass_tol, self.energy_tol))
        self.rows.append(history_row(step))
        if step.t in self.keep or step.index == 0:
            self.snapshots[step.t] = step.rho
        self.last = step

    def start(self, info: RunInfo) -> None:
        self.check_energy = not info.system.has_source

    def restore(self, checkpoint: Any, system: Any) -> None:
        """Take over the history of a checkpointed run; its last step becomes ``last``."""
        state = checkpoint.state
        self.rows = [tuple(r) for r in checkpoint.history]
        self.failed = set(checkpoint.failed)
        self.max_increase = checkpoint.max_energy_increase
        rho = state.rho.copy()
        rho.flags.writeable = False
        self.last = Step(state.index, state.t, 0.0, rho, state.free_energy, system.risk(rho),
                         system.space.integrate(rho), state.expected_mass, 0, 0, False, 0.0, state.dt_next,
                         system.space.wall_mass(rho))

def solve(
    problem: Any,
    mesh: Mesh | Space,
    rho0: NodalFunction | ArrayLike | str,
    t_end: float,
    observers: Sequence[Observer] = (),
    *,
    times: Sequence[float] = (),
    force: bool = False,
    mass_tol: float = 1e-12,
    energy_tol: float = 1e-11,
    resume: str | Path | None = None,
    **stepping: Any,
) -> Result:
    """Solve ``problem`` on ``mesh`` from ``rho0`` to ``t_end``.

    Parameters
    ----------
    problem
        A problem with ``discretise(space)``, e.g. :class:`fempde.PorousMedium`.
    mesh
        A scikit-fem mesh (checked; ``force=True`` accepts negative
        transmissibilities) or a prepared :class:`Space`.
    rho0
        Initial probability density, see :func:`initial_density`.
    observers
        Progress bars, writers, monitors; any may stop the run.
    times
        Times the stepper must land on (output times); their densities are
        kept in ``Result.snapshots``.
    mass_tol, energy_tol
        Tolerances of the certificates (relative mass drift; free-energy
        increase relative to ``max(1, |F|)``).
    resume
        A checkpoint written by :class:`fempde.Checkpointer`: continue from it
        (``rho0`` still defines the run but is not used; the history before the
        checkpoint is restored, its snapshots are not).
    **stepping
        ``dt0``, ``dt_max``, ``dt_min``, ``newton_tol``, ``max_newton``,
        ``linear_solver``, ``scheme`` (``"euler"`` or ``"bdf2"``) of :func:`fempde.stepping.steps`.

    A Ctrl-C ends the run cleanly: observers finish (files stay valid) and the
    result has ``stop_reason == "interrupted"``.
    """
    space = mesh if isinstance(mesh, Space) else Space(mesh, force=force)
    system = problem.discretise(space)
    rho = initial_density(space, rho0)
    times = tuple(sorted(float(t) for t in times))
    history = _History(mass_tol, energy_tol, times)
    start = None
    if resume is not None:
        checkpoint = load_checkpoint(resume)
        start = checkpoint.state
        if start.rho.shape != rho.shape:
            raise ValueError(f"checkpoint {resume} holds {start.rho.size} nodal values, the mesh has {rho.size}")
        history.restore(checkpoint, system)
    attached = [history, *observers]
    info = RunInfo(system, float(t_end), times, *((start.index, start.t) if start is not None else (0, 0.0)))
    stepper = steps(system, rho, t_end, times=times, start=start, **stepping)
    for observer in attached:
        observer.start(info)
    reason = "t_end"
    error: BaseException | None = None
    try:
        for step in stepper:
            if any([bool(o.observe(step)) for o in attached]):
                reason = "observer"
                break
    except KeyboardInterrupt:
        reason = "interrupted"
    except ConvergenceError as err:
        reason, error = "failed", err
    except OSError as err:  # an observer could not write: disk full, permissions
        t = history.last.t if history.last is not None else 0.0
        reason = "failed"
        error = OutputError(
            f"writing output failed at t = {t:.6g} ({err.strerror or err}); the run stopped and the "
            "files written before are complete (each was written under a temporary name, then renamed)"
        )
        error.__cause__ = err
    result = _result(space, system, history, reason)
    for observer in attached:
        try:
            observer.finish(result)
        except OSError:
            if error is None:
                raise
    if error is not None:
        raise error
    return result


def _result(space: Space, system: Any, history: _History, reason: str) -> Result:
    names = HISTORY_COLUMNS
    table = np.array(history.rows, dtype=float).reshape(-1, len(names))
    columns = {name: table[:, k] for k, name in enumerate(names)}
    assert history.last is not None
    certificates = Certificates(
        max_mass_drift=float(columns["mass_drift"].max()),
        min_rho=float(columns["min_rho"].min()),
        max_energy_increase=float(history.max_increase) if len(table) > 1 else 0.0,
        energy_checked=history.check_energy,
        failed=tuple(sorted(history.failed)),
    )
    return Result(space, system, np.array(history.last.rho), history.last.t, columns, certificates,
                  reason, history.snapshots)
