"""The walls at finite δ: what the bumps restricted to Ω and the bumps reflected
at its walls do, on the PDE and on the SGD side, as δ → 0.

Ω = [0, 1], f = 6x(1 − x) (zero on the walls), ρ0 = 1, the setting of
Javanmard–Mondelli–Montanari's figure. Four studies, each printed as a table:

* ``pde``: the finite-δ PDE with ``boundary="restricted"`` and ``"reflected"``
  for δ ∈ {0.2, 0.1, 0.05, 0.025} at τ = 0 and τ = 0.05 against the δ → 0 PDE
  ρ^0: R^δ(ρ^δ_t) at t = 0.3 and 3, the sup over the output times of
  |R^δ(ρ^δ_t) − R(ρ^0_t)| (what the seed's figure compares), the mass within
  δ/4 of the walls at t = 3 (the scheme's point masses ``m_i ρ_i``), and W1
  and L1 of ρ^δ_t − ρ^0_t (sup over t), with the fitted slopes in δ over
  δ ≤ 0.1. The same solves at 2h, and at h/2 for the smallest δ, give the
  resolution check: the largest relative change of R^δ(3), the risk gap and
  W1 between the meshes.
* ``sgd``: SGD (δ = 0.1, N = 1000, ε = 1e-5) to t = 3 with each kernel and
  centres reflected or projected at the walls: R_N(3) and the share of
  centres within δ/4 of a wall, beside the finite-δ PDE's.
* ``crosscheck``: SGD with the reflected kernel against the reflected
  finite-δ PDE (:func:`particles.crosscheck`), N ∈ {250, 1000, 4000}, two
  seeds: sup over t > 0 of |R_N − R^δ| and W1 at t_end, with slopes in N.
* ``square``: SGD on [0, 1]² with f = 36 x(1 − x) y(1 − y), δ = 0.1, ε = 2e-7
  (a step moves a centre by far less than δ only for ε ≲ 1e-6 in 2-D at this δ),
  to t = 0.3 (the 2-D finite-δ PDE at δ/h ≥ 4 costs minutes per solve here; the
  1-D tables carry the PDE side).

    python benchmarks/walls.py [--part pde sgd crosscheck square] [--quick]

``--quick`` (h = 0.005, fewer δ and N) is a smoke run. Results:
``benchmarks/results/walls.txt``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import wasserstein_distance

import fempde
import meshes
import particles
from fempde.model import jmm_rbf
from fempde.scenario import script
from particles.slopes import fit_slope

BOUNDARIES = fempde.fem.BOUNDARIES


def f_interval(x: np.ndarray) -> np.ndarray:
    return 6 * x[0] * (1 - x[0])


def f_square(x: np.ndarray) -> np.ndarray:
    return 36 * x[0] * (1 - x[0]) * x[1] * (1 - x[1])


def wall_mass(space: fempde.Space, rho: np.ndarray, width: float) -> float:
    """The point masses ``m_i ρ_i`` of the nodes within ``width`` of the walls of [0, 1]."""
    near = np.minimum(space.x[0], 1 - space.x[0]) <= width
    return float(space.m[near] @ rho[near])


def w1(space: fempde.Space, a: np.ndarray, b: np.ndarray) -> float:
    """W1 between the point masses ``m_i a_i`` and ``m_i b_i`` on the nodes (scipy)."""
    return float(wasserstein_distance(space.x[0], space.x[0], space.m * a, space.m * b))


def pde_rows(h: float, tau: float, deltas: list[float], times: list[float]) -> tuple[dict[str, float], list[dict]]:
    """The δ → 0 solution's numbers and one row per (boundary, δ)."""
    space = fempde.Space(meshes.interval(0, 1, h))
    local = fempde.solve(fempde.PorousMedium(f_interval, tau=tau), space, "uniform", times[-1], times=times)
    local_risk = {t: local.system.risk(local.snapshots[t]) for t in times}
    header = {"R0(0.3)": local_risk[0.3], "R0(3)": local_risk[3.0],
              "wall0(3)": wall_mass(space, local.snapshots[3.0], min(deltas) / 4)}
    rows = []
    for boundary in BOUNDARIES:
        for delta in deltas:
            start = time.perf_counter()
            problem = fempde.FiniteDeltaPorousMedium(f_interval, tau=tau, delta=delta, boundary=boundary)
            result = fempde.solve(problem, space, "uniform", times[-1], times=times)
            if not result.ok:
                raise RuntimeError(f"the {boundary} solve at delta={delta} failed its certificates")
            rho = {t: result.snapshots[t] for t in times}
            rows.append({
                "boundary": boundary, "delta": delta,
                "R(0.3)": result.system.risk(rho[0.3]), "R(3)": result.system.risk(rho[3.0]),
                "risk gap": max(abs(result.system.risk(rho[t]) - local_risk[t]) for t in times),
                "wall(3)": wall_mass(space, rho[3.0], delta / 4),
                "W1": max(w1(space, rho[t], local.snapshots[t]) for t in times),
                "L1": max(float(space.m @ np.abs(rho[t] - local.snapshots[t])) for t in times),
                "max rho(3)": float(rho[3.0].max()), "seconds": time.perf_counter() - start,
            })
    return header, rows


