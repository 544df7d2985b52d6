"""The figures of Mei–Montanari–Nguyen (2018): two isotropic Gaussians
(y = ±1, x | y ~ N(0, (1 + yΔ)² I_d)) learnt by ŷ(x) = (1/N) Σ σ(⟨w_i, x⟩).

* Fig. 1 (``fig1``): Δ = 0.8, d = 40, N = 800, w_i ~ N(0, 0.8²/d I), ξ ≡ 1:
  histograms of ‖w_i‖ from SGD over the radial PDE's ρ̄_t, at two step sizes
  ε to show that ε does not move the curves (their W1 distances are printed).
* Fig. 2 (``fig2``): the risk against Δ at d = 40: SGD (N = 800) at a long
  time, the noiseless radial PDE at a long time, and the single-delta ansatz
  min_r 1 + 2v(r) + u_d(r, r) (Eq. 14), marked valid where Lemma 1's condition
  holds (the largest such Δ is the dot).
* Fig. 3 (``fig3``): ReLU units a·ReLU(⟨w, x⟩ + b), a and b trained, on
  anisotropic Gaussians (only the first s0 = 60 of d = 320 coordinates differ
  between the classes), ξ(t) = t^(−1/4), ε = 2·10⁻⁴, N = 800, a_i = b_i = 1,
  w_i ~ N(0, 0.8²/d I), Δ = 0.25, 0.5, 0.75: the risk against t for the reduced
  PDE in (a, b, r1, r2) (d = ∞ as in the paper, and d = 320) and SGD, the means
  of a, b, r1 (finite-d PDE and SGD) in an inset; the clouds of (a, b, r1) as .pvd series.
* Fig. 4 (``fig4``): the non-monotone σ, d = 320, Δ = 0.5, N = 800, w_i ~
  N(0, κ²/d I) with κ = 0.1 and 0.4: two limits, both tracked by the PDE
  (risk and mean ‖w‖ against t).

The PDE is the noiseless radial DD solved by characteristics
(:func:`fempde.quantile_flow`: exact transport, no numerical diffusion), for
Fig. 3 the four-variable reduced DD by weighted points
(:func:`fempde.solvers.point_flow.point_flow`); SGD risks are exact population
risks (:func:`fempde.model.population_risk`). The SGD of Figs. 1, 2 and 4 is the one
engine's run (:func:`particles.sgd`) of the declared model
(:func:`fempde.model.mmn_isotropic`): the same steps and draws as the per-model
loop it replaces, so no number moved. Fig. 3's SGD is the engine's run of
:func:`fempde.model.mmn_anisotropic` from the paper's start, read in the reduced
variables ``(a, b, r1, r2)`` (:func:`particles.reduced.reduced_variables`); its risk is
the same closed form as before.

    python examples/mmn_figures.py [fig1] [fig2] [fig3] [fig4] [--out DIR] [--quick]

Writes ``mmn_fig1.png`` ... ``mmn_fig4.png`` and one CSV per figure; Fig. 3 also
``mmn_fig3_sgd_<Δ>.pvd`` (the SGD units) and ``mmn_fig3_pde_d<d>_<Δ>.pvd`` (the
weighted points of the finite-d PDE, the one SGD is compared with), points
(a, b, r1), fields r2 and weight, to open together in ParaView.
``--quick`` shrinks N, d and the horizons so that everything runs in about a minute.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import chi, wasserstein_distance

import fempde
import particles
from fempde.atomic import write_csv
from fempde.io.plots import save_figure
from fempde.model import mmn_anisotropic, mmn_isotropic, population_risk
from fempde.scenario import script
from fempde.solvers.characteristics import quantiles_of


def _initial(d: int, kappa: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((n, d)) * kappa / math.sqrt(d)


def _flow(model, kappa, times, r_max, quantiles=4000):
    law = chi(model.d, scale=kappa / math.sqrt(model.d))
    return fempde.quantile_flow(fempde.RadialDD(model), quantiles_of(law.ppf, quantiles), times, r_max=r_max,
                                table=161)


def figure1(out: Path, quick: bool) -> Path:
    d, delta, n = (20, 0.8, 200) if quick else (40, 0.8, 800)
    times = [0.0, 0.5, 2.0] if quick else [0.0, 0.5, 2.0, 5.0, 20.0]
    epsilons = (2e-5, 5e-6) if quick else (1e-5, 2e-6)
    model = fempde.IsotropicGaussians(delta, d)
    flow = _flow(model, 0.8, times, r_max=8.0, quantiles=20_000)
    radii = {}
    for eps in script.progress(epsilons, f"Fig. 1: SGD at {len(epsilons)} step sizes"):
        horizon = times if eps == epsilons[0] else [t for t in times if t <= 2.0]  # the small ε up to t = 2
        rng = np.random.default_rng(1)
        declared = mmn_isotropic(delta, d)
        run = particles.sgd(declared, _initial(d, 0.8, n, rng), declared.axis(eps), horizon, rng=rng)
        radii[eps] = np.linalg.norm(run.theta, axis=2)
    fig, axes = plt.subplots(1, len(times), figsize=(3.2 * len(times), 3.2), constrained_layout=True)
    rows = []
    for k, (t, ax) in enumerate(zip(times, axes, strict=True)):
        r = radii[epsilons[0]][k]
        lo, hi = min(r.min(), flow.positions[k].min()), max(r.max(), flow.positions[k].max())
        edges = np.linspace(max(0.0, lo - 0.1), hi + 0.1, 31)
        ax.hist(r, bins=edges, density=True, color="C0", alpha=0.5, label=f"SGD, ε = {epsilons[0]:g}")
        if k < len(radii[epsilons[1]]):
            ax.hist(radii[epsilons[1]][k], bins=edges, density=True, histtype="step", color="C1",
                    label=f"SGD, ε = {epsilons[1]:g}")
        fine = np.linspace(edges[0], edges[-1], 121)
        ax.plot(0.5 * (fine[1:] + fine[:-1]), flow.histogram(k, fine), "k-", label="radial PDE")
        ax.set_title(f"t = {t:g}")
        ax.set_xlabel("‖w‖")
        row = {"t": t, "pde_mean_r": flow.positions[k].mean(), "sgd_mean_r": r.mean(),
               "w1_sgd_pde": wasserstein_distance(r, flow.positions[k]), "pde_risk": flow.risk[k]}
        if k < len(radii[epsilons[1]]):
            row["w1_between_epsilons"] = wasserstein_distance(r, radii[epsilons[1]][k])
        rows.append(row)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Fig. 1: radial law, Δ = {delta}, d = {d}, N = {n}")
    _save(fig, rows, out, "mmn_fig1")
    for row in rows:
        print("fig1 " + ", ".join(f"{key} {value:.4g}" for key, value in row.items()), flush=True)
    return out / "mmn_fig1.png"


def single_delta(model: fempde.IsotropicGaussians) -> tuple[float, float, bool]:
    """``r*`` minimising Eq. 14, its risk, and whether Lemma 1 certifies it
    (``v(r) + u_d(r, r*) >= v(r*) + u_d(r*, r*)`` on a grid of r in [0, 10])."""

    def risk(r: float) -> float:
        return float(1 + 2 * model.v(np.array([r]))[0] + model.u([r], [r])[0, 0])

    grid = np.linspace(0.05, 10.0, 200)
    start = grid[np.argmin([risk(r) for r in grid])]
    step = grid[1] - grid[0]
    best = minimize_scalar(risk, bounds=(max(0.0, start - step), start + step), method="bounded",
                           options={"xatol": 1e-9})
    r_star = float(best.x)
    r = np.linspace(0.0, 10.0, 401)
    lhs = model.v(r) + model.u(r, [r_star])[:, 0]
    rhs = float(model.v(np.array([r_star]))[0] + model.u([r_star], [r_star])[0, 0])
    return r_star, float(best.fun), bool(np.all(lhs >= rhs - 1e-9))


def figure2(out: Path, quick: bool) -> Path:
    d, n = (20, 200) if quick else (40, 800)
    deltas = np.array([0.3, 0.6, 0.9]) if quick else np.round(np.arange(0.1, 0.95, 0.1), 2)
    t_long, eps = (20.0, 1e-4) if quick else (50.0, 5e-5)
    rows = []
    for delta in script.progress(deltas, f"Fig. 2: {len(deltas)} values of Δ"):
        model = fempde.IsotropicGaussians(float(delta), d, angles=24, nodes=24)
        flow = _flow(model, 0.8, [0.0, t_long], r_max=10.0, quantiles=2000)
        rng = np.random.default_rng(2)
        declared = mmn_isotropic(float(delta), d)
        run = particles.sgd(declared, _initial(d, 0.8, n, rng), declared.axis(eps), [t_long], rng=rng)
        r_star, ansatz, valid = single_delta(model)
        rows.append({"delta": float(delta), "sgd_risk": population_risk(declared, run.theta[-1]).value,
                     "pde_risk": flow.risk[-1], "single_delta_risk": ansatz, "r_star": r_star,
                     "lemma1_holds": valid})
        print("fig2 " + ", ".join(f"{key} {value:.4g}" for key, value in rows[-1].items()), flush=True)
    fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    x = [row["delta"] for row in rows]
    ax.plot(x, [row["pde_risk"] for row in rows], "k-", label=f"radial PDE at t = {t_long:g}")
    ax.plot(x, [row["single_delta_risk"] for row in rows], "k--", label="single-delta ansatz (Eq. 14)")
    ax.plot(x, [row["sgd_risk"] for row in rows], "C3+", markersize=10, label=f"SGD, N = {n}")
    valid = [row["delta"] for row in rows if row["lemma1_holds"]]
    if valid:
        top = max(valid)
        ax.plot([top], [next(row["single_delta_risk"] for row in rows if row["delta"] == top)], "ko",
                label=f"largest Δ where Lemma 1 holds ({top:g})")
    ax.set_yscale("log")
    ax.set_xlabel("Δ")
    ax.set_ylabel("risk")
    ax.set_title(f"Fig. 2: d = {d}")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, rows, out, "mmn_fig2")
    return out / "mmn_fig2.png"


def _reduced_gaps(flow, sgd, marginal_w1):
    """``R_N − R`` and the W1 of each marginal of SGD's (a, b, r1, r2) against the reduced flow's
    points, at SGD's times (the flow records each of them)."""
    from types import SimpleNamespace

    index = [int(np.flatnonzero(np.abs(flow.times - t) <= 1e-9)[0]) for t in sgd.times]
    risk_gap = sgd.risk - flow.risk[index]
    w1 = np.array([marginal_w1(sgd.cloud[q], flow.points[p], flow.weights) for q, p in enumerate(index)])
    return SimpleNamespace(risk_gap=risk_gap, w1=w1, sup_risk_gap=float(np.abs(risk_gap).max()))


