"""The cross-check of the porous-medium network: SGD of the RBF network next
to the PDEs it converges to, on one problem, one initial law, one time axis.

* risk curves: SGD population risk ``R_N`` (mean and spread over seeds),
  finite-δ PDE ``R^δ``, δ → 0 PDE ``R``;
* density gaps: the particles deposited on the P1 space against the finite-δ
  ``ρ_t`` (L1 on the mesh), a Wasserstein distance, and the gap in the
  quantity the theory controls, the network output ``f̂_N = K^δ∗ρ̂_N`` against
  ``K^δ∗ρ_t`` (L1 and L2 on Ω) — the raw deposit's L1 is dominated by sampling
  noise at small N;
* how the gaps shrink with N (:func:`convergence_in_n`).

The PDE curve is only a reference if it is accurate: :func:`reference` solves
with error-controlled steps and estimates its error in time and (on the
refined mesh) in space; a cross-check tightens the time tolerance until the
PDE's estimated risk error is at most a tenth of the smallest gap it reports
(:data:`PDE_ERROR_FRACTION`), and flags every output time where the PDE error
could explain the gap. A spatial error too large for that needs a finer mesh:
it is flagged and warned about, not hidden.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from skfem import Mesh

import fempde
from fempde.atomic import write_csv
from fempde.fem.convolution import kernel_matrix
from fempde.io.plots import save_figure
from fempde.io.vtk import PVDSeries, mesh_cells

from .domain import ConvexDomain, sample_density
from .measures import l1_gap, wasserstein
from .rbf import Target, rbf_sgd
from .risk import PopulationRisk
from .slopes import fit_slope

__all__ = [
    "PDE_ERROR_FRACTION", "CrossCheck", "RBFProblem", "Reference", "convergence_in_n", "crosscheck", "reference",
    "unresolved",
]

Array = NDArray[np.float64]

PDE_ERROR_FRACTION = 0.1
"""The PDE's estimated risk error must stay below this fraction of a reported gap."""
_TIGHTENINGS = 3  # at most this many re-solves, each with rtol / 10


def unresolved(pde_error: Array | float, gap: Array | float) -> NDArray[np.bool_]:
    """Where the PDE's error could explain a gap: it is more than :data:`PDE_ERROR_FRACTION` of it."""
    return np.asarray(pde_error) > PDE_ERROR_FRACTION * np.asarray(gap)


@dataclass(frozen=True)
class RBFProblem:
    """The network and its data, as both sides see them."""

    mesh: Mesh
    target: Target
    delta: float
    tau: float = 0.0
    kernel: str = "triweight"
    schedule: fempde.Schedule = field(default_factory=fempde.Constant)
    label_noise: float = 0.0
    rho0: Any = "uniform"
    options: fempde.StepOptions = field(default_factory=fempde.StepOptions)
    """How the PDEs are stepped (a scenario's ``[run]`` settings); :func:`reference`
    may tighten its ``rtol``."""
    flux: str = fempde.fem.DEFAULT_FLUX
    boundary: str = "restricted"
    """How a bump meets the wall, on both sides (:data:`fempde.fem.BOUNDARIES`)."""

    def pde(self, finite: bool = True) -> fempde.PorousMedium:
        if finite:
            return fempde.FiniteDeltaPorousMedium(self.target, self.tau, self.schedule, kernel=self.kernel,
                                                  delta=self.delta, boundary=self.boundary)
        return fempde.PorousMedium(self.target, self.tau, self.schedule)

    def population_risk(self, dim: int) -> PopulationRisk:
        """``R_N`` with this problem's kernel and boundary treatment."""
        return PopulationRisk(self.mesh, self.target, fempde.Kernel(self.kernel, dim, self.delta),
                              boundary=self.boundary)


