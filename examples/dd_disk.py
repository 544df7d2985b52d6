"""Distributional dynamics on a meshed disk of weights, with the SGD particle
cloud beside it, for ParaView.

The model: two centred Gaussians in d = 2 (Δ = 0.5), units σ(⟨w, x⟩) with the
seed's piecewise-linear σ, ridge λ = 0.2 and noise β = 30, declared once
(:class:`fempde.model.MeanFieldModel`). Its limit is solved by finite elements on
the disk |w| <= 4 (no-flux wall; ``wall_mass`` in the history shows the wall is
not felt) through :func:`fempde.model.limit`, which chooses the Gauss–Hermite
rule of the data by its estimated error and reports the error of the risk
curve part by part (time, data quadrature; ``--space-error`` adds the refined
mesh's): with the old fixed 48² rule the risk at t = 4 was 2.2 % off and ρ
showed the rule's square pattern. Noisy SGD of N units runs on the same time
axis, by the one SGD engine (:func:`particles.sgd`) on the same declaration: the
units are reflected at the disk's wall as the PDE's no-flux wall asks (the
earlier per-model loop let them leave it; none come near it: the largest |w| is
3.1 by t = 4), and their risk is :func:`fempde.model.population_risk` of the
model. The SGD numbers equal the earlier loop's to 1.6·10⁻¹³ (units) and
3·10⁻¹⁴ (risk).

    python examples/dd_disk.py [--quick] [--out DIR] [--space-error]

Writes ``rho.pvd`` (point fields ``rho``, ``psi``, ``mu``), ``particles.pvd``
(the N weights as vertices, same time values), ``history.csv``, ``risk.png``.
Open both ``.pvd`` files in ParaView and press play.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import fempde
import meshes
import particles
from fempde.atomic import write_csv
from fempde.io.plots import save_figure
from fempde.io.vtk import PVDSeries
from fempde.model import Gaussian, MeanFieldModel, Ridge, gaussian_classes, limit, population_risk
from fempde.scenario import script


def main(out: str = "out/dd_disk", h: float = 0.18, n: int = 400, t_end: float = 4.0, points: int | None = None,
         epsilon: float = 1e-3, progress: bool = True, space_error: bool = False) -> dict:
    """``points``: Gauss–Hermite nodes per coordinate of the data rule (None: chosen by its
    estimated error); ``space_error``: also estimate the mesh's error (a run on the refined mesh)."""
    delta, lam, beta = 0.5, 0.2, 30.0
    out_dir = Path(out)
    mesh = meshes.disk(4.0, h=h)
    model = MeanFieldModel(Ridge("piecewise-linear", 2), gaussian_classes(delta, 2), Gaussian(np.zeros(2), 0.3),
                           lam=lam, beta=beta, domain=mesh)  # w ~ N(0, 0.3² I)
    times = np.linspace(0.0, t_end, 21)
    with script.phase("the mean-field limit (finite elements on the disk, data rule chosen by its error)"):
        reference = limit(model, times, method="fem", data_level=points, space_error=space_error)
    print(reference.describe())
    # the chosen run again, with the writers attached (the limit's own runs write nothing)
    space = fempde.Space(mesh)
    radius = np.linalg.norm(space.x, axis=0)
    rho0 = fempde.initial_density(space, model.initial_density(), normalize=True)
    observers: list[fempde.Observer] = [fempde.VTKWriter(out_dir), fempde.CSVWriter(out_dir / "history.csv")]
    if progress:
        observers.append(fempde.ProgressBar())
    pde = fempde.solve(model.problem(reference.levels["data"]), space, rho0, t_end, observers,
                       times=times[1:].tolist())

    rng = np.random.default_rng(0)
    with script.phase(f"noisy SGD of N = {n} units"):
        run = particles.sgd(model, model.sample_initial(n, rng), model.axis(epsilon), times, rng=rng)
    clouds = PVDSeries(out_dir, "particles")
    rows = []
    for t, w in zip(times, run.theta, strict=True):  # run.times: the same times on the grid t = kε
        clouds.write_points(float(t), w.T, {"norm": np.linalg.norm(w, axis=1)})
        rho = pde.snapshots[float(t)]
        rows.append({"t": float(t), "pde_risk": pde.system.risk(rho), "pde_risk_n": pde.system.expected_risk(rho, n),
                     "sgd_risk": population_risk(model, w).value, "pde_mean_norm": space.integrate(radius * rho),
                     "sgd_mean_norm": float(np.linalg.norm(w, axis=1).mean())})
    write_csv(out_dir / "risk.csv", list(rows[0]), [list(r.values()) for r in rows])
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    ax.plot([r["t"] for r in rows], [r["pde_risk"] for r in rows], "k-", label="DD on the disk (P1, SG flux)")
    ax.plot([r["t"] for r in rows], [r["pde_risk_n"] for r in rows], "k:", label=f"E R_N of {n} units drawn from ρ_t")
    ax.plot([r["t"] for r in rows], [r["sgd_risk"] for r in rows], "C3o", mfc="none", label=f"noisy SGD, N = {n}")
    ax.set_xlabel("t")
    ax.set_ylabel("risk")
    ax.set_title(f"d = 2, Δ = {delta}, λ = {lam}, β = {beta:g}")
    ax.legend()
    ax.grid(alpha=0.3)
    save_figure(fig, out_dir / "risk.png")
    summary = {"rows": rows, "wall_mass": float(pde.history["wall_mass"].max()), "result": pde, "limit": reference}
    print(f"risk at t = {t_end:g}: PDE {rows[-1]['pde_risk']:.4f} (E R_N {rows[-1]['pde_risk_n']:.4f}), "
          f"SGD {rows[-1]['sgd_risk']:.4f}; "
          f"wall mass <= {summary['wall_mass']:.1e}; "
          f"wrote {out_dir / 'rho.pvd'}, {out_dir / 'particles.pvd'}, {out_dir / 'risk.png'}")
    return summary


if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, "a coarser disk (h = 0.36), N = 100, t = 1, a data rule of 24² nodes "
                                              "(its error, 7 %, is printed; about two minutes)")
    parser.add_argument("--space-error", action="store_true", help="also estimate the mesh's error (4x the nodes)")
    args = parser.parse_args()
    out = str(script.output(args, parser))
    if args.quick:
        main(out, h=0.36, n=100, t_end=1.0, points=24, space_error=args.space_error)
    else:
        main(out, space_error=args.space_error)
