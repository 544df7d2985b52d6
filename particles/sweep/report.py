"""The report of a sweep: ``runs.csv``, ``slopes.csv`` and ``convergence.png``.

``runs.csv``: one row per run (the swept parameter's value, N, ε, seed, each
quantity's sup over ``t > 0``, the time of the sup, the gap at ``t = 0``, and
whether the limit's error could explain any of its gaps). ``slopes.csv``: the
slopes of each sup-gap against N and ε at each value (those of the cross-checks,
:meth:`particles.crosscheck.CrossCheck.slopes`) and, with two values or more,
against the parameter at each (N, ε), every one with its 95 % interval over all
seeds' runs (:func:`particles.slopes.fit_slope`; none with two points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fempde.io.plots import label_values, save_figure

from ..crosscheck.report import write_runs
from ..slopes import fit_slope
from .schema import Sweep

__all__ = ["SweepSlope", "fit_slope", "write_report"]


@dataclass(frozen=True)
class SweepSlope:
    """A slope of ``quantity``'s sup-gap against ``axis`` where the others are ``where``."""

    quantity: str
    axis: str
    where: str
    slope: float
    low: float
    high: float
    points: int


def _rows(sweep: Sweep, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    key = sweep.parameter or "parameter"
    return [{key: result["value"], **row} for result in results for row in result["rows"]]


def _slopes(sweep: Sweep, results: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[SweepSlope]:
    out = []
    for result in results:
        at = f"{sweep.parameter} = {result['value']:g}, " if sweep.parameter else ""
        for s in result["slopes"]:
            fixed = f"epsilon = {s['fixed']:g}" if s["axis"] == "N" else f"N = {int(s['fixed'])}"
            out.append(SweepSlope(s["quantity"], s["axis"], at + fixed, s["slope"], s["low"], s["high"], s["points"]))
    if sweep.parameter and len(results) > 1:
        quantities = [k[:-4] for k in rows[0] if k.endswith("_sup") and not k.endswith("_t_sup")]  # not t of the sup
        for n in sweep.n:
            for eps in sweep.epsilon:
                group = [r for r in rows if r["N"] == n and r["epsilon"] == eps]
                x = np.array([r[sweep.parameter] for r in group], dtype=float)
                for q in quantities:
                    y = np.array([r[f"{q}_sup"] for r in group])
                    if len(np.unique(x)) < 2 or np.any(~(x > 0)) or np.any(~(y > 0)):
                        continue
                    slope, low, high = fit_slope(x, y)
                    out.append(SweepSlope(q, sweep.parameter, f"N = {n}, epsilon = {eps:g}", slope, low, high,
                                          len(group)))
    return out


def write_report(sweep: Sweep, results: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs.csv``, ``slopes.csv`` and ``convergence.png`` in the sweep's directory; returns
    ``{"rows": [...], "slopes": [...], "resolved": bool}``."""
    from fempde.atomic import write_csv

    out = sweep.directory
    out.mkdir(parents=True, exist_ok=True)
    rows = _rows(sweep, results)
    write_runs(out / "runs.csv", rows, [sweep.parameter or "parameter", "N", "epsilon", "seed"])
    slopes = _slopes(sweep, results, rows)
    write_csv(out / "slopes.csv", ["quantity", "axis", "where", "slope", "ci95_low", "ci95_high", "points", "note"],
              [[s.quantity, s.axis, s.where, s.slope, s.low, s.high, s.points,
                "" if np.isfinite(s.low) else "no confidence interval: it needs 3 runs"] for s in slopes])
    if rows:
        _plot(sweep, rows, slopes, out / "convergence.png")
    return {"rows": rows, "slopes": slopes, "resolved": all(r["resolved"] for r in results)}


def _plot(sweep: Sweep, rows: list[dict[str, Any]], slopes: list[SweepSlope], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = sweep.parameter or "parameter"
    quantities = [k[:-4] for k in rows[0] if k.endswith("_sup") and not k.endswith("_t_sup")]  # not t of the sup
    fig, axes = plt.subplots(1, len(quantities), figsize=(5.2 * len(quantities), 4.3), constrained_layout=True,
                             squeeze=False)
    groups = sorted({(r["epsilon"], r[key]) for r in rows}, key=str)
    for ax, q in zip(axes[0], quantities, strict=True):
        for c, (eps, value) in enumerate(groups):
            group = [r for r in rows if (r["epsilon"], r[key]) == (eps, value)]
            n = np.array(sorted({r["N"] for r in group}))
            ax.scatter([r["N"] for r in group], [r[f"{q}_sup"] for r in group], s=10, color=f"C{c}", alpha=0.4)
            label = f"ε = {eps:g}" + (f", {key} = {value:g}" if sweep.parameter else "")
            where = (f"{key} = {value:g}, " if sweep.parameter else "") + f"epsilon = {eps:g}"
            fit = [s for s in slopes if s.quantity == q and s.axis == "N" and s.where == where]
            if fit:
                label += f": slope {fit[0].slope:.2f}" + (f" [{fit[0].low:.2f}, {fit[0].high:.2f}]"
                                                            if np.isfinite(fit[0].low) else "")
            ax.loglog(n, [np.mean([r[f"{q}_sup"] for r in group if r["N"] == v]) for v in n], "o-", color=f"C{c}",
                      label=label)
        label_values(ax.xaxis, [r["N"] for r in rows], "{:.0f}")
        ax.set_xlabel("N")
        ax.set_title(f"{q}: sup over t > 0 (dots: seeds)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    save_figure(fig, path)
