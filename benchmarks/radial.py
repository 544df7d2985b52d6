"""Wall time per time step of the rotation-reduced DD (:class:`fempde.RadialDD`)
against the number of nodes, at d = ∞ and at a finite d.

The isotropic two-Gaussian model (Δ = 0.8, seed 002's σ) with noise β = 100 on
``[0.05, 4]`` (``--beta inf``: noiseless on ``[0, 4]``), from the narrow bump at
``r = 0.8`` of the tests (sd 0.09); a few steps of size ``dt`` (BDF2, no error
control). The noiseless flow's fronts make Newton reject some steps on fine
meshes (the stepper then shrinks them), so the table also gives the time per
Newton iteration. ``u_d`` enters as ``G Gᵀ``
(:meth:`fempde.IsotropicGaussians.factor`, rank 2 at d = ∞), so the potential
and the Jacobian products cost ``O(n · rank)`` and GMRES, preconditioned by the
sparse local part, needs about ``rank + 1`` iterations. ``discretise`` (the
factor and ``v`` on the nodes) is timed apart, as is a first short run that
loads the compiled kernels. Each size's run of steps is repeated and the
fastest counts (``benchmarks/timing.py``, as in ``benchmarks/scaling.py``). Prints a table per dimension and the
fitted slope of log(time per step) against log(n) with its 95 % interval
(:func:`particles.slopes.fit_slope`).

    python benchmarks/radial.py [--d inf 40] [--max-nodes 1e5] [--steps 3]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from timing import MAX_RUNS, best_of

import fempde
import meshes
from fempde.problems.radial import RadialSystem
from fempde.scenario import script
from fempde.solvers import StepOptions, steps
from particles.slopes import fit_slope

R_MIN, R_MAX, DELTA = 0.05, 4.0, 0.8


def start(space: fempde.Space) -> np.ndarray:
    """``w ~ N(0, 0.8²/d I_d)`` has ``‖w‖ ≈ 0.8``: a narrow bump there, mass 1."""
    values = space.interpolate(lambda x: np.exp(-0.5 * ((x[0] - 0.8) / 0.09) ** 2))
    return np.asarray(values / space.integrate(values))


def run_steps(system: RadialSystem, rho0: np.ndarray, dt: float, count: int) -> tuple[int, int]:
    """Steps of size ``dt`` (or less, after a rejection) to ``t = count · dt``: how many
    were accepted and the Newton iterations they took."""
    options = StepOptions(rtol=None, dt0=dt, dt_max=dt)
    taken = list(steps(system, rho0, count * dt, options=options))[1:]
    return len(taken), sum(step.newton_iterations for step in taken)


def measure(d: float, beta: float, n: int, count: int, dt: float) -> dict[str, float]:
    problem = fempde.RadialDD(fempde.IsotropicGaussians(DELTA, d), beta=beta)
    r_min = 0.0 if math.isinf(beta) else R_MIN  # with noise ρ̄ vanishes like r^(d−1) at 0
    space = fempde.Space(meshes.interval(r_min, R_MAX, (R_MAX - r_min) / (n - 1)))
    _ = space.jacobian_pattern  # built once per mesh, not part of a step
    best_setup, system = best_of(lambda: problem.discretise(space), min_seconds=math.inf, max_runs=3)
    rho0 = start(space)
    fastest, (accepted, iterations) = best_of(lambda: run_steps(system, rho0, dt, count))
    return {"n": space.n, "rank": system.factor.shape[1], "discretise_s": best_setup, "steps": accepted,
            "step_s": fastest / accepted, "newton_s": fastest / iterations,
            "newton_per_step": iterations / accepted}


def main() -> None:
    parser = script.parser(__doc__, __file__, "meshes up to 1e3 nodes")
    parser.add_argument("--d", type=float, nargs="+", default=[math.inf, 40.0], help="dimensions (inf allowed)")
    parser.add_argument("--max-nodes", type=float, default=1e5)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dt", type=float, default=0.01)
    parser.add_argument("--beta", type=float, default=100.0, help="inverse temperature (inf: noiseless)")
    args = parser.parse_args()
    if args.quick:
        args.max_nodes = min(args.max_nodes, 1e3)
    with script.report(script.output(args, parser) / "radial.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    sizes = np.unique(np.geomspace(100, args.max_nodes, 1 + 2 * round(math.log10(args.max_nodes / 100))).round())
    warm = fempde.RadialDD(fempde.IsotropicGaussians(DELTA, math.inf)).discretise(
        fempde.Space(meshes.interval(0.0, R_MAX, 0.1)))
    run_steps(warm, start(warm.space), args.dt, 1)  # loads the compiled kernels
    header = ("nodes", "rank", "discretise s", "steps", "s/step", "s/Newton", "Newton/step", "us/node/step")
    widths = (9, 5, 12, 5, 10, 10, 11, 12)
    print(f"beta = {args.beta:g}, dt = {args.dt:g}, {args.steps} steps (best of up to {MAX_RUNS} runs)")
    for d in args.d:
        print(f"d = {d:g}: " + " ".join(f"{name:>{width}}" for name, width in zip(header, widths, strict=True)))
        rows = []
        for n in sizes:
            row = measure(d, args.beta, int(n), args.steps, args.dt)
            rows.append(row)
            print(f"{'':8}{row['n']:>9d} {row['rank']:>5d} {row['discretise_s']:>12.4f} {row['steps']:>5d} "
                  f"{row['step_s']:>10.5f} {row['newton_s']:>10.5f} {row['newton_per_step']:>11.2f} "
                  f"{1e6 * row['step_s'] / row['n']:>12.2f}", flush=True)
        n_nodes = [r["n"] for r in rows]
        for key, name in (("step_s", "time per step"), ("newton_s", "time per Newton iteration"),
                          ("discretise_s", "discretise")):
            slope, low, high = fit_slope(n_nodes, [r[key] for r in rows])
            print(f"        fitted slope, {name} vs n: {slope:.3f} (95 % CI {low:.3f} to {high:.3f})")
        big = [r for r in rows if r["n"] >= 1e3]
        if len(big) >= 2:
            slope, low, high = fit_slope([r["n"] for r in big], [r["step_s"] for r in big])
            print(f"        fitted slope, time per step vs n >= 1e3: {slope:.3f} (95 % CI {low:.3f} to {high:.3f})")


if __name__ == "__main__":
    main()
