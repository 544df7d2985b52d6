"""Where a time step goes, against the number of nodes: AMG setup, Krylov solves,
assembly and the rest, with the Newton and Krylov iteration counts.

The flow and steps of ``benchmarks/scaling.py`` (τ = 0.01, three implicit-Euler
steps of Δt = 0.05 from the uniform density). fempde's solver and assembly
are wrapped with timers (this script's only intrusion); the per-node cost of
one Krylov iteration separates what the algorithm does (iteration counts that
grow with n) from what the machine does (the same work costing more per node
once the matrices outgrow the caches).

    python benchmarks/breakdown.py [--domain disk|ball|box] [--nodes 1.5e4 6e4 2.4e5 9.5e5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from scaling import NODES_PER_H, flow, space_for  # the same meshes and flow as scaling.py

import fempde
import fempde.solvers.linalg
from fempde.problems.porous_medium import PorousMediumSystem
from fempde.scenario import script

STEPS, DT = 3, 0.05


def timed(owner: Any, name: str, clock: dict[str, float], key: str,
          counts: list[int] | None = None) -> Callable[[], None]:
    """Wrap ``owner.name`` so that its wall time adds to ``clock[key]``; returns the undo."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        out = original(*args, **kwargs)
        clock[key] += time.perf_counter() - start
        if counts is not None:
            counts.append(out[2])  # LinearSolver._gmres: (x, info, iterations)
        return out

    setattr(owner, name, wrapper)
    return lambda: setattr(owner, name, original)


def measure(domain: str, nodes: float) -> None:
    c, dim = NODES_PER_H[domain]
    space = space_for(domain, (c / nodes) ** (1 / dim) * 1.0001)
    problem = flow(DT)
    clock = {"setup": 0.0, "solve": 0.0, "assembly": 0.0}
    krylov: list[int] = []
    undo = [timed(fempde.solvers.linalg.LinearSolver, "_hierarchy", clock, "setup"),
            timed(fempde.solvers.linalg.LinearSolver, "_gmres", clock, "solve", krylov),
            timed(PorousMediumSystem, "linearise", clock, "assembly")]
    start = time.perf_counter()
    result = fempde.solve(problem, space, "uniform", STEPS * DT, options=fempde.StepOptions(dt0=DT, dt_max=DT))
    total = time.perf_counter() - start
    for restore in undo:
        restore()
    n = space.n
    newton = int(result.history["newton_iterations"].sum())
    rest = total - sum(clock.values())
    per_node = 1e9 / STEPS / n
    iteration = 1e9 * clock["solve"] / max(sum(krylov), 1) / n
    print(f"{domain:>5} {n:>9d} {total / STEPS:>8.3f} {per_node * total:>8.0f} {per_node * clock['setup']:>8.0f} "
          f"{per_node * clock['solve']:>8.0f} {per_node * clock['assembly']:>8.0f} {per_node * rest:>8.0f} "
          f"{newton / STEPS:>7.2f} {sum(krylov) / max(len(krylov), 1):>7.1f} {iteration:>10.1f}", flush=True)


def main() -> None:
    parser = script.parser(__doc__, __file__, "the smallest mesh only (1.5e4 nodes)")
    parser.add_argument("--domain", choices=sorted(NODES_PER_H), default="disk")
    parser.add_argument("--nodes", type=float, nargs="+", default=[1.5e4, 6e4, 2.4e5, 9.5e5])
    args = parser.parse_args()
    if args.quick:
        args.nodes = args.nodes[:1]
    with script.report(script.output(args, parser) / f"{args.domain}.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    print(f"{'':>5} {'':>9} {'s/step':>8} {'ns per node and step':^44} {'Newton':>7} {'Krylov':>7} {'ns/node per':>10}")
    print(f"{'mesh':>5} {'nodes':>9} {'':>8} {'total':>8} {'setup':>8} {'solve':>8} {'assembly':>8} {'rest':>8} "
          f"{'/step':>7} {'/solve':>7} {'Krylov it.':>10}")
    for nodes in args.nodes:
        measure(args.domain, nodes)


if __name__ == "__main__":
    main()
