"""The cross-check of the porous-medium network: SGD of the RBF network next
to the PDEs it converges to, on one problem, one initial law, one time axis.

* risk curves: SGD population risk ``R_N`` (mean and spread over seeds),
  finite-δ PDE ``R^δ``, δ → 0 PDE ``R``;
* density gaps: the particles deposited on the P1 space against the finite-δ
  ``ρ_t`` (L1 on the mesh), and a Wasserstein distance;
* how the gaps shrink with N (:func:`convergence_in_n`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

import fempde
from fempde.io.vtk import PVDSeries, mesh_cells

from .domain import ConvexDomain, sample_density
from .measures import l1_gap, wasserstein
from .rbf import Target, rbf_sgd
from .risk import PopulationRisk

__all__ = ["CrossCheck", "RBFProblem", "Reference", "convergence_in_n", "crosscheck", "reference"]

Array = NDArray[np.float64]


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

    def pde(self, finite: bool = True) -> fempde.PorousMedium:
        if finite:
            return fempde.FiniteDeltaPorousMedium(self.target, self.tau, self.schedule, kernel=self.kernel,
                                                  delta=self.delta)
        return fempde.PorousMedium(self.target, self.tau, self.schedule)


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
    centers: Array  # the first seed's clouds, (times, N, dim)
    pde: fempde.Result
    local_pde: fempde.Result
    label_noise_variance: float = 0.0
    """Added to every population risk to get the test error; kept apart from the curves."""

    @property
    def risk_gap(self) -> Array:
        """``sup_t |R_N − R^δ_PDE|`` per seed."""
        return np.abs(self.sgd_risk - self.pde_risk).max(axis=1)

    @property
    def density_gap(self) -> Array:
        """``sup_t`` L1 gap per seed."""
        return self.l1.max(axis=1)

    def write(self, directory: str | Path) -> None:
        """``crosscheck.csv`` (the curves), ``risk.png``, and the particle cloud
        of the first seed as ``particles.pvd`` beside the PDE's ``rho.pvd``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "crosscheck.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            handle.write(f"# population risks exclude the label-noise variance {self.label_noise_variance!r}\n")
            writer.writerow(["t", "sgd_risk_mean", "sgd_risk_min", "sgd_risk_max", "pde_risk_delta",
                             "pde_risk_local", "l1_gap_mean", "wasserstein_mean"])
            for k, t in enumerate(self.times):
                risk = self.sgd_risk[:, k]
                writer.writerow([repr(float(t)), risk.mean(), risk.min(), risk.max(), self.pde_risk[k],
                                 self.local_pde_risk[k], self.l1[:, k].mean(), self.wasserstein[:, k].mean()])
        clouds = PVDSeries(out, "particles")
        fields = PVDSeries(out, "rho")
        system = self.pde.system
        cells = mesh_cells(system.space)
        for t, points in zip(self.times, self.centers, strict=True):
            clouds.write(t, points.T, [("vertex", np.arange(len(points))[:, None])], {}, {})
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
    left.set_xlabel("t")
    left.set_ylabel("risk")
    left.set_yscale("log")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(t, check.l1.mean(axis=0), label="L1 on the mesh (deposited particles)")
    right.plot(t, check.wasserstein.mean(axis=0), label="Wasserstein")
    right.set_xlabel("t")
    right.set_title("particles vs finite-δ PDE")
    right.legend()
    right.grid(alpha=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class Reference:
    """Both PDEs of a problem from its ``ρ0``, recorded at ``times``: what every
    SGD run of the problem is compared with (solve once, share across N, ε, seeds)."""

    space: fempde.Space
    times: Array
    rho0: Array
    pde: fempde.Result
    local: fempde.Result


def reference(problem: RBFProblem, t_end: float, *, n_times: int = 20, space: fempde.Space | None = None) -> Reference:
    """Solve the finite-δ and the δ → 0 PDE to ``t_end``, ``n_times`` outputs."""
    space = space or fempde.Space(problem.mesh)
    times = np.linspace(0.0, t_end, n_times + 1)
    outputs = times[1:].tolist()
    rho0 = fempde.initial_density(space, problem.rho0)
    pde = fempde.solve(problem.pde(True), space, rho0, t_end, times=outputs)
    local = fempde.solve(problem.pde(False), space, rho0, t_end, times=outputs)
    return Reference(space, times, rho0, pde, local)


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
    for bit. The PDEs take seconds and are solved again, unless ``solved`` (from
    :func:`reference` with the same ``t_end`` and ``n_times``) brings them.
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
    space, times, rho0, pde, local = solved.space, solved.times, solved.rho0, solved.pde, solved.local
    domain = ConvexDomain.from_mesh(problem.mesh)
    snapshots = [pde.snapshots[float(t)] for t in times]
    kernel = fempde.Kernel(problem.kernel, space.dim, problem.delta)
    risk = PopulationRisk(problem.mesh, problem.target, kernel)
    axis = fempde.TimeAxis(epsilon, problem.schedule)
    sgd_risk, l1, w, first = [], [], [], None
    for seed in seeds:
        rng = np.random.default_rng(seed)
        centers0 = sample_density(domain, rho0, n_particles, rng)
        path = None if checkpoints is None else Path(checkpoints) / f"sgd_N{n_particles}_seed{seed}.npz"
        run = rbf_sgd(domain, problem.target, kernel, centers0, axis, times.tolist(), tau=problem.tau,
                      label_noise=problem.label_noise, rng=rng, checkpoint=path, checkpoint_every=checkpoint_every,
                      resume=resume and path is not None and path.is_file())
        sgd_risk.append([risk(c) for c in run.centers])
        l1.append([l1_gap(space, c, r) for c, r in zip(run.centers, snapshots, strict=True)])
        w.append([wasserstein(space, c, r) for c, r in zip(run.centers, snapshots, strict=True)])
        first = run.centers if first is None else first
    return CrossCheck(times, n_particles, epsilon, np.array(sgd_risk),
                      np.array([pde.system.risk(r) for r in snapshots]),
                      np.array([local.system.risk(local.snapshots[float(t)]) for t in times]),
                      np.array(l1), np.array(w), np.asarray(first), pde, local, problem.label_noise**2)


def convergence_in_n(
    problem: RBFProblem, ns: Sequence[int], epsilon: float, t_end: float, *, seeds: Sequence[int] = (0, 1, 2),
    n_times: int = 10, checkpoints: str | Path | None = None, checkpoint_every: float = 60.0, resume: bool = False,
) -> dict[str, Array | float]:
    """``sup_t |R_N − R^δ|`` and the sup-in-time L1 density gap, averaged over
    seeds, for each N, with the fitted slopes of their logs against log N
    (``checkpoints``, ``resume``: as :func:`crosscheck`)."""
    solved = reference(problem, t_end, n_times=n_times)  # once for every N
    risk_gap, density_gap = [], []
    for n in ns:
        check = crosscheck(problem, n, epsilon, t_end, n_times=n_times, seeds=seeds, checkpoints=checkpoints,
                           checkpoint_every=checkpoint_every, resume=resume, solved=solved)
        risk_gap.append(check.risk_gap.mean())
        density_gap.append(check.density_gap.mean())
    logn = np.log(np.asarray(ns, dtype=float))
    return {
        "n": np.asarray(ns),
        "risk_gap": np.array(risk_gap),
        "density_gap": np.array(density_gap),
        "risk_slope": float(np.polyfit(logn, np.log(risk_gap), 1)[0]),
        "density_slope": float(np.polyfit(logn, np.log(density_gap), 1)[0]),
    }
