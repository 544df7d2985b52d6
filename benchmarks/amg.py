"""Why the 3-D time per step grows faster than n: memory or iterations?

On the 3-D ball, at a Jacobian of the scaling benchmark's flow (τ = 0.01, one
implicit-Euler step of Δt = 0.05 from the uniform density, then the Jacobian
of the next step), prints for each size the cost of one sparse
matrix-vector product per non-zero (flat if the memory hierarchy is not the
cause) and, for fempde's AMG (plain aggregation, one forward / one backward
Gauss–Seidel sweep) and for smoothed aggregation, the setup time, the GMRES
iterations to rtol 1e-6 and the time of setup plus solve per node.

    python benchmarks/amg.py [--h 0.0796 0.0398 0.0254]
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pyamg

import fempde
import meshes
from fempde.linalg import LinearSolver


def solve(matrix: Any, rhs: np.ndarray, build: Callable[[Any], Any]) -> tuple[float, float, int]:
    """Setup time, solve time and GMRES iterations with fempde's own GMRES settings."""
    solver = LinearSolver("amg", dim=3)
    t0 = time.perf_counter()
    solver._amg = build(matrix)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, info, iterations = solver._gmres(matrix, rhs)
    assert info == 0
    return setup, time.perf_counter() - t0, iterations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h", type=float, nargs="+", default=[0.0796, 0.0398, 0.0254])
    args = parser.parse_args()
    ours = LinearSolver("amg", dim=3)._hierarchy
    solvers = {"fempde (plain aggregation)": ours,
               "smoothed aggregation": lambda a: pyamg.smoothed_aggregation_solver(a, symmetry="nonsymmetric")}
    print(f"{'nodes':>8} {'ns/nnz SpMV':>11}  {'AMG':<27} {'setup s':>8} {'solve s':>8} {'its':>4} {'us/node':>8}")
    for h in args.h:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the ball's negative transmissibilities, see meshes.ball
            space = fempde.Space(meshes.ball(radius=1.0, h=h), force=True)
        problem = fempde.PorousMedium(target=lambda x: 1.2 * (1 - (x**2).sum(axis=0)), tau=0.01)
        rho = fempde.solve(problem, space, "uniform", 0.05, dt0=0.05, dt_max=0.05).rho
        residual, jacobian = problem.discretise(space).linearise(rho, rho, 0.05, 0.10)
        x = np.random.default_rng(0).random(space.n)
        reps = max(3, int(2e8 / jacobian.nnz))
        t0 = time.perf_counter()
        for _ in range(reps):
            jacobian @ x
        spmv = (time.perf_counter() - t0) / reps / jacobian.nnz
        for name, build in solvers.items():
            setup, run, its = solve(jacobian, -residual, build)
            print(f"{space.n:>8d} {1e9 * spmv:>11.3f}  {name:<27} {setup:>8.3f} {run:>8.3f} {its:>4d} "
                  f"{1e6 * (setup + run) / space.n:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
