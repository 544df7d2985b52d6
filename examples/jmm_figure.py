"""The figure of Javanmard–Mondelli–Montanari (2020): an RBF network
of N = 200 bumps of width δ ∈ {1/5, 1/10, 1/20} on Ω = [0, 1] learning the
strongly concave f(x) = 6x(1 − x) by SGD from uniform centres.

Left column: f and the network estimate f̂ = (1/N) Σ K^δ(· − w_i) at several
times. Right column: the SGD population risk against t, with the risk of the
finite-δ PDE and of the δ → 0 PDE. Then the same on the unit disk with a
concave f. Writes ``jmm_1d.png``, ``jmm_1d.csv``, ``jmm_disk.png``,
``jmm_disk.csv`` into ``out/jmm_figure``.

The paper's statements — the fit improves as δ gets smaller, and the δ → 0 PDE
captures SGD — hold on the interval with the bumps reflected at the walls
(``--boundary reflected``, the default here). With the bumps restricted to Ω
(``--boundary restricted``, the network as the paper writes it, and fempde's
default) they fail at δ ≤ 1/10: f vanishes at the walls, a unit on a wall
keeps only part of its bump, moving outward lowers its overshoot, and about
8 % of the units end on the walls, where f̂ spikes (README, "Walls at finite
δ"; ``benchmarks/walls.py``). The disk has no exact mirror images, so its
panel is always restricted (δ = 0.3 there holds no units on the wall).

SGD is the one engine's run (:func:`particles.sgd`) of the declared network
(:func:`fempde.model.jmm_rbf`), from the same uniform start with the same draws
as before; both PDE curves come from :func:`fempde.model.limit` (the finite-δ
porous-medium PDE, the δ → 0 one beside it) in place of two separate solves.
SGD's numbers are unchanged (to round-off). The PDE risks move by a constant
offset of at most 8·10⁻⁷ on the interval and 3.2·10⁻⁶ on the disk (1.4·10⁻⁴
relative, the ``--quick`` run): the limit integrates R(ρ) with the data rule it
chooses by its error, where the solve used the mesh's quadrature (at t = 0 the
interval's risk is now the exact 0.2, where it was 0.1999993). The CSV's
``pde_risk_error`` is the limit's total estimate (time stepping and data
quadrature, about 10⁻⁶ on the disk) rather than the time stepping's alone. The
``--quick`` run takes about 70 s where it took 32 s: the limit solves once more
to estimate its data quadrature.

    python examples/jmm_figure.py [--quick] [--out DIR] [--boundary reflected|restricted]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import fempde
import meshes
import particles
from fempde.atomic import write_csv
from fempde.io.plots import save_figure
from fempde.model import jmm_rbf, limit, population_risk
from fempde.scenario import script
from particles.crosscheck import unresolved


def f_interval(x):
    return 6 * x[0] * (1 - x[0])


def f_disk(x):  # concave, ∫ f = 1 on the unit disk
    return (2 / np.pi) * (1 - x[0] ** 2 - x[1] ** 2)


def panel_data(mesh, target, delta, n, epsilon, times, seed=0, boundary="restricted"):
    """SGD centres and the risks of SGD, finite-δ PDE and δ → 0 PDE at ``times``
    (snapped to the SGD grid ``t = kε``, so both sides are compared at the same times),
    the bumps ``boundary`` ("restricted" or "reflected") on both sides: one declaration
    (:func:`fempde.model.jmm_rbf`) for the engine's SGD and for the limit."""
    times = (np.unique(np.round(np.asarray(times) / epsilon)) * epsilon).tolist()
    model = jmm_rbf(mesh, target, delta, boundary=boundary)
    rng = np.random.default_rng(seed)
    start = particles.ConvexDomain.from_mesh(mesh).sample(n, rng)  # uniform on Ω: the start of the earlier figures
    run = particles.sgd(model, start, model.axis(epsilon), times, rng=rng)
    reference = limit(model, times, space_error=False)
    return {
        "times": np.asarray(times),
        "boundary": boundary,
        "centers": run.theta,
        "f_hat": lambda x, k: network_output(model, x, run.theta[k]),
        "sgd": np.array([population_risk(model, c).value for c in run.theta]),
        "finite": reference.risk,
        # the finite-δ curve's own estimated error (time stepping and data quadrature), beside every gap
        "finite_error": reference.total,
        "local": reference.beside["risk_delta_to_0"],
    }


def network_output(model, x, centers):
    """The network ``f̂ = (1/N) Σ K^δ(x − w_i)`` at the points ``x`` (shape ``(dim, n)``), with the
    bumps (and their walls) of ``model``."""
    return model.unit(np.ascontiguousarray(x.T), centers).mean(axis=1)