def figure3(out: Path, quick: bool) -> Path:
    from fempde.io.vtk import PVDSeries
    from fempde.problems.anisotropic import REDUCED_VARIABLES, AnisotropicGaussians, InitialLaw
    from fempde.solvers.point_flow import point_flow, tensor_rule
    from particles.reduced import fig3_sgd, marginal_w1

    d, s0, n, eps, t_end = (40, 10, 200, 1e-3, 30.0) if quick else (320, 60, 800, 2e-4, 100.0)
    deltas = (0.25, 0.5, 0.75)
    axis = fempde.TimeAxis(eps, fempde.PowerLaw())
    wanted = np.concatenate([[0.0], np.geomspace(0.02, t_end, 10 if quick else 24)])
    times = np.unique(axis.time(np.array([axis.steps_until(t) for t in wanted])))
    curve = np.union1d(times, np.geomspace(0.01, t_end, 80))  # the PDE's times: SGD's and more for the curves
    on_sgd = np.searchsorted(curve, times)
    points0, weights = tensor_rule(InitialLaw().marginals(d, s0, nodes=8 if quick else 12))
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    inset = ax.inset_axes((0.09, 0.08, 0.38, 0.38))
    rows = []
    for delta, color in script.progress(list(zip(deltas, ("C0", "C1", "C2"), strict=True)),
                                        f"Fig. 3: {len(deltas)} values of Δ"):
        model = AnisotropicGaussians(delta, d=d, s0=s0)
        limit_model = AnisotropicGaussians(delta, d=math.inf, s0=math.inf)
        limit = point_flow(limit_model, points0, weights, curve, axis)
        finite = point_flow(model, points0, weights, curve, axis)
        sgd = fig3_sgd(mmn_anisotropic(delta, d, s0), s0, n, eps, times, np.random.default_rng(3))
        gap, gap_limit = _reduced_gaps(finite, sgd, marginal_w1), _reduced_gaps(limit, sgd, marginal_w1)
        later = times > 0
        ax.plot(curve[1:], limit.risk[1:], "-", color=color, label=f"PDE d = ∞, Δ = {delta}")
        ax.plot(curve[1:], finite.risk[1:], "--", color=color, lw=1, label=f"PDE d = {d}")
        ax.plot(sgd.times[later], sgd.risk[later], "+", color=color, ms=8, label=f"SGD, N = {n}")
        means, sgd_means, finite_curve = limit.means(), sgd.means(), finite.means()
        for c, style, marker in ((0, "-", "+"), (1, ":", "x"), (2, "-.", "^")):  # a, b, r1
            inset.plot(curve[1:], finite_curve[1:, c], style, color=color, lw=1)
            inset.plot(times[later], sgd_means[later, c], marker, color=color, ms=4, mfc="none")
        # the finite-d law: the PDE SGD is compared with (the d = ∞ one is in the CSV's pde_mean_*)
        clouds = PVDSeries(out, f"mmn_fig3_sgd_{delta:g}")
        laws = PVDSeries(out, f"mmn_fig3_pde_d{d}_{delta:g}")
        for k, t in enumerate(times):
            clouds.write_points(t, sgd.cloud[k][:, :3].T, {"r2": sgd.cloud[k][:, 3]})
            k_pde = on_sgd[k]
            law = finite.points[k_pde]
            laws.write_points(t, law[:, :3].T, {"r2": law[:, 3], "weight": finite.weights})
            finite_means = finite.means()[k_pde]
            rows.append({"delta": delta, "t": t, "pde_risk_d_inf": limit.risk[k_pde],
                         f"pde_risk_d{d}": finite.risk[k_pde],
                         "sgd_risk": sgd.risk[k], "gap_d_inf": gap_limit.risk_gap[k], f"gap_d{d}": gap.risk_gap[k],
                         **{f"pde_mean_{name}": means[k_pde, c] for c, name in enumerate(REDUCED_VARIABLES)},
                         **{f"pde_d{d}_mean_{name}": finite_means[c] for c, name in enumerate(REDUCED_VARIABLES)},
                         **{f"sgd_mean_{name}": sgd_means[k, c] for c, name in enumerate(REDUCED_VARIABLES)},
                         **{f"w1_{name}_d{d}": gap.w1[k, c] for c, name in enumerate(REDUCED_VARIABLES)}})
        print(f"fig3 delta {delta}: sup_t |R_N - R_PDE| {gap_limit.sup_risk_gap:.4g} (d = inf), "
              f"{gap.sup_risk_gap:.4g} (d = {d}); at t = {times[-1]:g}: PDE {limit.risk[-1]:.4g} (d = inf), "
              f"{finite.risk[-1]:.4g} (d = {d}), SGD {sgd.risk[-1]:.4g}", flush=True)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-3, 3.0)  # the d = ∞ curves go on to 0: the network can fit y exactly there
    ax.set_xlabel("t")
    ax.set_ylabel("risk")
    ax.legend(fontsize=6, ncol=3, loc="upper right")
    ax.grid(alpha=0.3)
    inset.set_xscale("log")
    inset.set_title(f"mean a (—, +), b (⋯, ×), r1 (-·, △): PDE d = {d}, SGD", fontsize=7)
    inset.tick_params(labelsize=6)
    ax.set_title(f"Fig. 3: ReLU, a and b trained, d = {d}, s0 = {s0}, N = {n}, ε = {eps:g}, ξ = t^(-1/4)")
    _save(fig, rows, out, "mmn_fig3")
    return out / "mmn_fig3.png"


