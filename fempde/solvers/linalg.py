"""Sparse linear solves for Newton: a direct LU where it is fastest (1-D, small 2-D/3-D:
:class:`PatternLU` without pivoting on the Jacobians' fixed pattern when the matrix
is diagonally dominant by columns, else SuperLU), AMG-preconditioned Krylov at
scale, GMRES for matrix-free Jacobians.

The Jacobian is a non-symmetric M-matrix-like graph operator (lumped mass plus
edge fluxes). pyamg builds the hierarchy — classical Ruge–Stüben in 2-D, plain
(unsmoothed) aggregation in 3-D, whose coarse operators stay sparse — and
:mod:`fempde.solvers.multigrid` runs it compiled inside flexible GMRES. A
Jacobian with a dense non-local part (:class:`MatrixFreeJacobian`) is solved by
GMRES preconditioned by its sparse local part. Newton only needs inexact solves
(``rtol`` 1e-6 at most, looser while it is far off: see the forcing terms in
:mod:`fempde.solvers.newton`): the mass is restored after each solve. The
choices (solver per dimension, sweeps, hierarchy reuse) are explained in the
comments below; the measurements behind them are in ``benchmarks/results/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from ..checks import choice
from ..fem.jacobian import MatrixFreeJacobian
from .multigrid import Hierarchy, Workspace, fgmres
from .pattern_lu import PatternLU

__all__ = ["LINEAR_SOLVERS", "LinearSolver", "MatrixFreeJacobian", "PatternLU", "choose_solver"]



# Beyond these sizes AMG beats the direct solver (measured with benchmarks/scaling.py).
_DIRECT_LIMIT = {1: 10**9, 2: 3_000, 3: 600}


LINEAR_SOLVERS = ("auto", "direct", "amg")
"""``"auto"`` (direct below the sizes above, AMG beyond), ``"direct"`` (:class:`PatternLU`, or SuperLU for a
matrix that needs pivoting), ``"amg"``."""


def choose_solver(kind: str, n: int, dim: int) -> str:
    """The solver for ``n`` unknowns in ``dim`` dimensions: ``kind``, or for ``"auto"`` the faster one."""
    if choice("linear_solver", kind, LINEAR_SOLVERS) != "auto":
        return kind
    return "direct" if n <= _DIRECT_LIMIT[dim] else "amg"


# When to rebuild a reused AMG hierarchy: once the Krylov iterations (cycles) it
# has cost beyond its first tight solve's count (per decade of reduction) add up
# to about what building a new one costs ("rent or buy": at most twice the work
# of the best schedule in hindsight). In 2-D (Ruge–Stüben) the run time hardly
# depends on the threshold; in 3-D the count climbs fast with an old hierarchy,
# and reuse loses: 3-D rebuilds every step (measurements in benchmarks/results/README.md).
_SETUP_COST = {1: 7, 2: 7, 3: 0}
_TIGHT_DECADES = 3.0  # solves to rtol <= 1e-3 count towards a hierarchy's age
# Gauss–Seidel sweeps on each side on the finest level (one on the others): on the
# ball a forward-backward pair saves more iterations than it costs; on the box and
# in 2-D one sweep is as fast (benchmarks/amg.py; figures in benchmarks/results/README.md).
_FINE_SWEEPS = {1: 1, 2: 1, 3: 2}
# K-cycle (Krylov-accelerated coarse solves) or plain V-cycle. Plain aggregation
# (3-D) needs the K-cycle to scale; Ruge–Stüben (1-D, 2-D) does not, and there the
# K-cycle's repeated visits to the first coarse level, which outgrows the caches
# first, cost more than its saved iterations (figures in benchmarks/results/README.md).
_KCYCLE = {1: False, 2: False, 3: True}
_RESTART = 30  # FGMRES keeps 2 x 31 vectors: 0.5 GB at 10^6 nodes


@dataclass
class LinearSolver:
    """Solves ``J δ = b``. In 2-D the AMG hierarchy outlives a time step: :meth:`refresh`
    (called once per step) drops it once the iterations it has cost beyond its
    first solve's count add up to what a new hierarchy costs to build, and a
    GMRES failure with an old hierarchy is retried with a new one. The count is
    deterministic, so a run repeats exactly."""

    kind: str
    rtol: float = 1e-6
    dim: int = 2
    _amg: Any = field(default=None, repr=False)
    _precond: Any = field(default=None, repr=False)
    _workspace: Workspace = field(default_factory=Workspace, repr=False)
    _factorised: Any = field(default=None, repr=False)  # (matrix, SuperLU or PatternLU) of the last direct solve
    _pattern: PatternLU | None = field(default=None, repr=False)  # the symbolic LU of the Jacobians' pattern
    _first: float | None = None  # iterations per decade of the hierarchy's first tight solve
    _excess: float = 0.0
    iterations: int = 0

    def refresh(self) -> None:
        self._precond = None
        if self._excess >= _SETUP_COST[self.dim]:
            self._amg = None

    def solve(self, jacobian: sp.csr_matrix | MatrixFreeJacobian, rhs: NDArray[np.float64],
              rtol: float | None = None) -> NDArray[np.float64]:
        """``J⁻¹ rhs``; an iterative solve stops at ``‖rhs − J x‖ ≤ rtol ‖rhs‖``
        (``rtol`` defaults to the solver's; Newton passes a looser one while far off)."""
        rtol = self.rtol if rtol is None else float(rtol)
        if not 0 < rtol < 1:
            raise ValueError(f"rtol must lie in (0, 1), got {rtol!r}")
        if isinstance(jacobian, MatrixFreeJacobian):
            return self._solve_matrix_free(jacobian, rhs, rtol)
        if self.kind == "direct":
            if self._pattern is None or not self._pattern.fits(jacobian):
                self._pattern = PatternLU(jacobian) if PatternLU.applies(jacobian) else None
            if self._pattern is not None and self._pattern.factorise(jacobian):
                self._factorised = (jacobian, self._pattern)
                return self._pattern.solve(rhs)
            lu = spla.splu(jacobian.tocsc())
            self._factorised = (jacobian, lu)
            return np.asarray(lu.solve(rhs))
        fresh = self._amg is None
        if fresh:
            self._amg = self._hierarchy(jacobian)
        x, info, count = self._gmres(jacobian, rhs, rtol)
        if info != 0 and not fresh:  # a hierarchy from earlier steps no longer fits: build one for this matrix
            self._amg, fresh = self._hierarchy(jacobian), True
            x, info, count = self._gmres(jacobian, rhs, rtol)
        if info != 0:
            raise np.linalg.LinAlgError(f"GMRES with AMG did not reach rtol={rtol} (info={info})")
        # what an old hierarchy costs beyond a new one, in iterations: measured per
        # decade of residual reduction, so that solves to different tolerances
        # compare, and on the tight solves only (a first decade costs more than the
        # rest, and the loose ones take 2-4 iterations whatever the hierarchy)
        decades = np.log10(1.0 / rtol)
        if fresh:
            self._first, self._excess = None, 0.0
        if decades >= _TIGHT_DECADES:
            if self._first is None:
                self._first = count / decades
            self._excess += max(count - self._first * decades, 0.0)
        return x

    def solve_again(self, jacobian: sp.csr_matrix | MatrixFreeJacobian,
                    rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        """``J⁻¹ rhs`` to a modest accuracy (1e-4) for a matrix just solved with: the
        direct path reuses its factorisation, the others their preconditioner."""
        if self._factorised is not None and self._factorised[0] is jacobian:
            return np.asarray(self._factorised[1].solve(rhs))
        return self.solve(jacobian, rhs, rtol=1e-4)

    def _gmres(self, jacobian: sp.csr_matrix, rhs: NDArray[np.float64],
               rtol: float) -> tuple[NDArray[np.float64], int, int]:
        """FGMRES with the compiled cycle of the current hierarchy: ``x``, 0 if it
        converged (else 1, as scipy's ``info``), and the iterations it took."""
        x, converged, count = fgmres(jacobian, rhs, self._amg, rtol, restart=_RESTART, max_restarts=20,
                                     workspace=self._workspace)
        self.iterations += count
        return x, 0 if converged else 1, count

    def _solve_matrix_free(self, jacobian: MatrixFreeJacobian, rhs: NDArray[np.float64],
                           rtol: float) -> NDArray[np.float64]:
        """GMRES on the full Jacobian, preconditioned by the sparse local part
        (factorised once per time step, like the AMG hierarchy)."""
        if self._precond is None:
            if self.kind == "direct":
                lu = spla.splu(jacobian.local.tocsc())
                self._precond = spla.LinearOperator(jacobian.shape, matvec=lu.solve, dtype=np.float64)
            else:
                self._precond = self._pyamg(jacobian.local.tocsr()).aspreconditioner(cycle="V")
        x, info = spla.gmres(jacobian, rhs, rtol=rtol, atol=0.0, restart=60, maxiter=20,
                             M=self._precond)
        if info != 0:
            raise np.linalg.LinAlgError(f"matrix-free GMRES did not converge (info={info})")
        return np.asarray(x)

    def _hierarchy(self, matrix: sp.csr_matrix) -> Hierarchy:
        return Hierarchy.from_pyamg(self._pyamg(matrix), fine_sweeps=_FINE_SWEEPS[self.dim],
                                    kcycle=_KCYCLE[self.dim])

    def _pyamg(self, matrix: sp.csr_matrix) -> Any:
        import pyamg

        # one Gauss–Seidel sweep forward before, one backward after the coarse
        # correction (pyamg's own cycle, used by the matrix-free path, runs these too)
        smoothers = {"presmoother": ("gauss_seidel", {"sweep": "forward"}),
                     "postsmoother": ("gauss_seidel", {"sweep": "backward"})}
        if self.dim >= 3:  # plain (unsmoothed) aggregation: coarse operators stay sparse
            # The aggregates come from the matrix's own pattern (pyamg's default
            # strength, symmetric with θ = 0, keeps every entry, explicit zeros too,
            # and the aggregation reads only the pattern), and the restriction is the
            # prolongator's transpose. pyamg's "nonsymmetric" setup builds Aᴴ on every
            # level and a restriction from its own candidates: on the ball and the box
            # the same Krylov iterations for a longer setup (benchmarks/results/README.md).
            return pyamg.smoothed_aggregation_solver(matrix, symmetry="symmetric", strength=None, smooth=None,
                                                     **smoothers)
        return pyamg.ruge_stuben_solver(matrix, **smoothers)
