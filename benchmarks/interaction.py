"""The DD interaction ``∫U(θ, θ')ρ(dθ') = Φᵀ W Φ M ρ`` costs O(nM): time one
potential evaluation and one matrix-free Jacobian product against n (nodes)
and M (data points), and print the time per n·M.

    python benchmarks/interaction.py
"""

from __future__ import annotations

import time

import numpy as np

import fempde
import meshes


def measure(h: float, points: int) -> None:
    data = fempde.DataLaw.two_gaussians(0.5, 2, points=points)
    space = fempde.Space(meshes.disk(3.0, h=h))
    system = fempde.DistributionalDynamics(fempde.ridge_unit("piecewise-linear"), data).discretise(space)
    rho = np.full(space.n, 1.0 / space.volume)
    jacobian = system.nonlocal_jacobian(np.ones(space.incidence.shape[0]))
    repeats = 5
    system.potential(rho), jacobian.matvec(rho)  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        system.potential(rho)
    potential = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        jacobian.matvec(rho)
    product = (time.perf_counter() - start) / repeats
    size = space.n * len(data.weights)
    print(f"n = {space.n:>6}  M = {len(data.weights):>6}  n*M = {size:>11,}  potential {potential * 1e3:8.2f} ms "
          f"({potential / size * 1e9:5.2f} ns per n*M)  Jacobian product {product * 1e3:8.2f} ms", flush=True)


def main() -> None:
    for points in (20, 40, 80):  # M grows at fixed n
        measure(0.1, points)
    for h in (0.2, 0.1, 0.05):  # n grows at fixed M
        measure(h, 40)


if __name__ == "__main__":
    main()
