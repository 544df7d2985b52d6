"""PNG pictures of a run: ρ at a few times and the scalar histories.

1-D densities are drawn with matplotlib; 2-D and 3-D with pyvista off-screen
(falling back to matplotlib where no OpenGL context can be had).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..atomic import atomic_write, owned_file
from ..fem.space import Space
from ..solvers.observers import Observer, RunInfo
from ..solvers.result import Certificates, Result, SpaceError
from ..solvers.step import Step
from ..solvers.system import GradientFlowSystem

__all__ = ["PlotWriter", "history_figure", "history_title", "plot_densities", "plot_history", "save_figure"]

Array = NDArray[np.float64]


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Save a Matplotlib figure atomically (a full disk leaves no empty or partial
    PNG: :func:`fempde.atomic.atomic_write`) and close it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi))
    finally:
        plt.close(fig)


def label_values(axis: Any, values: Any, fmt: str = "{:g}") -> None:
    """Label a log axis at ``values`` only (each once, as written by ``fmt``), without
    minor labels: sizes such as N = 250 ... 4000 are read off, not guessed from decades."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    ticks = sorted({float(v) for v in values})
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter([fmt.format(v) for v in ticks]))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plot_history(history: Mapping[str, Array], path: str | Path, title: str = "",
                 space_error: SpaceError | None = None, certificates: Certificates | None = None) -> Path:
    """Write :func:`history_figure` to ``path``."""
    return save_figure(history_figure(history, title, space_error, certificates), path)


def history_title(certificates: Certificates | None, title: str = "") -> str:
    """The verdict of the certificates (held, or which failed, with the numbers), then ``title``."""
    lines = []
    if certificates is not None:
        verdict = "certificates hold" if certificates.ok else "CERTIFICATES FAILED: " + ", ".join(certificates.failed)
        energy = (f", max free-energy increase {certificates.max_energy_increase:.1e}"
                  if certificates.energy_checked else "")
        lines.append(f"{verdict} (mass drift {certificates.max_mass_drift:.1e}, "
                     f"min ρ {certificates.min_rho:.2g}{energy})")
    if title:
        lines.append(title)
    return "\n".join(lines)


MIN_RHO_LINTHRESH = 1e-16
"""The linear range of min ρ's symmetric-log axis: a negative density of 10⁻¹² (a
failed positivity certificate) sits four decades below zero, not on it."""


