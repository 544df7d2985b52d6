"""Newton's method for one implicit-Euler system, with inexact linear solves.

:class:`Newton` solves ``G(ρ; ρ_old) = 0`` (the system's
:meth:`~fempde.solvers.system.GradientFlowSystem.linearise`) from a start
state, and either returns the density, its iteration count and the last
Jacobian (the error propagation reuses it) or raises :class:`Rejected`, which
tells the stepper to retry with a smaller step: a non-finite residual or
iterate, a failed linear solve, no convergence in ``max_iter`` iterations, or
a density negative beyond the solve's tolerance.

Two properties make every iterate a density of the right mass, and the
solution a density: the Jacobian's columns sum to the lumped masses ``m`` (the
fluxes are antisymmetric), so the mass is restored exactly after an inexact
solve, by a correction in proportion to the density (an empty node is not
touched: a uniform shift wrote a negative on every empty node at each
iteration, which Newton then took iterations to undo and the steps kept);
and the solution's negatives, which the exact discrete solution does not have
(a τ = 0 front or an empty region, where it is 0), are at most the Newton
tolerance ``tol · max(1, max ρ_old)`` deep — deeper ones reject the step — and
are set to 0 with the mass taken back in proportion (:func:`cleared`): a change
within the solve's own accuracy, which :class:`Solution` reports (the run's
history keeps it per step, ``cleared``).
"""

from __future__ import annotations

from typing import NamedTuple, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..fem.jacobian import MatrixFreeJacobian
from .linalg import LinearSolver
from .system import GradientFlowSystem

__all__ = ["ROUND_OFF", "Newton", "Rejected", "Solution", "cleared", "forcing"]

Array = NDArray[np.float64]
Jacobian: TypeAlias = sp.csr_matrix | MatrixFreeJacobian

ROUND_OFF = 1e-14
"""Relative size of the round-off of a solve: negatives below it do not count."""

# Inexact Newton (Eisenstat & Walker 1996, their second choice): the linear
# tolerance of iteration k is η_k = γ (‖G_k‖ / ‖G_{k−1}‖)², kept within [the
# solver's rtol, _FORCING_MAX] (with η ≤ 0.1 their safeguard η_k ≥ γ η²_{k−1},
# meant for η_{k−1} > 1/3, never acts): loose while Newton is far off, as tight
# as before where it converges quadratically. _FORCING_MAX was chosen on the
# disk flow of benchmarks/breakdown.py (benchmarks/results/breakdown_disk.txt).
_FORCING_MAX = 0.01
_FORCING_GAMMA = 0.9


class Rejected(Exception):
    """A step that failed: the stepper retries it smaller (the message says why)."""


class Solution(NamedTuple):
    """What :meth:`Newton.solve` returns: the density, the iterations, the last
    Jacobian solved with, and the depth of the negatives set to 0 (``≥ 0``; 0 where
    there were none)."""

    rho: Array
    iterations: int
    jacobian: Jacobian | None
    cleared: float = 0.0


def forcing(norm: float, previous: float | None, floor: float) -> float:
    """The linear tolerance for the next Newton solve (see the notes above)."""
    if previous is None or previous == 0.0:
        return _FORCING_MAX
    return min(max(_FORCING_GAMMA * (norm / previous) ** 2, floor), _FORCING_MAX)


def cleared(rho: Array, m: Array) -> Array:
    """``rho`` with its round-off negatives set to 0 and the mass they carried taken back
    in proportion (the mass stays exact; the change is of round-off size)."""
    if rho.min() >= 0:
        return rho
    mass = float(m @ rho)
    positive = np.maximum(rho, 0.0)
    return positive * (mass / float(m @ positive))


class Newton:
    """Newton on ``system``'s implicit-Euler residual, stopped at ``tol · max(1, max ρ)``."""

    def __init__(self, system: GradientFlowSystem, solver: LinearSolver, tol: float, max_iter: int) -> None:
        self.system = system
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def solve(self, rho_old: Array, t_old: float, t_new: float, guess: Array | None = None,
              rescaled: float | None = None) -> Solution:
        """Solve the implicit-Euler system from ``rho_old`` (``rescaled``: its step in
        Ξ, when not ``∫ξ`` over ``[t_old, t_new]``). Raises :class:`Rejected`."""
        m, solver = self.system.space.m, self.solver
        rho = rho_old.copy() if guess is None else guess.copy()
        tol = self.tol * max(1.0, float(np.abs(rho_old).max()))
        solver.refresh()
        updates: list[float] = []
        previous: float | None = None
        solved: Jacobian | None = None
        for k in range(1, self.max_iter + 1):
            residual, jacobian = self.system.linearise(rho, rho_old, t_old, t_new, rescaled=rescaled)
            norm = _norm(residual)
            eta, previous = forcing(norm, previous, solver.rtol), norm
            if k > 1 and float(np.abs(residual / m).max()) <= tol:
                # converged here without another solve: for the local flux Jacobian (an
                # M-matrix with column sums m) the next update is at most max |G_i| / m_i
                return _solution(rho, m, tol, k - 1, solved)
            try:
                delta = solver.solve(jacobian, -residual, rtol=eta)
            except (np.linalg.LinAlgError, RuntimeError) as err:
                raise Rejected(str(err)) from err
            solved = jacobian
            # an exact solve keeps Σ m δ = −Σ G; after an inexact (iterative) one the
            # defect goes where the mass is, so the mass is exact at every iterate
            _restore_mass(delta, -residual.sum(), rho, m)
            rho = rho + delta
            if not np.all(np.isfinite(rho)):
                raise Rejected("non-finite iterate")
            updates.append(float(np.abs(delta).max()))
            if updates[-1] <= tol:
                return _solution(rho, m, tol, k, solved)
            # projected on ρ ≥ 0 (mass kept): where the solution is 0 the flux is not
            # differentiable (an empty upwind node sends nothing, whatever its sign), and
            # an iterate negative there would only creep back, a third of the way per
            # iteration; at 0 it is exact
            rho = cleared(rho, m)
        history = ", ".join(f"{u:.1e}" for u in updates[-4:])
        raise Rejected(f"no convergence in {self.max_iter} Newton iterations (last updates {history})")


def _restore_mass(delta: Array, change: float, rho: Array, m: Array) -> None:
    """Add to ``delta`` (in place) what makes ``Σ m δ = change``, in proportion to the
    density ``ρ⁺`` (uniformly where ρ has no positive part)."""
    defect = change - float(m @ delta)
    if defect == 0.0:
        return
    weight = np.maximum(rho, 0.0)
    total = float(m @ weight)
    if total > 0:
        delta += defect * weight / total
    else:
        delta += defect / float(m.sum())


def _solution(rho: Array, m: Array, tol: float, iterations: int, jacobian: Jacobian | None) -> Solution:
    """The converged ``rho`` as a :class:`Solution`: its negatives set to 0 (:func:`cleared`)
    if none is deeper than ``tol``, else :class:`Rejected`."""
    lowest = float(rho.min())
    if lowest < -tol:
        raise Rejected(f"negative density {lowest:.3g}")
    return Solution(cleared(rho, m), iterations, jacobian, max(-lowest, 0.0))


def _norm(residual: Array) -> float:
    """``‖G‖``, or :class:`Rejected` when it is not finite."""
    if not np.all(np.isfinite(residual)):
        raise Rejected("non-finite residual")
    norm = float(np.linalg.norm(residual))
    if not np.isfinite(norm):  # finite entries whose squares overflow
        raise Rejected("residual too large to measure (overflow)")
    return norm
