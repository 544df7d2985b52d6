"""Why the 3-D time per step grows faster than n: memory, the AMG, or the mesh?

At a Jacobian of the scaling benchmark's flow (τ = 0.01, one implicit-Euler
step of Δt = 0.05 from the uniform density, then the Jacobian of the next
step), on the BCC ball (``--mesh ball``) or on the structured box [−1, 1]³
(``--mesh box``, no negative transmissibilities), prints for each size the cost
of one sparse matrix-vector product per non-zero (flat if the memory hierarchy
is not the cause) and, for three solvers, the setup time, the Krylov
iterations to rtol 1e-6 and the time of setup plus solve per node:

* fempde: plain aggregation (pyamg), the compiled K-cycle inside FGMRES
  (:mod:`fempde.solvers.multigrid`), two Gauss–Seidel sweeps each side on the finest
  level;
* the same hierarchy run by pyamg's V-cycle inside scipy's GMRES, one sweep
  each side (fempde's solver before the compiled cycle);
* pyamg's smoothed aggregation, its V-cycle inside scipy's GMRES.

    python benchmarks/amg.py [--mesh ball|box] [--h 0.0796 0.0398 0.0254]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyamg
import scipy.sparse.linalg as spla
from scaling import space_for  # the meshes of scaling.py

import fempde
from fempde.scenario import script
from fempde.solvers.linalg import LinearSolver
from fempde.solvers.multigrid import Hierarchy, fgmres


def pyamg_gmres(matrix: Any, rhs: np.ndarray, ml: Any) -> int:
    count = [0]
    _, info = spla.gmres(matrix, rhs, rtol=1e-6, atol=0.0, restart=50, maxiter=20, M=ml.aspreconditioner(cycle="V"),
                         callback=lambda _: count.__setitem__(0, count[0] + 1), callback_type="pr_norm")
    assert info == 0
    return count[0]


def compiled(matrix: Any, rhs: np.ndarray, hierarchy: Hierarchy) -> int:
    _, converged, iterations = fgmres(matrix, rhs, hierarchy, 1e-6)
    assert converged
    return iterations


def main() -> None:
    parser = script.parser(__doc__, __file__, "the coarsest mesh only (h = 0.0796)")
    parser.add_argument("--mesh", choices=["ball", "box"], default="ball")
    parser.add_argument("--h", type=float, nargs="+", default=[0.0796, 0.0398, 0.0254])
    args = parser.parse_args()
    if args.quick:
        args.h = args.h[:1]
    with script.report(script.output(args, parser) / f"{args.mesh}.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    plain = LinearSolver("amg", dim=3)._pyamg
    solvers: dict[str, tuple[Callable[[Any], Any], Callable[[Any, np.ndarray, Any], int]]] = {
        "fempde (K-cycle, FGMRES)": (LinearSolver("amg", dim=3)._hierarchy, compiled),
        "plain aggregation, pyamg": (plain, pyamg_gmres),
        "smoothed aggregation, pyamg": (lambda a: pyamg.smoothed_aggregation_solver(a, symmetry="nonsymmetric"),
                                        pyamg_gmres),
    }
    compiled(*_tiny())  # load the compiled kernels before timing
    print(f"{args.mesh}: {'nodes':>8} {'ns/nnz SpMV':>11}  {'AMG':<28} {'setup s':>8} {'solve s':>8} {'its':>4} "
          f"{'us/node':>8}")
    for h in args.h:
        space = space_for(args.mesh, h)
        problem = fempde.PorousMedium(target=lambda x: 1.2 * (1 - (x**2).sum(axis=0)), tau=0.01)
        rho = fempde.solve(problem, space, "uniform", 0.05, options=fempde.StepOptions(dt0=0.05, dt_max=0.05)).rho
        residual, jacobian = problem.discretise(space).linearise(rho, rho, 0.05, 0.10)
        x = np.random.default_rng(0).random(space.n)
        reps = max(3, int(2e8 / jacobian.nnz))
        t0 = time.perf_counter()
        for _ in range(reps):
            jacobian @ x
        spmv = (time.perf_counter() - t0) / reps / jacobian.nnz
        for name, (build, run) in solvers.items():
            t0 = time.perf_counter()
            ml = build(jacobian)
            setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            its = run(jacobian, -residual, ml)
            solve = time.perf_counter() - t0
            print(f"{'':{len(args.mesh) + 2}}{space.n:>8d} {1e9 * spmv:>11.3f}  {name:<28} {setup:>8.3f} {solve:>8.3f} "
                  f"{its:>4d} {1e6 * (setup + solve) / space.n:>8.2f}", flush=True)


def _tiny() -> tuple[Any, np.ndarray, Any]:
    matrix = pyamg.gallery.poisson((12, 12, 12), format="csr")
    return matrix, np.ones(matrix.shape[0]), LinearSolver("amg", dim=3)._hierarchy(matrix)


if __name__ == "__main__":
    main()
