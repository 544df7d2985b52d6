"""How far a default :func:`fempde.model.limit` is from converged, and what the
teacher–student point flow costs to converge.

Each study computes the same limit at the default levels and at much finer
ones (the converged reference, whose own accuracy is printed: the change from
the last-but-one level), and prints the default's error against the reference
beside the default's own estimate.

* ``teacher``: Chizat–Bach's students of a five-neuron teacher (the point flow
  on the exact circle field, rays of the initial shell), the sphere rule at
  levels 8, 16, 32, 64 (128, 512, 2048, 8192 rays), risk at t = 3, 9, 30 and the
  largest relative change over the 21 output times to t = 30; the ODE tolerance
  and the size of the ``b = 0`` cone at level 16.
* ``fig3``: Fig. 3's reduced flow (Δ = 0.25, d = 320, s0 = 60, t ≤ 100) with 12,
  24, 48, 96 Gauss–Hermite nodes and 32, 64, 128 midpoint quantiles per radius:
  risk and the means of (a, b, r1, r2).
* ``radial``: the noiseless radial flow (Δ = 0.8, d = 40, t ≤ 4, the narrow law
  0.8 χ_40/√40): the default limit against quantiles and tables 16× finer, and
  ``RadialDD`` on a mesh at the old default h = 0.02; with noise (β = 100) the
  default mesh against one of h0/64 (h0 = r_max/200, the starting size).
* ``dd``: the noisy 2-D problem of ``examples/dd_disk.py`` (Δ = 0.5, λ = 0.2,
  β = 30) on a coarser disk (h = 0.36: the data rule's error does not depend
  on the mesh), data rules of 48, 96, 192 Gauss–Hermite nodes per
  coordinate.

    python benchmarks/limits.py teacher|fig3|radial|dd [--quick] [--limits-only]
"""

from __future__ import annotations

import time

import numpy as np

import meshes
from fempde.model import (
    Gaussian,
    MeanFieldModel,
    Ridge,
    chizat_bach,
    gaussian_classes,
    limit,
    mmn_anisotropic,
    mmn_isotropic,
)
from fempde.model.limits.flows import point_trial, quantile_trial, reduced_trial
from fempde.model.limits.mesh import mesh_trial, radial_mesh_trial
from fempde.scenario import script


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def teacher(quick: bool, limits_only: bool = False) -> None:
    model = chizat_bach()
    times = np.linspace(0.0, 30.0, 21)
    if limits_only:
        for accuracy in (1e-2, 1e-3):
            start = time.perf_counter()
            result = limit(model, times, accuracy=accuracy)
            print(f"limit(chizat_bach(), accuracy={accuracy:g}) ({time.perf_counter() - start:.0f} s), levels "
                  f"{result.levels}:\n{result.describe()}", flush=True)
        return
    picks = [int(np.flatnonzero(np.isclose(times, t))[0]) for t in (3.0, 9.0, 30.0)]
    levels = (4, 8, 16) if quick else (8, 16, 32, 64)
    rows = []
    for level in levels:
        start = time.perf_counter()
        trial = point_trial(model, times, {"data": None, "initial": level, "rtol": 1e-8})
        seconds = time.perf_counter() - start
        rays = len(np.unique(np.round(trial.solution.points[0] / np.linalg.norm(trial.solution.points[0], axis=1,
                                                                                   keepdims=True) * 1e9), axis=0))
        rows.append((level, rays, trial.risk, seconds))
        print(f"level {level} ({rays} rays, {seconds:.0f} s): risk {trial.risk.tolist()}", flush=True)
    print("level  rays  R(3)          R(9)          R(30)         max rel. change to next  seconds")
    for k, (level, rays, risk, seconds) in enumerate(rows):
        change = _relative(risk, rows[k + 1][2]) if k + 1 < len(rows) else float("nan")
        print(f"{level:5d} {rays:5d}  " + "  ".join(f"{risk[i]:.6e}" for i in picks) + f"  {change:.2e}"
              f"                 {seconds:7.1f}")
    best = rows[-1][2]
    for level, _, risk, _ in rows[:-1]:
        print(f"level {level}: largest relative error against level {rows[-1][0]}: {_relative(risk, best):.2e}")
    level = levels[1]
    base = rows[1][2]
    for rtol in (1e-7, 1e-9):
        trial = point_trial(model, times, {"data": None, "initial": level, "rtol": rtol})
        print(f"level {level}, ODE rtol {rtol:g}: largest relative change against 1e-8: "
              f"{_relative(trial.risk, base):.2e}")
    for zone in (1e-5, 1e-7):
        trial = point_trial(model, times, {"data": None, "initial": level, "rtol": 1e-8, "dead_zone": zone})
        print(f"level {level}, b = 0 cone {zone:g}: largest relative change against 1e-6: "
              f"{_relative(trial.risk, base):.2e}")
    for accuracy in (1e-2, 1e-3):
        start = time.perf_counter()
        result = limit(model, times, accuracy=accuracy)
        print(f"limit(chizat_bach(), accuracy={accuracy:g}) ({time.perf_counter() - start:.0f} s), levels "
              f"{result.levels}:\n{result.describe()}")
        print(f"against level {rows[-1][0]}: {_relative(result.risk, best):.2e}")


