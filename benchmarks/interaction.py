"""The DD interaction ``∫U(θ, θ')ρ(dθ') = Φᵀ W Φ M ρ`` costs O(nM): time one
potential evaluation and one matrix-free Jacobian product against n (nodes)
and M (data points), and print the time per n·M; then the size of issue 6,
n = 10^5 nodes and M = 10^4 data points (Φ alone is 8 GB there; nothing is
n × n), with the peak resident memory.

    python benchmarks/interaction.py [--skip-large]
"""

from __future__ import annotations

import resource
import time

import numpy as np

import fempde
import meshes
from fempde.scenario import script


def measure(h: float, points: int) -> None:
    data = fempde.DataLaw.two_gaussians(0.5, 2, points=points)
    start = time.perf_counter()
    space = fempde.Space(meshes.disk(3.0, h=h))
    system = fempde.DistributionalDynamics(fempde.ridge_unit("piecewise-linear"), data).discretise(space)
    setup = time.perf_counter() - start
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
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"n = {space.n:>6}  M = {len(data.weights):>6}  n*M = {size:>13,}  potential {potential * 1e3:9.2f} ms "
          f"({potential / size * 1e9:5.2f} ns per n*M)  Jacobian product {product * 1e3:9.2f} ms  "
          f"(setup {setup:.1f} s, Phi {system.phi_matrix.nbytes / 1e9:.2f} GB, peak RSS so far "
          f"{rss / 1e9:.2f} GB)", flush=True)
    del system, jacobian


def main() -> None:
    parser = script.parser(__doc__, __file__, "one M and one n (h = 0.1, 20 points), no large case")
    parser.add_argument("--skip-large", action="store_true", help="leave out n = 1e5, M = 1e4 (8 GB)")
    args = parser.parse_args()
    with script.report(script.output(args, parser) / "interaction.txt"):
        if args.quick:
            measure(0.1, 20)
            return
        for points in (20, 40, 80):  # M grows at fixed n
            measure(0.1, points)
        for h in (0.2, 0.1, 0.05):  # n grows at fixed M
            measure(h, 40)
        if not args.skip_large:
            measure(0.0172, 71)  # n ≈ 1.0e5 nodes, M = 2 · 71² ≈ 1.0e4 points


if __name__ == "__main__":
    main()
