"""Lazy (α = √m) against mean-field (α = 1) gradient descent on n = 50 points of
the sphere in d = 5 (Chizat–Bach's lazy regime against the mean-field one; :mod:`particles.lazy`).

For m from 10² to 10⁴ and several seeds it measures

* lazy: the sup-in-time gap between the GD loss and its kernel limit — the
  kernel iteration at the same step (the width gap) and the kernel flow (which
  adds the m-independent step-size gap) — the largest unit displacement, the
  fitted rate of the loss and of the slowest kernel mode against ``λ_min(H)``;
* mean-field: the largest displacement (of order one) and the sup gap of the
  loss curve to the seed-averaged curve of the widest network;

fits the slopes in m with :func:`particles.slopes.fit_slope`, and writes
``lazy_vs_meanfield.csv`` (one row per regime, m and seed), ``lazy_vs_meanfield_slopes.csv``
and ``lazy_vs_meanfield.png`` (both regimes side by side)::

    python examples/lazy_vs_meanfield.py [--quick] [--out DIR]   # DIR: out/lazy_vs_meanfield

Still on :func:`particles.lazy.gradient_descent` (its per-step loss, displacement
and tangent kernel are what the table measures); not yet ported to
:func:`particles.sgd` and :func:`fempde.model.limit` of
:func:`fempde.model.lazy_network`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fempde.atomic import write_csv
from fempde.io.plots import save_figure
from fempde.meanfield import TimeAxis
from fempde.scenario import out_option, script, writable_directory
from particles.lazy import GDRun, Regime, TrainingSet, TwoLayer, gradient_descent, loss, loss_rate
from particles.slopes import fit_slope

N_POINTS, DIM = 50, 5
OUT = "out/lazy_vs_meanfield"


@dataclass(frozen=True)
class Setting:
    """The widths, seeds and time axes of a run of this example."""

    widths: tuple[int, ...]
    seeds: int
    lazy_epsilon: float
    lazy_t_end: float
    mf_epsilon: float
    mf_t_end: float


FULL = Setting((100, 316, 1000, 3162, 10000), 4, 1.0, 3000.0, 0.5, 500.0)
QUICK = Setting((100, 316, 1000), 3, 1.0, 1500.0, 0.5, 200.0)

HEADER = [
    "regime", "m", "seed", "sup_gap_kernel_flow", "sup_gap_kernel_iteration", "step_gap", "sup_gap_mf_reference",
    "max_displacement", "loss_rate", "kernel_loss_rate", "bound_rate", "slowest_mode_rate", "lambda_min_over_n",
    "loss0", "loss_end", "wall_s",
]


def _run(regime: Regime, m: int, seed: int, data: TrainingSet, setting: Setting) -> GDRun:
    rng = np.random.default_rng([20261123, m, seed])  # one stream per (m, seed), the same in both regimes
    net = TwoLayer.initial(regime, m, data.d, rng)
    if regime == "lazy":
        return gradient_descent(net, data, regime, TimeAxis(setting.lazy_epsilon), setting.lazy_t_end)
    return gradient_descent(net, data, regime, TimeAxis(setting.mf_epsilon), setting.mf_t_end)


def _row(run: GDRun, m: int, seed: int) -> dict[str, Any]:
    kernel = run.kernel()
    steps = np.arange(run.loss.size)
    flow = loss(kernel.residual(run.axis, steps))
    iteration = loss(kernel.residual(run.axis, steps, discrete=True))
    t = run.times
    t1 = float(t[-1])
    return {
        "regime": run.regime, "m": m, "seed": seed,
        "sup_gap_kernel_flow": float(np.abs(run.loss - flow).max()),
        "sup_gap_kernel_iteration": float(np.abs(run.loss - iteration).max()),
        "step_gap": float(np.abs(iteration - flow).max()),
        "sup_gap_mf_reference": float("nan"),
        "max_displacement": float(run.displacement.max()),
        "loss_rate": loss_rate(t, run.loss, t1 / 2, t1),
        "kernel_loss_rate": loss_rate(t, flow, t1 / 2, t1),
        "bound_rate": kernel.bound_rate(),
        "slowest_mode_rate": run.slowest_mode_rate(t1 / 2, t1),
        "lambda_min_over_n": kernel.lambda_min / kernel.n,
        "loss0": float(run.loss[0]), "loss_end": float(run.loss[-1]), "wall_s": run.wall_s,
    }


def _slope(rows: list[dict[str, Any]], regime: str, column: str, widths: tuple[int, ...]) -> tuple[float, ...]:
    means = [np.mean([r[column] for r in rows if r["regime"] == regime and r["m"] == m]) for m in widths]
    return fit_slope(widths, means)


def main(out: str = OUT, quick: bool = False) -> dict[str, Any]:
    """Run both regimes, write the CSVs and the figure into ``out``; returns the rows,
    the slopes ``{name: (slope, low, high)}`` and the paths. An ``out`` that is a file
    or not writable raises :class:`~fempde.scenario.ScenarioError` before any run."""
    setting = QUICK if quick else FULL
    folder = writable_directory(out_option(out))
    data = TrainingSet.sphere(N_POINTS, DIM, np.random.default_rng(20261123))
    rows: list[dict[str, Any]] = []
    curves: dict[tuple[str, int, int], GDRun] = {}
    cases = [(regime, m, seed) for regime in ("lazy", "mean-field") for m in setting.widths
             for seed in range(setting.seeds)]
    for regime, m, seed in script.progress(cases, "gradient descent (regime, width, seed)"):
        run = _run(regime, m, seed, data, setting)  # type: ignore[arg-type]
        curves[(regime, m, seed)] = run
        rows.append(_row(run, m, seed))
    # mean-field: the limit curve is m-independent; the seed mean of the widest network stands for it
    widest = setting.widths[-1]
    reference = np.mean([curves[("mean-field", widest, s)].loss for s in range(setting.seeds)], axis=0)
    for row in rows:
        if row["regime"] == "mean-field" and row["m"] != widest:
            row["sup_gap_mf_reference"] = float(np.abs(curves[("mean-field", row["m"], row["seed"])].loss
                                                       - reference).max())
    narrower = setting.widths[:-1]
    slopes = {
        "lazy_width_gap": _slope(rows, "lazy", "sup_gap_kernel_iteration", setting.widths),
        "lazy_flow_gap": _slope(rows, "lazy", "sup_gap_kernel_flow", setting.widths),
        "lazy_displacement": _slope(rows, "lazy", "max_displacement", setting.widths),
        "mf_displacement": _slope(rows, "mean-field", "max_displacement", setting.widths),
        "mf_curve_gap": _slope(rows, "mean-field", "sup_gap_mf_reference", narrower),
    }
    csv_path = write_csv(folder / "lazy_vs_meanfield.csv", HEADER, [[r[h] for h in HEADER] for r in rows])
    slope_path = write_csv(folder / "lazy_vs_meanfield_slopes.csv", ["quantity", "slope", "low_95", "high_95"],
                           [[name, *s] for name, s in slopes.items()])
    png = _figure(folder / "lazy_vs_meanfield.png", rows, curves, setting, reference)
    return {"rows": rows, "slopes": slopes, "paths": [csv_path, slope_path, png]}


def _figure(path: Path, rows: list[dict[str, Any]], curves: dict[tuple[str, int, int], GDRun], setting: Setting,
            reference: np.ndarray) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(11, 9.5))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, len(setting.widths)))
    for m, c in zip(setting.widths, colors, strict=True):
        run = curves[("lazy", m, 0)]
        flow = loss(run.kernel().residual(run.axis, np.arange(run.loss.size)))
        ax[0, 0].semilogy(run.times, run.loss, color=c, label=f"GD, m = {m}")
        ax[0, 0].semilogy(run.times, flow, color=c, ls="--", lw=1)
        mf = curves[("mean-field", m, 0)]
        ax[0, 1].semilogy(mf.times, mf.loss, color=c, label=f"GD, m = {m}")
    ax[0, 1].semilogy(curves[("mean-field", setting.widths[-1], 0)].times, reference, "k:",
                      label=f"mean of {setting.seeds} seeds, m = {setting.widths[-1]}")
    ax[0, 0].set_title("lazy, α = √m: GD (solid) and kernel flow of H(0) (dashed), seed 0")
    ax[0, 1].set_title("mean-field, α = 1, η = DRIFT·m: loss curves, seed 0")
    for a in ax[0]:
        a.set_xlabel("t")
        a.set_ylabel("training loss L(t)")
        a.legend(fontsize=8)
    widths = np.array(setting.widths, dtype=float)

    def mean(regime: str, column: str) -> np.ndarray:
        return np.array([np.mean([r[column] for r in rows if r["regime"] == regime and r["m"] == m])
                         for m in setting.widths])

    lazy = ax[1, 0]
    lazy.loglog(widths, mean("lazy", "sup_gap_kernel_iteration"), "o-", label="sup |L_GD − L_kernel iteration|")
    lazy.loglog(widths, mean("lazy", "sup_gap_kernel_flow"), "s-", label="sup |L_GD − L_kernel flow|")
    lazy.loglog(widths, mean("lazy", "max_displacement"), "^-", label="max_i ‖θ_i(t) − θ_i(0)‖")
    lazy.loglog(widths, mean("lazy", "max_displacement")[0] * (widths / widths[0]) ** -0.5, "k:", lw=1, label="m^-1/2")
    lazy.loglog(widths, mean("lazy", "sup_gap_kernel_iteration")[0] * widths[0] / widths, "k--", lw=1, label="m^-1")
    lazy.set_title("lazy: gaps to the kernel limit and displacement")
    mf = ax[1, 1]
    mf.loglog(widths, mean("mean-field", "max_displacement"), "^-", label="max_i ‖θ_i(t) − θ_i(0)‖")
    mf.loglog(widths[:-1], mean("mean-field", "sup_gap_mf_reference")[:-1], "o-",
              label=f"sup |L_m − L_ref|, ref m = {setting.widths[-1]}")
    mf.set_title("mean-field: displacement O(1), loss curves converge")
    for a in ax[1]:
        a.set_xlabel("m (units)")
        # below the axes: inside, any corner covers a marker of some run (m = 1000 in the lower left)
        a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def _interval(low: float, high: float) -> str:
    if math.isnan(low):  # fit_slope: two points give a slope but no interval
        return "(no interval: needs 3 widths)"
    return f"95% [{low:+.3f}, {high:+.3f}]"


if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, f"m in {QUICK.widths}, {QUICK.seeds} starts, shorter runs (full: m in "
                                               f"{FULL.widths}, {FULL.seeds} starts)")
    args = parser.parse_args()
    result = main(str(script.output(args, parser)), args.quick)
    for name, (slope, low, high) in result["slopes"].items():
        print(f"{name:20s} slope {slope:+.3f}  {_interval(low, high)}")
    for regime in ("lazy", "mean-field"):
        for m in sorted({r["m"] for r in result["rows"]}):
            sel = [r for r in result["rows"] if r["regime"] == regime and r["m"] == m]
            print(f"{regime:10s} m={m:6d} width gap {np.mean([r['sup_gap_kernel_iteration'] for r in sel]):.3g}"
                  f" flow gap {np.mean([r['sup_gap_kernel_flow'] for r in sel]):.3g}"
                  f" disp {np.mean([r['max_displacement'] for r in sel]):.3g}"
                  f" loss rate/bound {np.mean([r['loss_rate'] / r['bound_rate'] for r in sel]):.3f}"
                  f" GD/kernel rate {np.mean([r['loss_rate'] / r['kernel_loss_rate'] for r in sel]):.4f}"
                  f" mode rate/(λmin/n) {np.mean([r['slowest_mode_rate'] / r['lambda_min_over_n'] for r in sel]):.3f}"
                  f" wall {np.mean([r['wall_s'] for r in sel]):.2f} s")
    print("wrote", *result["paths"])