def fig3(quick: bool, limits_only: bool = False) -> None:
    d, s0, t_end = (40, 10, 30.0) if quick else (320, 60, 100.0)
    model = mmn_anisotropic(0.25, d, s0)
    times = np.concatenate([[0.0], np.geomspace(0.02, t_end, 24)])
    runs = [("quantiles", 32 if quick else 128)] if limits_only else \
        [("gauss", 6), ("gauss", 12), ("quantiles", 16), ("quantiles", 32)] if quick else \
        [("gauss", 12), ("gauss", 24), ("gauss", 48), ("gauss", 96), ("quantiles", 32), ("quantiles", 64),
         ("quantiles", 128)]
    rows = []
    for rule, n in runs:
        start = time.perf_counter()
        trial = reduced_trial(model, times, {"initial": n, "rtol": 1e-8, "rule": rule})
        rows.append((rule, n, trial, time.perf_counter() - start))
        print(f"{rule} {n}: R(t_end) {trial.risk[-1]:.6e}, means at t_end {trial.law.means()[-1].round(5).tolist()}",
              flush=True)
    best = rows[-1][2]
    scale = np.maximum(np.abs(best.law.means()), 0.1 * best.law.root_mean_squares())
    if len(rows) > 1:
        print(f"reference: {rows[-1][0]} {rows[-1][1]}; its change from {rows[-2][0]} {rows[-2][1]}: risk "
              f"{_relative(rows[-2][2].risk, best.risk):.2e}, means "
              f"{float(np.max(np.abs(rows[-2][2].law.means() - best.law.means()) / scale)):.2e}")
    print("rule       n  mean a(t_end)  risk rel. err  mean err (of max(|mean|, 0.1 rms))  seconds")
    for rule, n, trial, seconds in rows[:-1]:
        mean_error = float(np.max(np.abs(trial.law.means() - best.law.means()) / scale))
        print(f"{rule:9s} {n:3d}  {trial.law.means()[-1, 0]:.5f}        {_relative(trial.risk, best.risk):.2e}"
              f"       {mean_error:.2e}                             {seconds:6.1f}")
    start = time.perf_counter()
    default = limit(model, times)
    print(f"default limit ({time.perf_counter() - start:.0f} s):\n{default.describe()}")
    means = default.law.means()
    print(f"default against the reference: risk {_relative(default.risk, best.risk):.2e} relative, means "
          f"{float(np.max(np.abs(means - best.law.means()) / scale)):.2e}; mean a at t_end "
          f"{means[-1, 0]:.4f} (reference {best.law.means()[-1, 0]:.4f})")