@dataclass
class CrossCheck:
    """Curves on the shared output times; ``(seeds, times)`` arrays for the SGD."""

    times: Array
    n_particles: int
    epsilon: float
    sgd_risk: Array
    pde_risk: Array
    local_pde_risk: Array
    l1: Array
    wasserstein: Array
    output_l1: Array
    """``‖f̂_N − K^δ∗ρ_t‖_{L1(Ω)}`` per seed and time."""
    output_l2: Array
    """``‖f̂_N − K^δ∗ρ_t‖_{L2(Ω)}`` per seed and time."""
    pde_risk_error: Array
    """The finite-δ PDE's estimated risk error per time (time + space)."""
    pde_rho_error: Array
    """The finite-δ PDE's estimated L1 error of ρ per time (time + space)."""
    centers: Array  # the first seed's clouds, (times, N, dim)
    reference: Reference
    label_noise_variance: float = 0.0
    """Added to every population risk to get the test error; kept apart from the curves."""

    @property
    def pde(self) -> fempde.Result:
        return self.reference.pde

    @property
    def local_pde(self) -> fempde.Result:
        return self.reference.local

    @property
    def risk_gap(self) -> Array:
        """``sup_t |R_N − R^δ_PDE|`` per seed."""
        return np.abs(self.sgd_risk - self.pde_risk).max(axis=1)

    @property
    def density_gap(self) -> Array:
        """``sup_t`` L1 gap of the deposited particles per seed."""
        return self.l1.max(axis=1)

    @property
    def output_gap(self) -> Array:
        """``sup_t ‖f̂_N − K^δ∗ρ_t‖_{L2}`` per seed."""
        return self.output_l2.max(axis=1)

    @property
    def pde_error_explains(self) -> NDArray[np.bool_]:
        """Per output time: whether the PDE's risk error is more than
        :data:`PDE_ERROR_FRACTION` of the mean risk gap there (the gap is then
        not resolved by the reference curve)."""
        return unresolved(self.pde_risk_error, np.abs(self.sgd_risk - self.pde_risk).mean(axis=0))

    @property
    def pde_accurate(self) -> bool:
        """The PDE's largest risk error is at most :data:`PDE_ERROR_FRACTION` of the smallest
        reported sup gap, and no output time after 0 is flagged (:attr:`pde_error_explains`)."""
        return not (bool(unresolved(self.pde_risk_error.max(), self.risk_gap.min()))
                    or bool(self.pde_error_explains[1:].any()))

    def describe(self) -> str:
        """The gaps with the PDE's error beside them (what the CLI prints)."""
        flagged = int(self.pde_error_explains[1:].sum())
        return (f"sup_t |R_N - R_PDE| per seed: {np.array2string(self.risk_gap, precision=4)} "
                f"(PDE risk error <= {self.pde_risk_error.max():.1e}, "
                f"{'resolved' if self.pde_accurate else self._unresolved()}); "
                f"sup_t L1 deposit gap {np.array2string(self.density_gap, precision=3)}, "
                f"sup_t L2 output gap {np.array2string(self.output_gap, precision=3)} "
                f"(PDE L1 error of rho <= {self.pde_rho_error.max():.1e}); "
                f"{flagged} of {len(self.times) - 1} output times where the PDE error could explain the gap")

    def _unresolved(self) -> str:
        return "NOT resolved: " + ("lower rtol" if self.reference.time_dominated else "refine the mesh")

    def write(self, directory: str | Path) -> None:
        """``crosscheck.csv`` (the curves, the PDE's error, a flag per time),
        ``risk.png``, and the particle cloud of the first seed as ``particles.pvd``
        beside the PDE's ``rho.pvd``. The population risks exclude the label-noise
        variance, which is a column of its own."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        explains = self.pde_error_explains
        write_csv(out / "crosscheck.csv",
                  ["t", "sgd_risk_mean", "sgd_risk_min", "sgd_risk_max", "pde_risk_delta", "pde_risk_error",
                   "pde_risk_local", "l1_gap_mean", "output_l1_mean", "output_l2_mean", "pde_rho_error",
                   "wasserstein_mean", "pde_error_explains_gap", "label_noise_variance"],
                  [[float(t), float(self.sgd_risk[:, k].mean()), float(self.sgd_risk[:, k].min()),
                    float(self.sgd_risk[:, k].max()), float(self.pde_risk[k]), float(self.pde_risk_error[k]),
                    float(self.local_pde_risk[k]), float(self.l1[:, k].mean()), float(self.output_l1[:, k].mean()),
                    float(self.output_l2[:, k].mean()), float(self.pde_rho_error[k]),
                    float(self.wasserstein[:, k].mean()), bool(explains[k]) if k else False,
                    float(self.label_noise_variance)]
                   for k, t in enumerate(self.times)])
        clouds = PVDSeries(out, "particles")
        fields = PVDSeries(out, "rho")
        system = self.pde.system
        cells = mesh_cells(system.space)
        for t, points in zip(self.times, self.centers, strict=True):
            clouds.write_points(t, points.T)
            fields.write(t, system.space.x, cells, system.point_fields(self.pde.snapshots[float(t)]), {})
        plot_risk(self, out / "risk.png")


def plot_risk(check: CrossCheck, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
    t = check.times
    left.fill_between(t, check.sgd_risk.min(axis=0), check.sgd_risk.max(axis=0), alpha=0.3,
                      label=f"SGD, N={check.n_particles}, {len(check.sgd_risk)} seeds (range)")
    left.plot(t, check.sgd_risk.mean(axis=0), "C0-", label="SGD mean")
    left.plot(t, check.pde_risk, "k-", label="PDE, finite δ")
    left.plot(t, check.local_pde_risk, "k--", label="PDE, δ → 0")
    left.fill_between(t, np.maximum(check.pde_risk - check.pde_risk_error, 1e-300),
                      check.pde_risk + check.pde_risk_error, color="k", alpha=0.15,
                      label="PDE estimated error")
    left.set_xlabel("t")
    left.set_ylabel("risk")
    left.set_yscale("log")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(t, check.l1.mean(axis=0), label="L1 on the mesh (deposited particles)")
    right.plot(t, check.output_l2.mean(axis=0), label="L2 of the output f̂_N − K^δ∗ρ")
    right.plot(t, check.wasserstein.mean(axis=0), label="Wasserstein")
    right.set_xlabel("t")
    right.set_title("particles vs finite-δ PDE")
    right.legend()
    right.grid(alpha=0.3)
    save_figure(fig, path)


@dataclass(frozen=True)
class Reference:
    """Both PDEs of a problem from its ``ρ0``, recorded at ``times``: what every
    SGD run of the problem is compared with (solve once, share across N, ε, seeds).
    ``risk_error`` and ``rho_error`` are the finite-δ PDE's estimated errors at
    ``times`` (from the time stepping, plus the refined-mesh estimate when asked)."""

    space: fempde.Space
    times: Array
    rho0: Array
    pde: fempde.Result
    local: fempde.Result
    rtol: float | None
    """The time tolerance it was solved with (None: fixed steps, never tightened)."""
    risk_error: Array
    rho_error: Array
    space_error_estimated: bool

    def tightened(self, problem: RBFProblem) -> Reference:
        """The same reference solved with a ten times smaller time tolerance."""
        if self.rtol is None:
            raise ValueError("a reference solved with fixed steps (rtol=None) cannot be tightened")
        return reference(problem, float(self.times[-1]), n_times=len(self.times) - 1, space=self.space,
                         rtol=self.rtol / 10, estimate_space_error=self.space_error_estimated)

    @property
    def time_dominated(self) -> bool:
        """Whether the time error is the larger part of the estimate (a smaller rtol helps)."""
        time_part = _at(self.pde, self.times, "risk_time_error")
        return bool(time_part.max() >= 0.5 * self.risk_error.max())


def _at(result: fempde.Result, times: Array, column: str) -> Array:
    """A history column at the output times (the initial state at t = 0)."""
    t = result.history["t"]
    return np.array([result.history[column][np.flatnonzero(t == s)[0]] for s in times])


def reference(problem: RBFProblem, t_end: float, *, n_times: int = 20, space: fempde.Space | None = None,
              rtol: float | None = None, estimate_space_error: bool = True) -> Reference:
    """Solve the finite-δ and the δ → 0 PDE to ``t_end``, ``n_times`` outputs, with
    ``problem.options`` (its time tolerance replaced by ``rtol`` when given) and
    ``problem.flux``; ``estimate_space_error`` adds the refined-mesh estimate of
    the finite-δ PDE's error (2^dim times the nodes, solved once)."""
    space = space or fempde.Space(problem.mesh)
    times = np.linspace(0.0, t_end, n_times + 1)
    outputs = times[1:].tolist()
    rho0 = fempde.initial_density(space, problem.rho0)
    options = problem.options if rtol is None else replace(problem.options, rtol=rtol)
    pde = _whole(fempde.solve(problem.pde(True), space, rho0, t_end, times=outputs, options=options,
                              flux=problem.flux, estimate_space_error=estimate_space_error))
    local = _whole(fempde.solve(problem.pde(False), space, rho0, t_end, times=outputs, options=options,
                                flux=problem.flux))
    risk_error, rho_error = _at(pde, times, "risk_time_error"), _at(pde, times, "time_error")
    if pde.space_error is not None:
        risk_error[1:] += pde.space_error.risk_error
        rho_error[1:] += pde.space_error.rho_l1
    return Reference(space, times, rho0, pde, local, options.rtol, risk_error, rho_error, estimate_space_error)


