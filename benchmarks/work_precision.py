"""Work against precision: wall time for the error achieved, for the choices fempde offers.

Three problems, ``∂_t ρ = 2[∇·(ρ∇(ρ − f)/|Ω|) + τΔρ]`` from ρ0 uniform:

* ``interval``: the δ → 0 flow of ``examples/crosscheck/interval.toml`` (Ω = [0, 1],
  f = 6x(1 − x), τ = 0, h = 0.005, 30 outputs to t = 0.3), where the risk decays
  from 0.2 to 6e-10;
* ``disk-tau0`` and ``disk-tau``: the unit disk, f = 1.2(1 − |x|²), h = 0.05,
  τ = 0 and τ = 0.05, 10 outputs to t = 1.

The error is the largest relative error of the risk over the output times (in
the space study, over those where the reference risk is at least 1e-4 of its
largest value: on the interval the risk ends at a plateau of 6e-10 that is
itself an O(h²) artefact, and relative errors there measure nothing).

*Time* (same mesh, against a run at rtol = 1e-9): fixed steps against
error-controlled ones, implicit Euler against BDF2.
*Space* (against a reference on the mesh refined three times in 1-D, twice in
2-D with ``--space-2d``, at rtol = 1e-8): the upwind mobility against the limited one, at h, h/2,
h/4 in 1-D and h, h/2 in 2-D (τ = 0 problems only: the flux choice is a τ = 0 one).

Prints the tables and writes ``work_precision.png`` (``--out``). Run from the
repository root: ``python benchmarks/work_precision.py [--quick] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from skfem import Mesh

import fempde
import meshes
from fempde.scenario import script

PROBLEMS: dict[str, tuple[Callable[[float], Mesh], fempde.PorousMedium, float, int, float]] = {
    "interval": (lambda h: meshes.interval(0, 1, h), fempde.PorousMedium(lambda x: 6 * x[0] * (1 - x[0])),
                 0.3, 30, 0.005),
    "disk-tau0": (lambda h: meshes.disk(1.0, h), fempde.PorousMedium(lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2)),
                  1.0, 10, 0.05),
    "disk-tau": (lambda h: meshes.disk(1.0, h),
                 fempde.PorousMedium(lambda x: 1.2 * (1 - x[0] ** 2 - x[1] ** 2), tau=0.05), 1.0, 10, 0.05),
}


def risks(problem: fempde.PorousMedium, space: fempde.Space | Mesh, t_end: float, times: np.ndarray,
          **options: object) -> tuple[np.ndarray, float, int]:
    """The risk at ``times``, the best wall time of two runs, the steps."""
    walls = []
    for _ in range(2):
        start = time.perf_counter()
        result = fempde.solve(problem, space, "uniform", t_end, times=tuple(times),
                              options=fempde.StepOptions(**options))  # type: ignore[arg-type]
        walls.append(time.perf_counter() - start)
    t = result.history["t"]
    return (np.array([result.history["risk"][np.flatnonzero(t == s)[0]] for s in times]), min(walls),
            len(t) - 1)


def time_study(name: str, quick: bool) -> list[tuple[str, float, float, int]]:
    mesh, problem, t_end, outputs, h = PROBLEMS[name]
    space = fempde.Space(mesh(h))
    times = np.linspace(0, t_end, outputs + 1)[1:]
    reference, _, _ = risks(problem, space, t_end, times, rtol=1e-9)
    rows = []
    tolerances = (1e-3, 1e-4, 1e-5, 1e-6) if quick else (1e-3, 1e-4, 1e-5, 3e-6, 1e-6, 1e-7)
    steps = (t_end / 20, t_end / 80, t_end / 320) if quick else (t_end / 20, t_end / 80, t_end / 320, t_end / 1280)
    for scheme in ("euler", "bdf2"):
        for rtol in tolerances:
            risk, wall, n = risks(problem, space, t_end, times, rtol=rtol, scheme=scheme)
            rows.append((f"{scheme}, rtol {rtol:g}", float(np.abs(risk / reference - 1).max()), wall, n))
        for dt in steps:
            risk, wall, n = risks(problem, space, t_end, times, rtol=None, dt0=dt, dt_max=dt, scheme=scheme)
            rows.append((f"{scheme}, fixed dt {dt:.3g}", float(np.abs(risk / reference - 1).max()), wall, n))
    return rows


def space_study(name: str, quick: bool) -> list[tuple[str, float, float, int]]:
    mesh, problem, t_end, outputs, h = PROBLEMS[name]
    times = np.linspace(0, t_end, outputs + 1)[1:]
    one_d = mesh(h).dim() == 1
    levels = (1, 2, 4) if one_d else (1, 2)
    if quick:
        levels = levels[:2]
    fine = mesh(h)
    for _ in range(3 if one_d else 2):
        fine = meshes.orient(fine.refined())
    reference, _, _ = risks(problem, fempde.Space(fine, force=True, transmissibility="p1"), t_end, times, rtol=1e-8)
    rows = []
    for flux in ("upwind", "limited"):
        for level in levels:
            current = mesh(h)
            for _ in range(int(np.log2(level))):
                current = meshes.orient(current.refined())
            space = fempde.Space(current, force=True, transmissibility="p1")  # the P1 scheme at every level
            risk, wall, n = risks(problem, space, t_end, times, flux=flux)
            shown = reference >= 1e-4 * reference.max()
            rows.append((f"{flux}, h/{level}", float(np.abs(risk[shown] / reference[shown] - 1).max()), wall, n))
    return rows


def plot(results: dict[str, list[tuple[str, float, float, int]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4.5), constrained_layout=True)
    for ax, (title, rows) in zip(np.atleast_1d(axes), results.items(), strict=True):
        groups: dict[str, list[tuple[float, float]]] = {}
        for label, error, wall, _ in rows:
            key = label.split(" dt")[0].split(", h/")[0].split(", rtol")[0]
            key += " (fixed)" if "fixed" in label else (" (controlled)" if "rtol" in label else "")
            groups.setdefault(key.replace(", fixed", ""), []).append((wall, max(error, 1e-16)))
        for key, points in groups.items():
            wall, error = np.array(points).T
            ax.loglog(wall, error, "o-" if "fixed" not in key else "s--", label=key)
        ax.set_xlabel("wall time [s]")
        ax.set_ylabel("max relative risk error")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = script.parser(__doc__, __file__, "fewer tolerances and resolutions")
    parser.add_argument("--only", choices=("time", "space"), help="run only the time or the space studies")
    parser.add_argument("--space-2d", action="store_true",
                        help="also the disk's space study (its reference, 6e4 nodes at rtol 1e-8, takes hours here)")
    args = parser.parse_args()
    out = script.output(args, parser)
    with script.report(out / "work_precision.txt"):
        _run(args, out)


def _run(args: argparse.Namespace, out: Path) -> None:
    results = {}
    studies = [] if args.only == "space" else [(f"{name}: time", time_study, name) for name in PROBLEMS]
    if args.only != "time":
        names = ("interval", "disk-tau0") if args.space_2d else ("interval",)
        studies += [(f"{name}: space (flux)", space_study, name) for name in names]
    for title, study, name in studies:
        rows = results[title] = study(name, args.quick)
        print(f"\n{title}\n{'configuration':<28} {'max rel error':>14} {'wall [s]':>9} {'steps':>7}")
        for label, error, wall, n in rows:
            print(f"{label:<28} {error:14.2e} {wall:9.3f} {n:7d}", flush=True)
    plot(results, out / "work_precision.png")
    print(f"\nwrote {out / 'work_precision.png'}")


if __name__ == "__main__":
    main()