def interval_figure(out: Path, n: int = 200, epsilon: float = 1e-6, t_end: float = 0.3,
                    boundary: str = "reflected") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mesh = meshes.interval(0, 1, 0.0025)
    times = np.concatenate([[0.0], np.geomspace(t_end / 300, t_end, 30)])
    deltas = (1 / 5, 1 / 10, 1 / 20)
    fig, axes = plt.subplots(len(deltas), 2, figsize=(11, 3.2 * len(deltas)), constrained_layout=True)
    x = np.linspace(0, 1, 801)[None, :]
    panels = []
    for (left, right), delta in script.progress(list(zip(axes, deltas, strict=True)),
                                                f"interval: SGD and the limit for δ = 1/5, 1/10, 1/20 (N = {n})"):
        data = panel_data(mesh, f_interval, delta, n, epsilon, times.tolist(), boundary=boundary)
        times = data["times"]
        left.plot(x[0], f_interval(x), "k--", lw=1.5, label="f")
        shown = [1, 8, 16, len(times) - 1]
        for color, k in zip(plt.cm.viridis(np.linspace(0.1, 0.9, len(shown))), shown, strict=True):
            left.plot(x[0], data["f_hat"](x, k), color=color, label=rf"$\hat f$, t = {times[k]:.3g}")
        left.set_title(f"δ = 1/{round(1 / delta)}, N = {n}, bumps {boundary} at the walls")
        left.legend(fontsize=8)
        right.loglog(times[1:], data["sgd"][1:], "C0-", label="SGD (population risk)")
        right.loglog(times[1:], data["finite"][1:], "k-", label="PDE, finite δ")
        right.loglog(times[1:], data["local"][1:], "k--", label="PDE, δ → 0")
        right.set_xlabel("t")
        right.set_ylabel("risk")
        right.legend(fontsize=8)
        right.grid(alpha=0.3, which="both")
        panels.append((delta, data))
        walls = data["f_hat"](np.array([[0.0, 1.0]]), -1)
        print(f"delta = 1/{round(1 / delta)} ({boundary}): risk at t = {times[-1]:.3g}: SGD {data['sgd'][-1]:.2e}, "
              f"finite-delta PDE {data['finite'][-1]:.2e}, delta -> 0 PDE {data['local'][-1]:.2e}; "
              f"f_hat at the walls {walls[0]:.3f}, {walls[1]:.3f} (f = 0 there)")
    save_figure(fig, out / "jmm_1d.png")
    _write_csv(out / "jmm_1d.csv", panels)
    return out / "jmm_1d.png"


def disk_figure(out: Path, n: int = 2000, epsilon: float = 2e-5, t_end: float = 0.5, h: float = 0.05) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    mesh = meshes.disk(h=h)
    times = np.concatenate([[0.0], np.geomspace(t_end / 100, t_end, 20)])
    delta = 0.3
    with script.phase(f"disk: SGD (N = {n}) and the limit for δ = {delta}"):
        data = panel_data(mesh, f_disk, delta, n, epsilon, times.tolist())
    times = data["times"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    tri = Triangulation(mesh.p[0], mesh.p[1], np.asarray(mesh.t).T)
    f_hat = data["f_hat"](np.asarray(mesh.p), -1)
    panels = ((axes[0], f_disk(mesh.p), "target f"), (axes[1], f_hat, rf"$\hat f$ at t = {t_end}, centres in white"))
    for ax, values, title in panels:
        art = ax.tripcolor(tri, values, shading="gouraud", vmin=0, vmax=f_disk(np.zeros((2, 1)))[0])
        ax.set_aspect("equal")
        ax.set_title(title)
    fig.colorbar(art, ax=axes[:2].tolist())
    axes[1].plot(*data["centers"][-1].T, "w.", ms=1)
    axes[2].loglog(times[1:], data["sgd"][1:], "C0-", label=f"SGD, N = {n}")
    axes[2].loglog(times[1:], data["finite"][1:], "k-", label=f"PDE, δ = {delta}")
    axes[2].loglog(times[1:], data["local"][1:], "k--", label="PDE, δ → 0")
    axes[2].set_xlabel("t")
    axes[2].set_ylabel("risk")
    axes[2].legend()
    axes[2].grid(alpha=0.3, which="both")
    save_figure(fig, out / "jmm_disk.png")
    _write_csv(out / "jmm_disk.csv", [(delta, data)])
    return out / "jmm_disk.png"


def _write_csv(path: Path, panels: list[tuple[float, dict[str, Any]]]) -> None:
    """One row per (δ, t): the risks, the finite-δ PDE's estimated error, and whether
    that error is more than a tenth of the SGD–PDE gap (the gap is then not resolved)."""
    rows = []
    for delta, data in panels:
        for t, sgd, finite, error, local in zip(data["times"], data["sgd"], data["finite"], data["finite_error"],
                                                data["local"], strict=True):
            rows.append((float(delta), data["boundary"], float(t), float(sgd), float(finite), float(error),
                         float(local), bool(unresolved(error, abs(sgd - finite)))))
    write_csv(path, ["delta", "boundary", "t", "sgd_risk", "pde_risk_finite_delta", "pde_risk_error",
                     "pde_risk_delta_to_0", "pde_error_explains_gap"], rows)


def main(out: str = "out/jmm_figure", quick: bool = False, boundary: str = "reflected") -> list[Path]:
    """Both figures into ``out``; ``boundary`` is the interval's (the disk is always restricted)."""
    fempde.fem.kernels.check_boundary(boundary)
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    if quick:  # for the test suite: same code, smaller runs
        return [interval_figure(directory, n=50, epsilon=2e-5, t_end=0.05, boundary=boundary),
                disk_figure(directory, n=100, epsilon=1e-3, t_end=0.1, h=0.15)]
    return [interval_figure(directory, boundary=boundary), disk_figure(directory)]


if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, "N = 50 on the interval, 100 on a coarse disk, short horizons "
                                              "(about a minute)")
    parser.add_argument("--boundary", choices=fempde.fem.BOUNDARIES, default="reflected",
                        help="how the interval's bumps meet the walls (reflected: where the paper's statements hold)")
    args = parser.parse_args()
    for path in main(str(script.output(args, parser)), quick=args.quick, boundary=args.boundary):
        print(f"wrote {path}")
