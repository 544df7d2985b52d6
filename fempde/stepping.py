"""Implicit Euler (or BDF2) + Newton with an adaptive time step, as a generator of immutable steps.

BDF2 is written as an implicit-Euler step of size ``k(1 + ω)/(1 + 2ω)`` from
``ρ̃ = ((1 + ω)² ρ_n − ω² ρ_{n−1}) / (1 + 2ω)`` (``ω = k_n / k_{n−1}``): the same
Newton system, second order in time. ``ρ̃`` has the mass of ``ρ_n``, so mass
stays exact; where ``ρ̃`` would be negative somewhere (or ``ω > 2``, or there is
no history yet, or a source term) the step is an implicit-Euler step, so
``ρ ≥ 0`` holds for every step. The free-energy decay is proved for implicit
Euler only; for BDF2 it is checked (the energy certificate) rather than given.

The stepper knows nothing of output: it yields :class:`Step` records and the
run loop (:func:`fempde.solve`) hands them to observers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .linalg import LinearSolver, choose_solver
from .space import Space

__all__ = ["ConvergenceError", "GradientFlowSystem", "Step", "StepperState", "steps"]

Array = NDArray[np.float64]


class ConvergenceError(RuntimeError):
    """Newton failed even with the smallest allowed time step."""


class GradientFlowSystem(Protocol):
    """What the stepper needs from a discretised problem."""

    space: Space
    has_source: bool

    def linearise(
        self, rho: Array, rho_old: Array, t_old: float, t_new: float
    ) -> tuple[Array, sp.csr_matrix]: ...

    def free_energy(self, rho: Array) -> float: ...

    def risk(self, rho: Array) -> float: ...

    def source(self, t: float) -> Array | None: ...


@dataclass(frozen=True)
class Step:
    """One accepted time step (index 0 is the initial state)."""

    index: int
    t: float
    dt: float
    rho: Array
    free_energy: float
    risk: float
    mass: float
    expected_mass: float
    newton_iterations: int
    rejected: int
    at_output_time: bool
    energy_increase: float = 0.0
    """``F_h`` now minus ``F_h`` at the previous step (0 at the initial state)."""
    dt_next: float = 0.0
    """The step size the controller will try next (what a resumed run needs)."""
    wall_mass: float = 0.0
    """Mass within two mesh sizes of the wall: large values mean the walls matter."""
    rho_before: Array | None = None
    """The state one step earlier (BDF2 needs it)."""
    scheme: str = "euler"
    """The scheme this step was taken with: ``"euler"`` or ``"bdf2"``."""

    def state(self) -> StepperState:
        """What :func:`steps` needs to continue from this step exactly."""
        before = None if self.rho_before is None else np.array(self.rho_before)
        return StepperState(self.index, self.t, np.array(self.rho), self.dt_next, self.expected_mass,
                            self.free_energy, before, self.dt)

    @property
    def min_rho(self) -> float:
        return float(self.rho.min())

    @property
    def mass_drift(self) -> float:
        """``|mass − expected| / expected``; expected is the initial mass plus the integrated source."""
        return abs(self.mass - self.expected_mass) / abs(self.expected_mass)


@dataclass(frozen=True)
class StepperState:
    """A point to resume stepping from (see :meth:`Step.state` and :mod:`fempde.checkpoint`)."""

    index: int
    t: float
    rho: Array
    dt_next: float
    expected_mass: float
    free_energy: float
    rho_before: Array | None = None
    dt_last: float = 0.0


# Inexact Newton (Eisenstat & Walker 1996, their second choice): the linear
# tolerance of iteration k is η_k = γ (‖G_k‖ / ‖G_{k−1}‖)², kept within [the
# solver's rtol, _FORCING_MAX] (with η ≤ 0.1 their safeguard η_k ≥ γ η²_{k−1},
# meant for η_{k−1} > 1/3, never acts). Loose while Newton is far off, as tight as
# before where it converges quadratically. On the disk flow of
# benchmarks/breakdown.py (1.5e4 / 2.3e5 / 9e5 nodes) the Krylov iterations per
# solve fell from 10.8 / 14.5 / 16.2 to 8.9 / 9.2 / 10.3, with 4.33 Newton
# iterations per step as before; _FORCING_MAX = 0.1 took 4.67 at 9e5 nodes and
# was slower there by 7 %, 0.001 by 7 % too.
_FORCING_MAX = 0.01
_FORCING_GAMMA = 0.9


def _forcing(norm: float, previous: float | None, floor: float) -> float:
    """The linear tolerance for the next Newton solve (see the notes above)."""
    if previous is None or previous == 0.0:
        return _FORCING_MAX
    return min(max(_FORCING_GAMMA * (norm / previous) ** 2, floor), _FORCING_MAX)


class _Rejected(Exception):
    pass


def _newton(
    system: GradientFlowSystem,
    rho_old: Array,
    t_old: float,
    t_new: float,
    solver: LinearSolver,
    tol: float,
    max_iter: int,
    guess: Array | None = None,
) -> tuple[Array, int]:
    m = system.space.m
    rho = rho_old.copy() if guess is None else guess.copy()
    scale = max(1.0, float(np.abs(rho_old).max()))
    solver.refresh()
    updates: list[float] = []
    previous: float | None = None
    for k in range(1, max_iter + 1):
        residual, jacobian = system.linearise(rho, rho_old, t_old, t_new)
        if not np.all(np.isfinite(residual)):
            raise _Rejected("non-finite residual")
        norm = float(np.linalg.norm(residual))
        eta, previous = _forcing(norm, previous, solver.rtol), norm
        if k > 1 and float(np.abs(residual / m).max()) <= tol * scale:
            # converged here without another solve: for the local flux Jacobian (an
            # M-matrix with column sums m) the next update is at most max |G_i| / m_i
            return _nonnegative(rho, tol * scale), k - 1
        try:
            delta = solver.solve(jacobian, -residual, rtol=eta)
        except (np.linalg.LinAlgError, RuntimeError) as err:
            raise _Rejected(str(err)) from err
        # The columns of the Jacobian sum to m (fluxes are antisymmetric), so an
        # exact solve keeps Σ m δ = −Σ G; restoring it after an inexact
        # (iterative) solve keeps the mass exact at every iterate.
        delta += (-residual.sum() - m @ delta) / m.sum()
        rho += delta
        if not np.all(np.isfinite(rho)):
            raise _Rejected("non-finite iterate")
        updates.append(float(np.abs(delta).max()))
        if updates[-1] <= tol * scale:
            return _nonnegative(rho, tol * scale), k
    history = ", ".join(f"{u:.1e}" for u in updates[-4:])
    raise _Rejected(f"no convergence in {max_iter} Newton iterations (last updates {history})")


def _nonnegative(rho: Array, slack: float) -> Array:
    if rho.min() < -slack:
        raise _Rejected(f"negative density {rho.min():.3g}")
    return rho


def steps(
    system: GradientFlowSystem,
    rho0: Array,
    t_end: float,
    *,
    times: Sequence[float] = (),
    dt0: float | None = None,
    dt_max: float | None = None,
    dt_min: float | None = None,
    newton_tol: float = 1e-11,
    max_newton: int = 25,
    linear_solver: str = "auto",
    start: StepperState | None = None,
    scheme: str = "euler",
) -> Iterator[Step]:
    """Advance ``ρ`` from ``t = 0`` to ``t_end`` by implicit Euler (``scheme="euler"``)
    or BDF2 (``scheme="bdf2"``, second order; see the module notes), yielding every accepted step.

    Steps land exactly on each of ``times`` (and on ``t_end``); those steps have
    ``at_output_time=True``. Newton stops when its update, or the residual
    per lumped mass ``max |G_i| / m_i`` at the new iterate (which bounds the
    next update without solving for it), is below ``newton_tol · max(1, max ρ)``.
    A step whose Newton iteration fails, or whose density falls below
    ``−newton_tol · max(1, max ρ)`` (anything beyond the round-off of the solve),
    is rejected and retried with half the time step; the step grows by 1.5 after
    easy (<= 4 iterations) steps and shrinks by 0.7 after hard (> 10) ones.
    Raises :class:`ConvergenceError` below ``dt_min``.

    With ``start`` (a :class:`StepperState`), stepping continues from there —
    same time, density, step size and mass bookkeeping, so the steps that follow
    are those the uninterrupted run takes — and the initial state is not yielded
    again; ``rho0`` is then ignored.
    """
    t_end = float(t_end)
    if not np.isfinite(t_end) or t_end <= 0:
        raise ValueError(f"t_end must be a positive number, got {t_end!r}")
    marks = np.unique(np.append(np.asarray(times, dtype=float), t_end))
    if marks[0] <= 0 or marks[-1] > t_end:
        raise ValueError(f"output times must lie in (0, t_end={t_end}], got {list(times)}")
    dt = float(dt0) if dt0 is not None else 1e-3 * t_end
    dt_max = float(dt_max) if dt_max is not None else t_end / 20
    dt_min = float(dt_min) if dt_min is not None else 1e-12 * t_end
    if not (0 < dt_min <= dt <= dt_max):
        raise ValueError(f"need 0 < dt_min <= dt0 <= dt_max, got {dt_min}, {dt}, {dt_max}")
    if scheme not in ("euler", "bdf2"):
        raise ValueError(f"scheme must be 'euler' (implicit Euler) or 'bdf2', got {scheme!r}")
    space = system.space
    solver = LinearSolver(choose_solver(linear_solver, space.n, space.dim), dim=space.dim)

    rho_before: Array | None = None
    dt_last = 0.0
    if start is None:
        rho = np.array(rho0, dtype=np.float64)
        t, index, expected = 0.0, 0, space.integrate(rho)
        energy = system.free_energy(rho)
    else:
        rho = np.array(start.rho, dtype=np.float64)
        t, index, expected, energy, dt = start.t, start.index, start.expected_mass, start.free_energy, start.dt_next
        rho_before, dt_last = start.rho_before, start.dt_last
    rejected, reasons = 0, []
    used = "euler"
    next_mark = int(np.searchsorted(marks, t, side="right"))

    def record(step_dt: float, iterations: int, mark: bool) -> Step:
        nonlocal energy
        frozen = rho.copy()
        frozen.flags.writeable = False
        previous, energy = energy, system.free_energy(rho)
        return Step(
            index, t, step_dt, frozen, energy, system.risk(rho), space.integrate(rho), expected,
            iterations, rejected, mark, energy - previous, dt, space.wall_mass(rho), rho_before, used,
        )

    if start is None:
        yield record(0.0, 0, False)
    while t < t_end:
        target = float(marks[next_mark])
        t_new = min(t + dt, target)
        if target - t_new < 1e-9 * dt:  # don't leave a sliver before an output time
            t_new = target
        k = t_new - t
        start_from, t_from, guess, used = rho, t, None, "euler"
        if scheme == "bdf2" and rho_before is not None and 0 < k <= 2 * dt_last and not system.has_source:
            w = k / dt_last
            tilde = ((1 + w) ** 2 * rho - w**2 * rho_before) / (1 + 2 * w)
            if tilde.min() >= 0:  # else this step is implicit Euler: ρ ≥ 0 is kept
                start_from, t_from, used = tilde, t_new - k * (1 + w) / (1 + 2 * w), "bdf2"
                guess = np.maximum(rho + w * (rho - rho_before), 0.5 * rho)  # extrapolated; log ρ needs ρ > 0
        try:
            rho_new, iterations = _newton(system, start_from, t_from, t_new, solver, newton_tol, max_newton, guess)
        except _Rejected as why:
            rejected += 1
            reasons.append(f"dt={t_new - t:.3g}: {why}")
            dt *= 0.5
            if dt < dt_min:
                raise ConvergenceError(
                    f"time step fell below dt_min={dt_min:.3g} at t={t:.6g} after {rejected} rejected tries "
                    f"(last: {'; '.join(reasons[-3:])}); try a finer mesh, a smaller dt0 or a larger max_newton"
                ) from None
            continue
        src = system.source(t_new)
        if src is not None:
            expected += (t_new - t) * space.integrate(src)
        rho_before, dt_last = rho, k
        step_dt, t, rho = k, t_new, rho_new
        index += 1
        mark = t == target
        if mark:
            next_mark += 1
        if iterations <= 4:
            dt = min(1.5 * dt, dt_max)
        elif iterations > 10:
            dt *= 0.7
        yield record(step_dt, iterations, mark)
        rejected, reasons = 0, []