def figure4(out: Path, quick: bool) -> Path:
    d, n = (80, 200) if quick else (320, 800)
    eps = 2e-5 if quick else 5e-6
    times = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0])
    model = fempde.IsotropicGaussians(0.5, d, sigma="nonmonotone", angles=24, nodes=24)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    rows = []
    declared = mmn_isotropic(0.5, d, activation="nonmonotone")
    for kappa, color in script.progress(((0.1, "C0"), (0.4, "C3")), "Fig. 4: two starts (κ = 0.1, 0.4)"):
        flow = _flow(model, kappa, times, r_max=6.0, quantiles=2000)
        rng = np.random.default_rng(4)
        run = particles.sgd(declared, _initial(d, kappa, n, rng), declared.axis(eps), times, rng=rng)
        risk = [population_risk(declared, w).value for w in run.theta]
        mean_r = np.linalg.norm(run.theta, axis=2).mean(axis=1)
        left.plot(times, flow.risk, "-", color=color, label=f"PDE, κ = {kappa}")
        left.plot(run.times, risk, "o", color=color, mfc="none", label=f"SGD, κ = {kappa}")
        right.plot(times, flow.mean_radius(), "-", color=color)
        right.plot(run.times, mean_r, "o", color=color, mfc="none")
        rows += [{"kappa": kappa, "t": t, "pde_risk": a, "sgd_risk": b, "pde_mean_r": c, "sgd_mean_r": e}
                 for t, a, b, c, e in zip(times, flow.risk, risk, flow.mean_radius(), mean_r, strict=True)]
        print(f"fig4 kappa {kappa}: risk PDE {flow.risk[-1]:.4g} SGD {risk[-1]:.4g}; mean |w| PDE "
              f"{flow.mean_radius()[-1]:.4g} SGD {mean_r[-1]:.4g} at t = {times[-1]:g}", flush=True)
    left.set_xlabel("t")
    left.set_ylabel("risk")
    left.set_yscale("log")
    left.legend(fontsize=8)
    right.set_xlabel("t")
    right.set_ylabel("mean ‖w‖")
    fig.suptitle(f"Fig. 4: non-monotone σ, Δ = 0.5, d = {d}, N = {n}")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    _save(fig, rows, out, "mmn_fig4")
    return out / "mmn_fig4.png"