def _change(row: dict, other: dict) -> float:
    """The largest relative change of R^δ(3), the risk gap and W1 between two meshes."""
    return max(abs(row[c] - other[c]) / abs(row[c]) for c in ("R(3)", "risk gap", "W1") if abs(row[c]) > 0)


def pde_study(h: float, deltas: list[float]) -> None:
    times = sorted({*np.round(np.geomspace(0.01, 3.0, 10), 6).tolist(), 0.3, 3.0})
    columns = ["R(0.3)", "R(3)", "risk gap", "wall(3)", "W1", "L1", "max rho(3)"]
    for tau in (0.0, 0.05):
        header, rows = pde_rows(h, tau, deltas, times)
        _, coarse = pde_rows(2 * h, tau, deltas, times)
        _, fine = pde_rows(h / 2, tau, [min(deltas)], times)  # the least resolved delta, at h/2 too
        print(f"\n## PDE, tau = {tau}, h = {h} (delta/h >= {min(deltas) / h:.0f}), outputs at {len(times)} times "
              f"in [0.01, 3]")
        print(f"delta -> 0 solution: R(rho^0_0.3) = {header['R0(0.3)']:.3e}, R(rho^0_3) = {header['R0(3)']:.3e}, "
              f"its mass within {min(deltas) / 4:g} of the walls at t = 3: {header['wall0(3)']:.2e}")
        print("risk gap = sup_t |R^delta(rho^delta_t) - R(rho^0_t)|; wall(3) = mass within delta/4 of the walls "
              "at t = 3; W1, L1 = sup_t distance of rho^delta_t to rho^0_t")
        print(f"| boundary | delta | {' | '.join(columns)} | change at 2h | s |")
        print("|---" * (len(columns) + 4) + "|")
        for row, other in zip(rows, coarse, strict=True):
            print(f"| {row['boundary']} | {row['delta']:g} | " + " | ".join(f"{row[c]:.3g}" for c in columns)
                  + f" | {_change(row, other):.1%} | {row['seconds']:.0f} |")
        for row in fine:
            here = next(r for r in rows if r["boundary"] == row["boundary"] and r["delta"] == row["delta"])
            print(f"resolution of delta = {row['delta']:g}, {row['boundary']}: from h = {h:g} to h/2 the largest "
                  f"relative change of R(3), the risk gap and W1 is {_change(here, row):.1%} "
                  f"(R(3) {here['R(3)']:.3g} -> {row['R(3)']:.3g}, W1 {here['W1']:.3g} -> {row['W1']:.3g})")
        for boundary in BOUNDARIES:
            small = [r for r in rows if r["boundary"] == boundary and r["delta"] <= 0.1]
            if len(small) < 2:
                continue
            slopes = []
            for column in ("risk gap", "wall(3)", "W1", "L1"):
                values = [r[column] for r in small]
                if min(values) > 0:
                    slopes.append(f"{column} {fit_slope([r['delta'] for r in small], values)[0]:.2f}")
            print(f"slopes in delta <= 0.1, {boundary}: " + ", ".join(slopes))


def sgd_study(n: int, epsilon: float, delta: float = 0.1, t_end: float = 3.0) -> None:
    mesh = meshes.interval(0, 1, 0.0025)
    space = fempde.Space(mesh)
    domain = particles.ConvexDomain.from_mesh(mesh)
    kernel = fempde.Kernel("triweight", 1, delta)
    print(f"\n## SGD, delta = {delta}, N = {n}, epsilon = {epsilon}, t = {t_end}: R_N and the share of centres "
          f"within delta/4 of the walls; the finite-delta PDE (h = 0.0025) beside them")
    print("| tau | boundary | centres at the wall | R_N(t) | share near the walls | PDE R^delta(t) | PDE mass near "
          "the walls | W1(SGD, PDE) | s |")
    print("|---" * 9 + "|")
    for tau in (0.0, 0.05):
        for boundary in BOUNDARIES:
            result = fempde.solve(fempde.FiniteDeltaPorousMedium(f_interval, tau=tau, delta=delta, boundary=boundary),
                                  space, "uniform", t_end, times=[t_end])
            risk = particles.PopulationRisk(mesh, f_interval, kernel, boundary=boundary)
            for reflect in (True, False):
                start = time.perf_counter()
                rng = np.random.default_rng(0)
                model = jmm_rbf(mesh, f_interval, delta, tau=tau, boundary=boundary)
                run = particles.sgd(model, domain.sample(n, rng), model.axis(epsilon), [t_end], reflect=reflect,
                                    rng=rng)
                centers = run.theta[-1]
                near = float(np.mean(np.minimum(centers[:, 0], 1 - centers[:, 0]) <= delta / 4))
                print(f"| {tau} | {boundary} | {'reflected' if reflect else 'projected'} | {risk(centers):.3g} | "
                      f"{near:.3f} | {result.system.risk(result.rho):.3g} | "
                      f"{wall_mass(space, result.rho, delta / 4):.3f} | "
                      f"{particles.wasserstein(space, centers, result.rho):.3g} | "
                      f"{time.perf_counter() - start:.0f} |")


