"""The report of a sweep: ``runs.csv``, ``slopes.csv`` and ``convergence.png``.

``slopes.csv`` holds, for each swept axis and each choice of the other two,
the log-log slope of every gap over all seeds' runs (:func:`fit_slope`, a
least-squares line by :func:`scipy.stats.linregress`) with its 95 %
confidence interval. A slope needs runs at two distinct values of the axis;
its interval needs a third run (one degree of freedom for the residual):
with two runs the bounds are ``nan`` and the ``note`` column says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fempde.atomic import atomic_write, write_csv

from ..slopes import fit_slope
from .schema import AXES, EXTRAS, METRICS, Sweep

__all__ = ["SLOPE_COLUMNS", "fit_slope", "write_report"]

SLOPE_COLUMNS = ("axis", *AXES, "metric", "slope", "ci95_low", "ci95_high", "points", "note")
"""The columns of ``slopes.csv`` (the fitted axis' own column is left empty)."""


def _note(points: int) -> str:
    return "" if points >= 3 else "no confidence interval: it needs 3 points"


def _slopes(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    slopes = []
    for axis in AXES:
        others = [a for a in AXES if a != axis]
        for fixed in sorted({tuple(r[a] for a in others) for r in rows}):
            group = [r for r in rows if tuple(r[a] for a in others) == fixed]
            if len({r[axis] for r in group}) < 2:
                continue
            for metric in metrics:
                x, y = np.array([r[axis] for r in group]), np.array([r[metric] for r in group])
                if np.any(y <= 0):
                    continue
                slope, lo, hi = fit_slope(x, y)
                slopes.append({"axis": axis, **dict(zip(others, fixed, strict=True)), "metric": metric,
                               "slope": slope, "ci95_low": lo, "ci95_high": hi, "points": len(group),
                               "note": _note(len(group))})
    return slopes


def write_report(sweep: Sweep, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs.csv``, ``slopes.csv`` and ``convergence.png`` in the sweep's directory;
    returns ``{"runs": rows, "slopes": [...]}`` (the rows of the two tables)."""
    out = sweep.directory
    metrics = METRICS[sweep.crosscheck]
    columns = ["N", "epsilon", "delta", "seed", *metrics, *EXTRAS[sweep.crosscheck]]
    ordered = sorted(rows, key=lambda r: tuple(r[c] for c in ("N", "epsilon", "delta", "seed")))
    write_csv(out / "runs.csv", columns, [[row[c] for c in columns] for row in ordered])
    slopes = _slopes(rows, metrics)
    write_csv(out / "slopes.csv", SLOPE_COLUMNS, [[row.get(c, "") for c in SLOPE_COLUMNS] for row in slopes])
    if rows:
        _plot(sweep, rows, slopes, out / "convergence.png")
    return {"runs": rows, "slopes": slopes}


def _plot(sweep: Sweep, rows: list[dict[str, Any]], slopes: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = METRICS[sweep.crosscheck]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4.5), constrained_layout=True,
                             squeeze=False)
    groups = sorted({(r["epsilon"], r["delta"]) for r in rows})
    for ax, metric in zip(axes[0], metrics, strict=True):
        for k, (eps, delta) in enumerate(groups):
            group = [r for r in rows if (r["epsilon"], r["delta"]) == (eps, delta)]
            n = np.array(sorted({r["N"] for r in group}))
            values = [[r[metric] for r in group if r["N"] == v] for v in n]
            mean = np.array([np.mean(v) for v in values])
            ax.scatter([r["N"] for r in group], [r[metric] for r in group], s=10, color=f"C{k}", alpha=0.4)
            fit = [s for s in slopes if s["axis"] == "N" and s["metric"] == metric and s["epsilon"] == eps
                   and s["delta"] == delta]
            label = f"ε={eps:g}, δ={delta:g}"
            if fit:
                label += f": slope {fit[0]['slope']:.2f}"
                if not fit[0]["note"]:
                    label += f" [{fit[0]['ci95_low']:.2f}, {fit[0]['ci95_high']:.2f}]"
            ax.loglog(n, mean, "o-", color=f"C{k}", label=label)
        ax.set_xlabel("N")
        ax.set_title(f"{metric} (sup over t; dots: seeds)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110))
    plt.close(fig)
