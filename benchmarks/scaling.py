"""Wall time per time step and per Newton iteration against the number of nodes.

The viscous porous-medium flow on the unit disk (τ = 0.01, Scharfetter–Gummel
fluxes), a few implicit-Euler steps of fixed size from the uniform density; the
linear solver is fempde's default for the size (SuperLU, then AMG + GMRES).
Setup (mesh, space, Jacobian pattern) is timed apart. Prints a table and the
fitted slope of log(time per step) against log(n).

    python benchmarks/scaling.py [--max-nodes 1000000] [--steps 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fempde
import meshes


def measure(h: float, steps: int) -> dict[str, float]:
    t0 = time.perf_counter()
    space = fempde.Space(meshes.disk(radius=1.0, h=h))
    space.jacobian_pattern  # noqa: B018 - built once per space, part of the setup
    setup = time.perf_counter() - t0
    problem = fempde.PorousMedium(target=lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2), tau=0.01)
    dt = 0.05
    t0 = time.perf_counter()
    result = fempde.solve(problem, space, "uniform", steps * dt, dt0=dt, dt_max=dt)
    run = time.perf_counter() - t0
    iterations = int(result.history["newton_iterations"].sum())
    assert result.ok and len(result.history["t"]) == steps + 1
    from fempde.linalg import choose_solver

    return {
        "n": space.n,
        "setup_s": setup,
        "step_s": run / steps,
        "newton_s": run / iterations,
        "newton_per_step": iterations / steps,
        "solver": choose_solver("auto", space.n, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-nodes", type=float, default=1e6)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    # n ≈ 3.3 / h² for meshes.disk
    hs = [h for h in 0.057 / 2.0 ** np.arange(0, 12) if 3.3 / h**2 <= 1.05 * args.max_nodes]
    rows = []
    header = ("nodes", "solver", "setup s", "s/step", "s/Newton", "Newton/step", "us/node/step")
    print(" ".join(f"{name:>{width}}" for name, width in zip(header, (9, 7, 9, 9, 9, 11, 12), strict=True)))
    for h in hs:
        row = measure(h, args.steps)
        rows.append(row)
        print(f"{row['n']:>9d} {row['solver']:>7} {row['setup_s']:>9.3f} {row['step_s']:>9.4f} "
              f"{row['newton_s']:>9.4f} {row['newton_per_step']:>11.2f} {1e6 * row['step_s'] / row['n']:>12.2f}",
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