def _whole(result: fempde.Result) -> fempde.Result:
    """``result``, if it reached every output time; a Ctrl-C that stopped the
    solve (``solve`` returns what it has) stops the cross-check too."""
    if result.stop_reason == "interrupted":
        raise KeyboardInterrupt
    return result


@dataclass(frozen=True)
class _Runs:
    """The SGD side of a cross-check, all seeds: what the gaps are computed from."""

    n_particles: int
    epsilon: float
    centers: Array  # (seeds, times, N, dim)
    risk: Array  # (seeds, times)


def _sgd(problem: RBFProblem, solved: Reference, n_particles: int, epsilon: float, seeds: Sequence[int],
         checkpoints: str | Path | None, checkpoint_every: float, resume: bool) -> _Runs:
    domain = ConvexDomain.from_mesh(problem.mesh)
    kernel = fempde.Kernel(problem.kernel, solved.space.dim, problem.delta)
    risk = problem.population_risk(solved.space.dim)
    axis = fempde.TimeAxis.of(problem, epsilon)
    centers, risks = [], []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        centers0 = sample_density(domain, solved.rho0, n_particles, rng)
        path = None if checkpoints is None else Path(checkpoints) / f"sgd_N{n_particles}_seed{seed}.npz"
        run = rbf_sgd(domain, problem.target, kernel, centers0, axis, solved.times.tolist(), tau=problem.tau,
                      label_noise=problem.label_noise, boundary=problem.boundary, rng=rng, checkpoint=path,
                      checkpoint_every=checkpoint_every,
                      resume=resume and path is not None and path.is_file())
        centers.append(run.centers)
        risks.append([risk(c) for c in run.centers])
    return _Runs(n_particles, epsilon, np.array(centers), np.array(risks))