def history_figure(history: Mapping[str, Array], title: str = "", space_error: SpaceError | None = None,
                   certificates: Certificates | None = None) -> Any:
    """Free energy, risk (with its estimated error band), the estimated errors,
    mass drift, min ρ (on a symmetric-log axis, so a negative one shows), Δt and
    Newton iterations versus t; ``space_error`` (from a run with
    ``estimate_space_error``) adds the spatial estimate at the output times, and
    ``certificates`` put their verdict in the title (:func:`history_title`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = history["t"]
    fig, axes = plt.subplots(2, 4, figsize=(17, 7), constrained_layout=True)
    panels = [
        ("free_energy", "free energy $F_h$", "linear"),
        ("risk", "risk $R_h$ (band: estimated error)", "log"),
        ("risk_time_error", "estimated risk error", "log"),
        ("mass_drift", "relative mass drift", "symlog"),
        ("min_rho", r"min $\rho$ (symmetric log)", "symlog-rho"),
        ("dt", r"$\Delta t$", "log"),
        ("newton_iterations", "Newton iterations", "linear"),
        ("time_error", r"estimated L1 error of $\rho$ (time)", "log"),
    ]
    for ax, (key, label, scale) in zip(axes.flat, panels, strict=True):
        values = history[key]
        shown = slice(1, None) if key in ("dt", "newton_iterations", "risk_time_error", "time_error") else slice(None)
        ax.plot(t[shown], values[shown], ".-" if len(t) < 60 else "-", lw=1.2, ms=3,
                label="time stepping" if key.endswith("error") else None)
        if key == "risk":
            error = history["risk_time_error"]
            ax.fill_between(t, np.maximum(values - error, values * 1e-3), values + error, alpha=0.3)
        if space_error is not None and key in ("risk_time_error", "time_error"):
            estimate = space_error.risk_error if key == "risk_time_error" else space_error.rho_l1
            ax.plot(space_error.times, estimate, "s", ms=4, label="space (second mesh)")
        if key.endswith("error"):
            ax.legend(fontsize=8)
        if scale == "log" and np.all(values[shown] > 0):
            ax.set_yscale("log")
        elif scale.startswith("symlog"):
            # a wide linear part around 0 and every few decades labelled: labels that do not overlap
            ax.set_yscale("symlog", linthresh=MIN_RHO_LINTHRESH if scale == "symlog-rho" else 1e-16, linscale=2)
            ax.yaxis.get_major_locator().set_params(numticks=7)
            ax.axhline(0.0, color="k", lw=0.8)
        if scale == "symlog-rho" and np.any(values < 0):
            ax.plot(t[values < 0], values[values < 0], "rv", ms=5, label="negative")
            ax.legend(fontsize=8)
        ax.set_xlabel("t")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    heading = history_title(certificates, title)
    if heading:
        failed = certificates is not None and not certificates.ok
        fig.suptitle(heading, color="tab:red" if failed else "black")
    return fig


def plot_densities(space: Space, snapshots: Mapping[float, Array], path: str | Path,
                   extra: Mapping[str, Array] | None = None) -> Path:
    """ρ at the given times side by side (``extra`` nodal fields drawn alongside, e.g. ``f``)."""
    if space.dim == 1:
        return _densities_1d(space, snapshots, path, extra or {})
    try:
        return _densities_pyvista(space, snapshots, path)
    except Exception as err:  # no OpenGL: fall back to matplotlib
        warnings.warn(f"pyvista could not render ({err}); drawing with matplotlib", stacklevel=2)
        return _densities_matplotlib(space, snapshots, path)


def _densities_1d(space: Space, snapshots: Mapping[float, Array], path: str | Path,
                  extra: Mapping[str, Array]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(space.x[0])
    x = space.x[0, order]
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(snapshots)))
    for color, (t, rho) in zip(colors, sorted(snapshots.items()), strict=True):
        ax.plot(x, rho[order], color=color, label=f"t = {t:.3g}")
    for name, values in extra.items():
        ax.plot(x, values[order], "k--", lw=1, label=name)
    ax.set_xlabel("x")
    ax.set_ylabel(r"$\rho$")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def _grid(space: Space) -> Any:
    import pyvista as pv

    cell_type = {2: pv.CellType.TRIANGLE, 3: pv.CellType.TETRA}[space.dim]
    points = np.zeros((space.n, 3))
    points[:, : space.dim] = space.x.T
    return pv.UnstructuredGrid({cell_type: np.asarray(space.mesh.t).T}, points)


def _densities_pyvista(space: Space, snapshots: Mapping[float, Array], path: str | Path) -> Path:
    import pyvista as pv
    import vtk

    vtk.vtkObject.GlobalWarningDisplayOff()  # no X server: VTK warns, then renders off-screen anyway

    items = sorted(snapshots.items())
    vmax = max(float(rho.max()) for _, rho in items)
    plotter: Any = pv.Plotter(off_screen=True, shape=(1, len(items)), window_size=[360 * len(items), 400])
    for k, (t, rho) in enumerate(items):
        plotter.subplot(0, k)
        grid = _grid(space)
        grid.point_data["rho"] = rho
        shown = grid.clip(normal="y", origin=grid.center) if space.dim == 3 else grid
        plotter.add_mesh(shown, scalars="rho", cmap="viridis", clim=(0.0, vmax), lighting=space.dim == 2,
                         scalar_bar_args={"title": "rho", "n_labels": 3, "fmt": "%.2f"})
        plotter.add_text(f"t = {t:.3g}", font_size=10)
        if space.dim == 2:
            plotter.view_xy()
        else:
            plotter.view_isometric()
    try:
        return atomic_write(path, lambda tmp: plotter.screenshot(str(tmp)))
    finally:
        plotter.close()


def _densities_matplotlib(space: Space, snapshots: Mapping[float, Array], path: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.tri import Triangulation

    items = sorted(snapshots.items())
    fig, axes = plt.subplots(1, len(items), figsize=(3.6 * len(items), 3.4), constrained_layout=True,
                             squeeze=False)
    vmax = max(float(rho.max()) for _, rho in items)
    for ax, (t, rho) in zip(axes[0], items, strict=True):
        if space.dim == 2:
            tri = Triangulation(space.x[0], space.x[1], np.asarray(space.mesh.t).T)
            art = ax.tripcolor(tri, rho, shading="gouraud", vmin=0, vmax=vmax)
        else:  # nodes near the mid-plane z = centre
            z = space.x[2]
            near = np.abs(z - 0.5 * (z.min() + z.max())) < 0.05 * np.ptp(z) + 1e-12
            art = ax.tricontourf(space.x[0, near], space.x[1, near], rho[near], levels=20, vmin=0, vmax=vmax)
        ax.set_aspect("equal")
        ax.set_title(f"t = {t:.3g}")
    fig.colorbar(art, ax=axes[0].tolist(), label=r"$\rho$")
    return save_figure(fig, path)


class PlotWriter(Observer):
    """At the end of a run, writes ``rho.png`` (ρ at up to ``panels`` times,
    from the run's output times) and ``history.png`` into ``directory``."""

    def __init__(self, directory: str | Path, panels: int = 4, title: str = "") -> None:
        self.directory = Path(directory)
        self.files = ("rho.png", "history.png")
        self.panels = panels
        self.title = title
        self._snapshots: dict[float, Array] = {}
        self._wanted: list[float] = []
        self._system: GradientFlowSystem | None = None

    def start(self, info: RunInfo) -> None:
        self._system = info.system
        if self.directory.is_dir():
            for name in self.files:  # a link at its names is refused before the run, not at its end
                owned_file(self.directory / name)
        # the initial state, the end, and output times spread in between
        candidates = np.asarray(info.times or (info.t_end,))
        picks = np.unique(np.round(np.geomspace(1, len(candidates), self.panels - 1)).astype(int) - 1)
        self._wanted = [float(candidates[k]) for k in picks]

    def observe(self, step: Step) -> None:
        if step.index == 0 or step.t in self._wanted:
            self._snapshots[step.t] = step.rho

    def finish(self, result: Result) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._snapshots[result.t] = result.rho
        target = getattr(self._system, "f", None)  # the porous-medium problems' target
        extra = {"f": target} if target is not None else {}
        densities, history = (self.directory / name for name in self.files)
        plot_densities(result.space, self._snapshots, densities, extra)
        plot_history(result.history, history, self.title, result.space_error, result.certificates)