def radial(quick: bool) -> None:
    model = mmn_isotropic(0.8, 40)
    times = np.linspace(0.0, 4.0, 21)
    start = time.perf_counter()
    default = limit(model, times)
    print(f"default limit ({time.perf_counter() - start:.0f} s):\n{default.describe()}")
    levels = {"rtol": 1e-10, "r_max": 8.0}
    fine = [quantile_trial(model, times, {**levels, "initial": m, "table": tab})
            for m, tab in ((2048, 1601), (4096, 3201))]
    print(f"reference: 4096 quantiles, table 3201; its change from 2048, 1601: "
          f"{_relative(fine[0].risk, fine[1].risk):.2e}")
    print(f"default against the reference: {_relative(default.risk, fine[1].risk):.2e} relative")
    noisy = mmn_isotropic(0.8, 40, beta=100.0)
    start = time.perf_counter()
    default = limit(noisy, times)
    print(f"with noise, beta = 100: default limit ({time.perf_counter() - start:.0f} s):\n{default.describe()}")
    top, h0 = default.levels["r_max"], default.levels["r_max"] / 200
    fine = [radial_mesh_trial(noisy, times, {"h": h0 / k, "r_max": top, "rtol": 3e-8}) for k in (32, 64)]
    print(f"reference: h = {h0 / 64:.3g}; its change from h = {h0 / 32:.3g}: "
          f"{_relative(fine[0].risk, fine[1].risk):.2e}")
    print(f"default (h = {default.levels['h']:.3g}) against the reference: "
          f"{_relative(default.risk, fine[1].risk):.2e}")
    if not quick:
        start = time.perf_counter()
        old = radial_mesh_trial(model, times, {"h": 0.02, "r_max": 8.0, "rtol": None})
        print(f"RadialDD on a mesh, h = 0.02 ({time.perf_counter() - start:.0f} s): against the reference "
              f"{_relative(old.risk, fine[1].risk):.2e} relative; at t = 4: {old.risk[-1]:.5f} against "
              f"{fine[1].risk[-1]:.5f}")


def dd(quick: bool) -> None:
    mesh = meshes.disk(4.0, h=0.5 if quick else 0.36)
    model = MeanFieldModel(Ridge("piecewise-linear", 2), gaussian_classes(0.5, 2), Gaussian(np.zeros(2), 0.3),
                           lam=0.2, beta=30.0, domain=mesh)
    times = np.linspace(0.0, 4.0, 21)
    levels = (24, 48) if quick else (48, 96, 192)
    rows = []
    for level in levels:
        start = time.perf_counter()
        trial = mesh_trial(model, mesh, times, {"data": level, "rtol": None})
        rows.append((level, trial, time.perf_counter() - start))
        print(f"level {level}: risk {trial.risk.tolist()}", flush=True)
    best = rows[-1][1]
    print(f"{mesh.p.shape[1]} nodes; level  M  R(2)  R(4)  largest rel. error against {levels[-1]}  "
          f"L1 of rho at t = 4  seconds")
    for level, trial, seconds in rows:
        l1 = float(np.abs(trial.law.rho[-1] - best.law.rho[-1]) @ trial.law.space.m)
        print(f"{level:4d} {2 * level * level:6d}  {trial.risk[10]:.6f}  {trial.risk[-1]:.6f}  "
              f"{_relative(trial.risk[1:], best.risk[1:]):.2e}  {l1:.2e}  {seconds:6.0f}")


STUDIES = {"teacher": teacher, "fig3": fig3, "radial": radial, "dd": dd}

if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, "coarser levels (minutes)")
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--limits-only", action="store_true",
                        help="teacher, fig3: only the limit() calls (and fig3's reference)")
    args = parser.parse_args()
    with script.report(script.output(args, parser) / f"{args.study}.txt"):
        if args.study in ("teacher", "fig3"):
            STUDIES[args.study](args.quick, args.limits_only)  # type: ignore[call-arg]
        else:
            STUDIES[args.study](args.quick)
