"""Sparse linear solves for Newton: SuperLU where it is fastest (1-D, small 2-D/3-D),
AMG (pyamg) preconditioning GMRES at scale.

The Jacobian is a non-symmetric M-matrix-like graph operator (lumped mass plus
edge fluxes). In 2-D classical Ruge–Stüben AMG beat smoothed aggregation by
1.4–1.7x. In 3-D (the BCC ball) its coarse operators fill in (operator
complexity 3.8 at 1.3e5 nodes); aggregation keeps them sparse (1.05), and
plain (unsmoothed) aggregation with one forward and one backward Gauss–Seidel
sweep beat pyamg's default smoothed aggregation by 2.0x at 1.3e5 nodes and
2.2x at 5e5 (setup and one solve: 0.30 s against 0.60 s, 1.41 s against
3.06 s; benchmarks/amg.py), its extra iterations costing less than the
prolongator smoothing saved. Newton only needs inexact solves (rtol 1e-6): the mass is
restored after each solve, and the outer iteration converges to the Newton
tolerance all the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

__all__ = ["LinearSolver", "MatrixFreeJacobian", "choose_solver"]


class MatrixFreeJacobian(spla.LinearOperator):  # type: ignore[misc]
    """``J = local + nonlocal``: a sparse local part (fluxes at frozen ``φ``) and a
    matrix-free non-local part; solved by GMRES preconditioned with the local part."""

    def __init__(self, local: sp.csr_matrix, nonlocal_part: spla.LinearOperator) -> None:
        super().__init__(dtype=np.float64, shape=local.shape)
        self.local = local
        self.nonlocal_part = nonlocal_part

    def _matvec(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.local @ v + self.nonlocal_part.matvec(v)).ravel()

# Beyond these sizes AMG beats the direct solver (measured with benchmarks/scaling.py).
_DIRECT_LIMIT = {1: 10**9, 2: 3_000, 3: 600}


def choose_solver(kind: str, n: int, dim: int) -> str:
    if kind not in ("auto", "direct", "amg"):
        raise ValueError(f"linear_solver must be 'auto', 'direct' or 'amg', got {kind!r}")
    if kind != "auto":
        return kind
    return "direct" if n <= _DIRECT_LIMIT[dim] else "amg"


# When to rebuild a reused AMG hierarchy: once the GMRES iterations (V-cycles) it
# has cost beyond its first solve's count add up to about what building a new one
# costs ("rent or buy": at most twice the work of the best schedule in hindsight).
# Ruge–Stüben in 2-D costs about 7 iterations to build, and reuse saves 15-20 % of
# a run (1.7e4 nodes). In 3-D the count climbs by 5 per step with an old
# hierarchy (16 -> 21 -> 26 at 1.3e5 nodes, smoothed aggregation, which costs
# about 16 iterations to build) and reuse lost 5 %; plain aggregation costs about
# 6, so reuse has even less to gain: 3-D rebuilds every step.
_SETUP_COST = {1: 7, 2: 7, 3: 0}


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
    _first: int = 0
    _excess: int = 0
    iterations: int = 0

    def refresh(self) -> None:
        self._precond = None
        if self._excess >= _SETUP_COST[self.dim]:
            self._amg = None

    def solve(self, jacobian: sp.csr_matrix | MatrixFreeJacobian, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        if isinstance(jacobian, MatrixFreeJacobian):
            return self._solve_matrix_free(jacobian, rhs)
        if self.kind == "direct":
            return np.asarray(spla.spsolve(jacobian.tocsc(), rhs))
        fresh = self._amg is None
        if fresh:
            self._amg = self._hierarchy(jacobian)
        x, info, count = self._gmres(jacobian, rhs)
        if info != 0 and not fresh:  # a hierarchy from earlier steps no longer fits: build one for this matrix
            self._amg, fresh = self._hierarchy(jacobian), True
            x, info, count = self._gmres(jacobian, rhs)
        if info != 0:
            raise np.linalg.LinAlgError(f"GMRES with AMG did not reach rtol={self.rtol} (info={info})")
        if fresh:
            self._first, self._excess = count, 0
        self._excess += max(count - self._first, 0)
        return x

    def _gmres(self, jacobian: sp.csr_matrix, rhs: NDArray[np.float64]) -> tuple[NDArray[np.float64], int, int]:
        counter = [0]

        def count(_: Any) -> None:
            counter[0] += 1

        x, info = spla.gmres(
            jacobian,
            rhs,
            rtol=self.rtol,
            atol=0.0,
            restart=50,
            maxiter=20,
            M=self._amg.aspreconditioner(cycle="V"),
            callback=count,
            callback_type="pr_norm",
        )
        self.iterations += counter[0]
        return np.asarray(x), int(info), counter[0]

    def _solve_matrix_free(self, jacobian: MatrixFreeJacobian, rhs: NDArray[np.float64]) -> NDArray[np.float64]:
        """GMRES on the full Jacobian, preconditioned by the sparse local part
        (factorised once per time step, like the AMG hierarchy)."""
        if self._precond is None:
            if self.kind == "direct":
                lu = spla.splu(jacobian.local.tocsc())
                self._precond = spla.LinearOperator(jacobian.shape, matvec=lu.solve, dtype=np.float64)
            else:
                self._precond = self._hierarchy(jacobian.local.tocsr()).aspreconditioner(cycle="V")
        x, info = spla.gmres(jacobian, rhs, rtol=min(self.rtol, 1e-8), atol=0.0, restart=60, maxiter=20,
                             M=self._precond)
        if info != 0:
            raise np.linalg.LinAlgError(f"matrix-free GMRES did not converge (info={info})")
        return np.asarray(x)

    def _hierarchy(self, matrix: sp.csr_matrix) -> Any:
        import pyamg

        # one Gauss–Seidel sweep forward before, one backward after the coarse
        # correction: more iterations than symmetric sweeps, each half the cost
        smoothers = {"presmoother": ("gauss_seidel", {"sweep": "forward"}),
                     "postsmoother": ("gauss_seidel", {"sweep": "backward"})}
        if self.dim >= 3:  # plain (unsmoothed) aggregation: coarse operators stay sparse
            return pyamg.smoothed_aggregation_solver(matrix, symmetry="nonsymmetric", smooth=None, **smoothers)
        return pyamg.ruge_stuben_solver(matrix, **smoothers)