def crosscheck_study(ns: list[int], epsilon: float, delta: float = 0.1, t_end: float = 1.0) -> None:
    print(f"\n## Cross-check with the reflected kernel: SGD against the reflected finite-delta PDE, delta = {delta}, "
          f"epsilon = {epsilon}, t in (0, {t_end}], 10 outputs, seeds 0 and 1 (means)")
    print("| tau | N | sup_{t>0} abs(R_N - R^delta) | W1 at t_end | PDE risk error |")
    print("|---" * 5 + "|")
    mesh = meshes.interval(0, 1, 0.0025)
    for tau in (0.0, 0.05):
        model = jmm_rbf(mesh, f_interval, delta, tau=tau, boundary="reflected")
        check = particles.crosscheck(model, ns, epsilon, t_end, outputs=10, seeds=[0, 1], progress=False)
        gaps, distances = [], []
        for n in ns:
            runs = check.group(n, epsilon)
            gaps.append(float(np.mean([r.sup("risk") for r in runs])))
            distances.append(float(np.mean([r.gaps["w1"][-1] for r in runs])))
            print(f"| {tau} | {n} | {gaps[-1]:.3g} | {distances[-1]:.3g} | {check.limit_error('risk').max():.1e} |")
        print(f"slopes in N, tau = {tau}: risk gap {fit_slope(ns, gaps)[0]:.2f}, W1 {fit_slope(ns, distances)[0]:.2f}")


def square_study(n: int, epsilon: float, t_end: float, delta: float = 0.1) -> None:
    mesh = meshes.rectangle(0, 1, 0, 1, h=0.02)
    domain = particles.ConvexDomain.from_mesh(mesh)
    kernel = fempde.Kernel("triweight", 2, delta)
    print(f"\n## SGD on the unit square, f = 36 x(1-x) y(1-y), delta = {delta}, N = {n}, epsilon = {epsilon}, "
          f"t = {t_end}, tau = 0")
    print("| boundary | R_N(t) | share within delta/4 of a wall | share within delta/4 of a corner | s |")
    print("|---" * 5 + "|")
    for boundary in BOUNDARIES:
        start = time.perf_counter()
        rng = np.random.default_rng(0)
        model = jmm_rbf(mesh, f_square, delta, boundary=boundary)
        run = particles.sgd(model, domain.sample(n, rng), model.axis(epsilon), [t_end], rng=rng)
        centers = run.theta[-1]
        distance = np.minimum(centers, 1 - centers)  # to the nearer wall of each axis
        risk = particles.PopulationRisk(mesh, f_square, kernel, boundary=boundary)
        print(f"| {boundary} | {risk(centers):.3g} | {np.mean(distance.min(axis=1) <= delta / 4):.3f} | "
              f"{np.mean(distance.max(axis=1) <= delta / 4):.3f} | {time.perf_counter() - start:.0f} |")


def main() -> None:
    parser = script.parser(__doc__, __file__, "a smoke run: h = 0.005, fewer δ and N")
    parser.add_argument("--part", nargs="+", choices=["pde", "sgd", "crosscheck", "square"],
                        default=["pde", "sgd", "crosscheck", "square"])
    args = parser.parse_args()
    with script.report(script.output(args, parser) / "walls.txt"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    if "pde" in args.part:
        pde_study(0.005 if args.quick else 0.0025, [0.2, 0.1, 0.05] if args.quick else [0.2, 0.1, 0.05, 0.025])
    if "sgd" in args.part:
        sgd_study(200 if args.quick else 1000, 1e-4 if args.quick else 1e-5)
    if "crosscheck" in args.part:
        crosscheck_study([100, 400] if args.quick else [250, 1000, 4000], 1e-4 if args.quick else 1e-5)
    if "square" in args.part:
        square_study(300, 1e-6, 0.03) if args.quick else square_study(1000, 2e-7, 0.3)


if __name__ == "__main__":
    main()