def _compare(problem: RBFProblem, runs: _Runs, solved: Reference) -> CrossCheck:
    """The gaps between the SGD runs and the reference."""
    space, times, pde, local = solved.space, solved.times, solved.pde, solved.local
    snapshots = [pde.snapshots[float(t)] for t in times]
    risk = problem.population_risk(space.dim)
    smoothing = kernel_matrix(risk.kernel, risk.points, space.x.T, risk.walls) @ sp.diags(space.m)  # ρ -> K^δ∗ρ
    l1, w, out_l1, out_l2 = [], [], [], []
    for seed_centers in runs.centers:
        l1.append([l1_gap(space, c, r) for c, r in zip(seed_centers, snapshots, strict=True)])
        w.append([wasserstein(space, c, r) for c, r in zip(seed_centers, snapshots, strict=True)])
        difference = [np.abs(risk.prediction(c) - smoothing @ r) for c, r in zip(seed_centers, snapshots,
                                                                                   strict=True)]
        out_l1.append([float(risk.weights @ d) for d in difference])
        out_l2.append([float(np.sqrt(risk.weights @ d**2)) for d in difference])
    return CrossCheck(
        times=times, n_particles=runs.n_particles, epsilon=runs.epsilon, sgd_risk=runs.risk,
        pde_risk=np.array([pde.system.risk(r) for r in snapshots]),
        local_pde_risk=np.array([local.system.risk(local.snapshots[float(t)]) for t in times]),
        l1=np.array(l1), wasserstein=np.array(w), output_l1=np.array(out_l1), output_l2=np.array(out_l2),
        pde_risk_error=solved.risk_error, pde_rho_error=solved.rho_error, centers=runs.centers[0],
        reference=solved, label_noise_variance=problem.label_noise**2,
    )


