"""The figure of Javanmard–Mondelli–Montanari (2020), seed 000: an RBF network
of N = 200 bumps of width δ ∈ {1/5, 1/10, 1/20} on Ω = [0, 1] learning the
strongly concave f(x) = 6x(1 − x) by SGD from uniform centres.

Left column: f and the network estimate f̂ = (1/N) Σ K^δ(· − w_i) at several
times. Right column: the SGD population risk against t, with the risk of the
finite-δ PDE and of the δ → 0 PDE. Then the same on the unit disk with a
concave f. Writes ``jmm_1d.png``, ``jmm_1d.csv``, ``jmm_disk.png``,
``jmm_disk.csv`` into ``out/jmm``.

    python examples/jmm_figure.py
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
from particles.crosscheck import unresolved


def f_interval(x):
    return 6 * x[0] * (1 - x[0])


def f_disk(x):  # concave, ∫ f = 1 on the unit disk
    return (2 / np.pi) * (1 - x[0] ** 2 - x[1] ** 2)


def panel_data(mesh, target, delta, n, epsilon, times, seed=0):
    """SGD centres and the risks of SGD, finite-δ PDE and δ → 0 PDE at ``times``
    (snapped to the SGD grid ``t = kε``, so both sides are compared at the same times)."""
    times = (np.unique(np.round(np.asarray(times) / epsilon)) * epsilon).tolist()
    space = fempde.Space(mesh)
    domain = particles.ConvexDomain.from_mesh(mesh)
    kernel = fempde.Kernel("triweight", space.dim, delta)
    rng = np.random.default_rng(seed)
    run = particles.rbf_sgd(domain, target, kernel, domain.sample(n, rng), fempde.TimeAxis(epsilon),
                            times, rng=rng)
    risk = particles.PopulationRisk(mesh, target, kernel)
    outputs = [t for t in times if t > 0]
    finite = fempde.solve(fempde.FiniteDeltaPorousMedium(target, delta=delta), space, "uniform", times[-1],
                          times=outputs)
    local = fempde.solve(fempde.PorousMedium(target), space, "uniform", times[-1], times=outputs)
    return {
        "times": np.asarray(times),
        "run": run,
        "kernel": kernel,
        "sgd": np.array([risk(c) for c in run.centers]),
        "finite": np.array([finite.system.risk(finite.snapshots[float(t)]) for t in times]),
        # the finite-δ curve's own estimated (time-stepping) error, beside every gap
        "finite_error": np.array([finite.history["risk_time_error"][finite.history["t"] == t][0] for t in times]),
        "local": np.array([local.system.risk(local.snapshots[float(t)]) for t in times]),
    }


def interval_figure(out: Path, n: int = 200, epsilon: float = 1e-6, t_end: float = 0.3) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mesh = meshes.interval(0, 1, 0.0025)
    times = np.concatenate([[0.0], np.geomspace(t_end / 300, t_end, 30)])
    deltas = (1 / 5, 1 / 10, 1 / 20)
    fig, axes = plt.subplots(len(deltas), 2, figsize=(11, 3.2 * len(deltas)), constrained_layout=True)
    x = np.linspace(0, 1, 801)[None, :]
    panels = []
    for (left, right), delta in zip(axes, deltas, strict=True):
        data = panel_data(mesh, f_interval, delta, n, epsilon, times.tolist())
        times = data["times"]
        left.plot(x[0], f_interval(x), "k--", lw=1.5, label="f")
        shown = [1, 8, 16, len(times) - 1]
        for color, k in zip(plt.cm.viridis(np.linspace(0.1, 0.9, len(shown))), shown, strict=True):
            centers = data["run"].centers[k]
            f_hat = data["kernel"](x[:, None, :] - centers.T[:, :, None]).mean(axis=0)
            left.plot(x[0], f_hat, color=color, label=rf"$\hat f$, t = {times[k]:.3g}")
        left.set_title(f"δ = 1/{round(1 / delta)}, N = {n}")
        left.legend(fontsize=8)
        right.loglog(times[1:], data["sgd"][1:], "C0-", label="SGD (population risk)")
        right.loglog(times[1:], data["finite"][1:], "k-", label="PDE, finite δ")
        right.loglog(times[1:], data["local"][1:], "k--", label="PDE, δ → 0")
        right.set_xlabel("t")
        right.set_ylabel("risk")
        right.legend(fontsize=8)
        right.grid(alpha=0.3, which="both")
        panels.append((delta, data))
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
    data = panel_data(mesh, f_disk, delta, n, epsilon, times.tolist())
    times = data["times"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    tri = Triangulation(mesh.p[0], mesh.p[1], np.asarray(mesh.t).T)
    f_hat = data["kernel"](mesh.p[:, None, :] - data["run"].centers[-1].T[:, :, None]).mean(axis=0)
    panels = ((axes[0], f_disk(mesh.p), "target f"), (axes[1], f_hat, rf"$\hat f$ at t = {t_end}, centres in white"))
    for ax, values, title in panels:
        art = ax.tripcolor(tri, values, shading="gouraud", vmin=0, vmax=f_disk(np.zeros((2, 1)))[0])
        ax.set_aspect("equal")
        ax.set_title(title)
    fig.colorbar(art, ax=axes[:2].tolist())
    axes[1].plot(*data["run"].centers[-1].T, "w.", ms=1)
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
            rows.append((float(delta), float(t), float(sgd), float(finite), float(error), float(local),
                         bool(unresolved(error, abs(sgd - finite)))))
    write_csv(path, ["delta", "t", "sgd_risk", "pde_risk_finite_delta", "pde_risk_error", "pde_risk_delta_to_0",
                     "pde_error_explains_gap"], rows)


def main(out: str = "out/jmm", quick: bool = False) -> list[Path]:
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    if quick:  # for the test suite: same code, smaller runs
        return [interval_figure(directory, n=50, epsilon=2e-5, t_end=0.05),
                disk_figure(directory, n=100, epsilon=1e-3, t_end=0.1, h=0.15)]
    return [interval_figure(directory), disk_figure(directory)]


if __name__ == "__main__":
    for path in main():
        print(f"wrote {path}")
