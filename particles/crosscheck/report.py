"""The files of a cross-check, written apart from the computation.

:func:`write` runs every writer of :data:`WRITERS` (or those named) on a
:class:`~particles.crosscheck.result.CrossCheck` into a directory, each file
written whole under a temporary name and renamed (:mod:`fempde.atomic`). A
writer is a function ``(check, directory) -> [paths]``; a new output (an HTML
report, a ParaView state) is one more entry of :data:`WRITERS`.

* ``crosscheck.csv`` — one row per ``(N, ε, t)``: the SGD risk (mean, range over
  seeds, its largest quadrature error), the limit's risk and its error, the
  finite-N bias of the limit's law, and for every quantity the gap (mean, range),
  the limit's error of it and whether that error could explain a seed's gap there;
* ``runs.csv`` — one row per run: each quantity's sup over ``t > 0``, the time of
  the sup, the gap at ``t = 0`` and whether any of its gaps is flagged;
* ``slopes.csv`` — every slope in N and in ε with its 95 % interval;
* ``risk.png`` (the curves) and ``gaps.png`` (the gaps against t, N and ε with
  the fitted slopes);
* ParaView series on the shared time axis: ``particles.pvd``, the units of the
  first seed at the largest N and smallest ε, as points named by the law's
  variables (the first three as coordinates, every one a point field), and the
  limit's law beside it — ``rho.pvd`` (the density on its mesh) or ``limit.pvd``
  (its weighted points).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from fempde.atomic import write_csv
from fempde.io.plots import label_values, save_figure
from fempde.io.vtk import PVDSeries, mesh_cells
from fempde.model.limits import MeshLaw, PointLaw

from .result import CrossCheck

__all__ = ["SLOPE_COLUMNS", "WRITERS", "write", "write_runs", "write_slopes"]

SLOPE_COLUMNS = ("quantity", "axis", "N", "epsilon", "slope", "ci95_low", "ci95_high", "points", "note")
"""The columns of ``slopes.csv`` (the fitted axis' own column is left empty)."""


def write_runs(path: Path, rows: list[dict[str, Any]], first: Iterable[str] = ()) -> Path:
    """``runs.csv``: one row per run (``first`` columns first, then the rest in the rows' order)."""
    columns = list(first) + [c for c in (rows[0] if rows else {}) if c not in set(first)]
    return write_csv(path, columns, [[row.get(c, "") for c in columns] for row in rows])


def write_slopes(path: Path, slopes: Iterable[Any], extra: dict[str, Any] | None = None) -> Path:
    """``slopes.csv``: one row per :class:`~particles.crosscheck.result.Slope` (``extra``: more columns)."""
    rows = []
    for s in slopes:
        fixed = {"N": "", "epsilon": s.fixed} if s.axis == "N" else {"N": int(s.fixed), "epsilon": ""}
        note = "" if np.isfinite(s.low) else "no confidence interval: it needs 3 runs"
        rows.append([s.quantity, s.axis, fixed["N"], fixed["epsilon"], s.slope, s.low, s.high, s.points, note,
                     *(extra or {}).values()])
    return write_csv(path, [*SLOPE_COLUMNS, *(extra or {})], rows)


def _curves(check: CrossCheck, directory: Path) -> list[Path]:
    header = ["N", "epsilon", "t", "seeds", "sgd_risk_mean", "sgd_risk_min", "sgd_risk_max", "sgd_risk_error",
              "limit_risk", "limit_risk_error", "risk_bias", "label_noise_variance"]
    for q in check.names:
        header += [f"{q}_mean", f"{q}_min", f"{q}_max", f"{q}_limit_error", f"{q}_flagged"]
    rows = []
    for n in check.ns:
        for epsilon in check.epsilons:
            runs = check.group(n, epsilon)
            if not runs:
                continue
            risk = np.array([r.sgd_risk for r in runs])
            for k, t in enumerate(check.times):
                row = [n, epsilon, float(t), len(runs), risk[:, k].mean(), risk[:, k].min(), risk[:, k].max(),
                       max(r.sgd_risk_error[k] for r in runs), check.limit_risk[k], check.limit.total[k],
                       check.bias[n][k], check.noise]
                for q in check.names:
                    gaps = np.array([r.gaps[q][k] for r in runs])
                    row += [gaps.mean(), gaps.min(), gaps.max(), max(r.errors[q][k] for r in runs),
                            any(bool(r.flagged(q)[k]) for r in runs)]
                rows.append(row)
    return [write_csv(directory / "crosscheck.csv", header, rows)]


def _tables(check: CrossCheck, directory: Path) -> list[Path]:
    return [write_runs(directory / "runs.csv", check.table()), write_slopes(directory / "slopes.csv", check.slopes())]


def _risk_plot(check: CrossCheck, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
    t = check.times
    for c, (n, epsilon) in enumerate((n, e) for n in check.ns for e in check.epsilons if check.group(n, e)):
        risk = np.array([r.sgd_risk for r in check.group(n, epsilon)])
        ax.fill_between(t, risk.min(axis=0), risk.max(axis=0), color=f"C{c}", alpha=0.2)
        ax.plot(t, risk.mean(axis=0), color=f"C{c}", label=f"SGD N = {n}, ε = {epsilon:g} ({len(risk)} seeds)")
    ax.plot(t, check.limit_risk, "k-", label=f"limit ({check.limit.method})")
    ax.fill_between(t, np.maximum(check.limit_risk - check.limit.total, 1e-300), check.limit_risk + check.limit.total,
                    color="k", alpha=0.15, label="limit's estimated error")
    for name, curve in check.limit.beside.items():
        ax.plot(t, curve, "k--", lw=1, label=name.replace("_", " "))
    ax.set_xlabel("t")
    ax.set_ylabel("risk" + (" (label noise left out)" if check.noise else ""))
    if np.all(check.limit_risk > 0):
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return [save_figure(fig, directory / "risk.png")]


def _gaps_plot(check: CrossCheck, directory: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes_rows = ["t"] + [a for a, values in (("N", check.ns), ("epsilon", check.epsilons)) if len(values) > 1]
    fig, axes = plt.subplots(len(axes_rows), len(check.names), figsize=(4.2 * len(check.names), 3.4 * len(axes_rows)),
                             constrained_layout=True, squeeze=False)
    slopes = check.slopes()
    for j, q in enumerate(check.names):
        for i, axis in enumerate(axes_rows):
            ax = axes[i, j]
            if axis == "t":
                _gap_in_time(check, q, ax)
            else:
                _gap_in(check, q, axis, [s for s in slopes if s.quantity == q and s.axis == axis], ax)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=6)
    return [save_figure(fig, directory / "gaps.png")]


def _gap_in_time(check: CrossCheck, quantity: str, ax: Any) -> None:
    t = check.times
    for c, (n, epsilon) in enumerate((n, e) for n in check.ns for e in check.epsilons if check.group(n, e)):
        gaps = np.array([r.gaps[quantity] for r in check.group(n, epsilon)])
        ax.semilogy(t, gaps.mean(axis=0), color=f"C{c}", label=f"N = {n}, ε = {epsilon:g}")
    ax.semilogy(t, check.limit_error(quantity), "k:", label="limit's error")
    ax.set_xlabel("t")
    ax.set_title(quantity)


def _gap_in(check: CrossCheck, quantity: str, axis: str, slopes: list[Any], ax: Any) -> None:
    others = check.epsilons if axis == "N" else check.ns
    for c, fixed in enumerate(others):
        runs = [r for r in check.runs if (r.key.epsilon if axis == "N" else r.key.n) == fixed]
        x = np.array([r.key.n if axis == "N" else r.key.epsilon for r in runs], dtype=float)
        y = np.array([r.sup(quantity) for r in runs])
        ax.scatter(x, y, s=10, color=f"C{c}", alpha=0.5)
        values = np.unique(x)
        fit = [s for s in slopes if s.fixed == fixed]
        label = f"{'ε' if axis == 'N' else 'N'} = {fixed:g}"
        if fit:
            label += f": slope {fit[0].slope:.2f}" + (f" [{fit[0].low:.2f}, {fit[0].high:.2f}]"
                                                        if np.isfinite(fit[0].low) else "")
        ax.loglog(values, [y[x == v].mean() for v in values], "o-", color=f"C{c}", label=label)
    label_values(ax.xaxis, check.ns if axis == "N" else check.epsilons, "{:.0f}" if axis == "N" else "{:g}")
    ax.set_xlabel(axis)
    ax.set_title(f"sup over t > 0 of {quantity}")


def _clouds(check: CrossCheck, directory: Path) -> list[Path]:
    if not check.clouds:
        return []
    n, epsilon = max(check.clouds, key=lambda g: (g[0], -g[1]))
    particles = PVDSeries(directory, "particles")
    for t, cloud in zip(check.times, check.clouds[(n, epsilon)], strict=True):
        particles.write_points(t, cloud[:, :3].T, {v: cloud[:, c] for c, v in enumerate(check.variables)})
    paths = [particles.pvd_path]
    law = check.limit.law
    if isinstance(law, MeshLaw):
        series = PVDSeries(directory, "rho")
        cells = mesh_cells(law.space)
        for k, t in enumerate(check.times):
            series.write(t, law.space.x, cells, {"rho": law.rho[k]}, {})
        paths.append(series.pvd_path)
    elif isinstance(law, PointLaw):
        series = PVDSeries(directory, "limit")
        for k, t in enumerate(check.times):
            points = law.points[k]
            fields = {v: points[:, c] for c, v in enumerate(check.variables)}
            series.write_points(t, points[:, :3].T, {**fields, "weight": law.weights})
        paths.append(series.pvd_path)
    return paths


WRITERS: dict[str, Callable[[CrossCheck, Path], list[Path]]] = {
    "curves": _curves, "tables": _tables, "risk": _risk_plot, "gaps": _gaps_plot, "paraview": _clouds,
}
"""Every writer, by name (module docstring)."""


def write(check: CrossCheck, directory: str | Path, only: Iterable[str] | None = None) -> list[Path]:
    """Run the writers of :data:`WRITERS` (or those named in ``only``) into ``directory``
    (created if missing); returns the paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    names = list(WRITERS) if only is None else list(only)
    unknown = sorted(set(names) - set(WRITERS))
    if unknown:
        raise ValueError(f"unknown writer {unknown[0]!r}; writers: {', '.join(WRITERS)}")
    paths: list[Path] = []
    for name in names:
        paths += WRITERS[name](check, out)
    return paths