def _accurate(problem: RBFProblem, runs: Sequence[_Runs], solved: Reference) -> tuple[list[CrossCheck], Reference]:
    """Compare, and re-solve the PDE with a smaller time tolerance while its error is
    more than :data:`PDE_ERROR_FRACTION` of the smallest gap and the time part dominates."""
    checks = [_compare(problem, r, solved) for r in runs]
    for _ in range(_TIGHTENINGS):
        smallest = min(float(c.risk_gap.min()) for c in checks)
        if (not unresolved(solved.risk_error.max(), smallest) and all(c.pde_accurate for c in checks)) \
                or not solved.time_dominated or solved.rtol is None:
            break
        solved = solved.tightened(problem)
        checks = [_compare(problem, r, solved) for r in runs]
    if not all(c.pde_accurate for c in checks):
        warnings.warn(
            f"the PDE's estimated risk error {solved.risk_error.max():.2e} is more than "
            f"{PDE_ERROR_FRACTION:g} of the smallest risk gap "
            f"{min(float(c.risk_gap.min()) for c in checks):.2e}"
            + ("" if solved.time_dominated else " and comes from the mesh: refine it (smaller h)"),
            stacklevel=3,
        )
    return checks, solved


def crosscheck(
    problem: RBFProblem,
    n_particles: int,
    epsilon: float,
    t_end: float,
    *,
    n_times: int = 20,
    seeds: Sequence[int] = (0, 1, 2),
    space: fempde.Space | None = None,
    checkpoints: str | Path | None = None,
    checkpoint_every: float = 60.0,
    resume: bool = False,
    solved: Reference | None = None,
) -> CrossCheck:
    """Run both PDEs and SGD from the same ``ρ0`` on the time axis ``t = kε``.

    With ``checkpoints`` (a directory), each seed's SGD writes
    ``sgd_N{N}_seed{seed}.npz`` there every ``checkpoint_every`` seconds, at its
    end and on Ctrl-C; ``resume=True`` continues every seed from its file (a
    finished seed is not run again) — the same numbers as an unbroken run, bit
    for bit. The PDEs are solved again, unless ``solved`` (from :func:`reference`
    with the same ``t_end`` and ``n_times``) brings them; either way the PDE is
    re-solved more tightly if its error is not small against the gaps (module
    docstring).
    """
    if n_particles < 1:
        raise ValueError(f"the number of particles N must be >= 1, got {n_particles}")
    if resume and checkpoints is None:
        raise ValueError("resume=True needs the checkpoints directory")
    if solved is None:
        solved = reference(problem, t_end, n_times=n_times, space=space)
    elif not np.array_equal(solved.times, np.linspace(0.0, t_end, n_times + 1)):
        raise ValueError(f"the reference was solved for other output times (t_end = {solved.times[-1]}, "
                         f"{len(solved.times) - 1} outputs), not t_end = {t_end}, n_times = {n_times}")
    runs = _sgd(problem, solved, n_particles, epsilon, seeds, checkpoints, checkpoint_every, resume)
    return _accurate(problem, [runs], solved)[0][0]


def convergence_in_n(
    problem: RBFProblem, ns: Sequence[int], epsilon: float, t_end: float, *, seeds: Sequence[int] = (0, 1, 2),
    n_times: int = 10, checkpoints: str | Path | None = None, checkpoint_every: float = 60.0, resume: bool = False,
) -> dict[str, Array | float]:
    """``sup_t |R_N − R^δ|``, the sup-in-time L1 deposit gap and L2 output gap,
    averaged over seeds, for each N, with the fitted slopes of their logs against
    log N, and the PDE's risk error (``checkpoints``, ``resume``: as :func:`crosscheck`).
    The PDE is solved once for every N, as tightly as the smallest gap needs."""
    if len(set(ns)) < 2:
        raise ValueError(f"a slope in N needs at least two distinct N, got {list(ns)}")
    solved = reference(problem, t_end, n_times=n_times)
    runs = [_sgd(problem, solved, n, epsilon, seeds, checkpoints, checkpoint_every, resume) for n in ns]
    checks, solved = _accurate(problem, runs, solved)
    gaps = {name: np.array([getattr(c, name).mean() for c in checks])
            for name in ("risk_gap", "density_gap", "output_gap")}
    return {
        "n": np.asarray(ns),
        **gaps,
        "risk_slope": fit_slope(ns, gaps["risk_gap"])[0],
        "density_slope": fit_slope(ns, gaps["density_gap"])[0],
        "output_slope": fit_slope(ns, gaps["output_gap"])[0],
        "pde_risk_error": float(solved.risk_error.max()),
        "pde_accurate": all(c.pde_accurate for c in checks),
        "pde_time_dominated": solved.time_dominated,
    }
