"""Wall time per time step and per Newton iteration, and peak memory, against
the number of nodes, on the 2-D disk and the 3-D ball (and, for comparison,
the 3-D box, whose mesh has no negative P1 transmissibilities; the ball's
space takes the Voronoi-dual ones, ``benchmarks/voronoi.py``).

The viscous porous-medium flow (τ = 0.01, Scharfetter–Gummel fluxes), a few
implicit-Euler steps of fixed size from the uniform density; the linear solver
is fempde's default for the size (SuperLU, then AMG: a compiled V-cycle (2-D)
or K-cycle (3-D) in FGMRES). What does not change is built once per mesh
(transmissibilities, the Jacobian's sparsity pattern and its slots, the nodes
near the wall) and timed apart as setup, as is loading the compiled kernels;
each Newton iteration only fills new values into that pattern. Each size runs in its own process, so its peak resident
memory is its own. The run of steps is repeated and the fastest run counts
(``benchmarks/timing.py``: until ``MIN_SECONDS`` have passed, at most
``MAX_RUNS`` times, the ``timeit`` convention): a small size's few milliseconds per step otherwise move the fitted
slope by ±0.03 from one invocation to the next. Prints a table and the fitted
slope of log(time per step) against log(n).

    python benchmarks/scaling.py [--domain disk|ball|box] [--max-nodes 1000000] [--steps 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
from timing import best_of

import fempde
import meshes
from fempde.scenario import script

NODES_PER_H = {"disk": (3.3, 2), "ball": (8.2, 3), "box": (8.0, 3)}  # n ≈ c / h^dim for each generator


def space_for(domain: str, h: float) -> fempde.Space:
    """The space of ``domain`` at mesh size ``h``, with what is built once per mesh built."""
    if domain == "disk":
        space = fempde.Space(meshes.disk(radius=1.0, h=h))
    elif domain == "box":  # [−1, 1]³: no negative transmissibilities, for comparison with the ball
        space = fempde.Space(meshes.box((-1, -1, -1), (1, 1, 1), h=h))
    else:  # the ball's P1 stiffness has negative T_ij next to the sphere: the space takes the Voronoi dual's
        space = fempde.Space(meshes.ball(radius=1.0, h=h))
    _ = space.jacobian_pattern  # built once per space, part of the setup
    _ = space.wall_layer  # likewise (the nodes near the wall, for the wall-mass diagnostic)
    return space


def flow(dt: float) -> fempde.PorousMedium:
    """The benchmark's flow, after loading the compiled kernels (once a process: fluxes, then multigrid)."""
    problem = fempde.PorousMedium(target=lambda x: 1.2 * (1 - (x**2).sum(axis=0)), tau=0.01)
    for solver in ("direct", "amg"):
        fempde.solve(problem, meshes.interval(-1, 1, h=0.5), "uniform", dt,
                     options=fempde.StepOptions(linear_solver=solver))
    return problem


def measure(domain: str, h: float, steps: int) -> dict[str, float | str]:
    t0 = time.perf_counter()
    space = space_for(domain, h)
    setup = time.perf_counter() - t0
    dt = 0.05
    problem = flow(dt)
    # fixed steps (rtol=None): the cost of a step at each size, not what the error control chooses
    run, result = best_of(lambda: fempde.solve(problem, space, "uniform", steps * dt,
                                               options=fempde.StepOptions(dt0=dt, dt_max=dt, rtol=None)))
    iterations = int(result.history["newton_iterations"].sum())
    assert result.ok and len(result.history["t"]) == steps + 1
    from fempde.solvers.linalg import choose_solver

    return {
        "n": space.n,
        "setup_s": setup,
        "step_s": run / steps,
        "newton_s": run / iterations,
        "newton_per_step": iterations / steps,
        "solver": choose_solver("auto", space.n, space.dim),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    parser = script.parser(__doc__, __file__, "meshes up to 1e4 nodes")
    parser.add_argument("--domain", choices=sorted(NODES_PER_H), default="disk")
    parser.add_argument("--max-nodes", type=float, default=1e6)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)  # one size, in this process (JSON out)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.domain, args.one, args.steps)))
        return
    if args.quick:
        args.max_nodes = min(args.max_nodes, 1e4)
    with script.report(script.output(args, parser) / f"{args.domain}.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    c, dim = NODES_PER_H[args.domain]
    top = (c / args.max_nodes) ** (1 / dim)  # the h that gives max_nodes
    hs = sorted((top * 2.0 ** (k / dim) * 1.0001 for k in range(0, 4 * dim + 1, dim)), reverse=True)
    rows = []
    header = ("nodes", "solver", "setup s", "s/step", "s/Newton", "Newton/step", "us/node/step", "peak RSS",
              "KiB/node")
    widths = (9, 7, 9, 9, 9, 11, 12, 9, 9)
    print(f"{args.domain}: " + " ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
    for h in hs:
        out = subprocess.run([sys.executable, __file__, "--domain", args.domain, "--one", repr(h), "--steps",
                              str(args.steps)], check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        rss = row["peak_rss_bytes"]
        print(f"{'':{len(args.domain) + 2}}{row['n']:>9d} {row['solver']:>7} {row['setup_s']:>9.3f} "
              f"{row['step_s']:>9.4f} {row['newton_s']:>9.4f} {row['newton_per_step']:>11.2f} "
              f"{1e6 * row['step_s'] / row['n']:>12.2f} {rss / 2**30:>7.2f}Gi {rss / 1024 / row['n']:>9.2f}",
              flush=True)
    n = np.array([r["n"] for r in rows], dtype=float)
    step = np.array([r["step_s"] for r in rows])
    newton = np.array([r["newton_s"] for r in rows])
    print(f"fitted slope, time per step vs n:            {np.polyfit(np.log(n), np.log(step), 1)[0]:.3f}")
    print(f"fitted slope, time per Newton iteration vs n: {np.polyfit(np.log(n), np.log(newton), 1)[0]:.3f}")
    big = n >= 1e4
    if big.sum() >= 2:
        slope = np.polyfit(np.log(n[big]), np.log(step[big]), 1)[0]
        print(f"fitted slope for n >= 1e4 (time per step):    {slope:.3f}")


if __name__ == "__main__":
    main()