def _save(fig, rows: list[dict], out: Path, name: str) -> None:
    """The figure (:func:`fempde.io.plots.save_figure`) and its rows as CSV
    (:func:`fempde.atomic.write_csv`; a key a row lacks is an empty field), both atomic."""
    out.mkdir(parents=True, exist_ok=True)
    save_figure(fig, out / f"{name}.png")
    keys = list(dict.fromkeys(key for row in rows for key in row))
    write_csv(out / f"{name}.csv", keys, [[row.get(key, "") for key in keys] for row in rows])


FIGURES = {"fig1": figure1, "fig2": figure2, "fig3": figure3, "fig4": figure4}


def main(figures=("fig1", "fig2", "fig3", "fig4"), out: str = "out/mmn_figures", quick: bool = False) -> list[Path]:
    return [FIGURES[name](Path(out), quick) for name in figures]


if __name__ == "__main__":
    parser = script.parser(__doc__, __file__, "smaller N, d and horizons (a few minutes for all four figures)")
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help=f"any of {', '.join(FIGURES)} (default: all)")
    args = parser.parse_args()
    unknown = sorted(set(args.figures) - set(FIGURES))
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    out = str(script.output(args, parser))
    for path in main(args.figures or list(FIGURES), out, args.quick):
        print("wrote", path)
