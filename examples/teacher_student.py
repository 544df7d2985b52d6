"""Chizat–Bach's teacher–student experiment (seed 001): a wide student of 2-homogeneous
ReLU units recovers a teacher of five neurons, as particles and as a PDE.

Units ``Φ(θ)(x) = a ReLU(⟨b, x⟩)``, ``θ = (a, b) ∈ R^3``, data ``x ~ N(0, I_2)``
(exactly the circle rule of :mod:`fempde.problems.homogeneous`, M = 256),
labels from :meth:`Teacher.default` (five neurons at −80°, −40°, 0°, 40°, 80°),
square loss, ``h = (1/m) Σ Φ(θ_i)``. The Wasserstein gradient flow is
``∂_t ρ = 2 ∇·(ρ∇Ψ)`` (fempde's ``DRIFT ξ`` with ξ = 1; a particle moves by
``dθ_i/dt = −2∇Ψ = −m ∇_{θ_i} G``, the source's ``Ẇ = −m∇G(W)``):

* the PDE: :class:`fempde.DistributionalDynamics` on a meshed box of θ (no
  flux on its walls; ``meshes.box`` has no negative transmissibilities), from
  the smoothed sphere :class:`SphereLaw` ``(r0, s)``;
* the particles, from the same law: full-batch gradient descent on the same
  circle rule and SGD with one fresh Gaussian sample per step, for m = 10, 100,
  1000, on the same time axis ``t = kε``;
* teacher recovery: the W1 distance on the circle between the direction
  measures weighted by ``|a|‖b‖`` (:func:`particles.teacher.recovery_w1`), against
  t and m, and the fraction of seeds whose GD student reaches ``R < 10⁻³``.

    python examples/teacher_student.py [--quick] [--out out/teacher_student] [--h 0.25]

The PDE risk ``R(ρ_t)`` is the m → ∞ limit of GD's risk; ``pde_risk_m1000`` adds
the ``O(1/m)`` variance of m units drawn i.i.d. from ρ_t, which GD's units, fitted
together, do not keep (late in the run GD sits below it).

Writes ``teacher_student.csv`` (per output time: PDE risk, W1, wall masses; GD
and SGD risk and W1 per m), ``recovery.csv`` (per m: seeds, fraction with
``R < 10⁻³``, median final risk and W1), ``risk.png``, ``recovery.png``,
``trajectories.png`` (the particles in the plane of ``|a|·b``, teacher marked),
``rho.pvd`` (the PDE density on the θ-box) and ``particles.pvd`` (the m = 1000 GD
cloud, same time values), and ``history.csv`` (the PDE run).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import fempde
import meshes
from fempde.atomic import write_csv
from fempde.io.vtk import PVDSeries
from fempde.meanfield import TimeAxis
from fempde.problems.homogeneous import SphereLaw, Teacher, homogeneous_unit
from particles.teacher import TeacherRun, recovery_fraction, recovery_mass, recovery_w1, student_gd, student_sgd

WIDTHS = (10, 100, 1000)
THRESHOLD = 1e-3


def _box(h: float) -> fempde.Space:
    """The θ-box, its bounds on the grid of ``h`` (the origin a node): ``a, b1 ∈ [−1, 3]``,
    ``b2 ∈ [−2.5, 2.5]`` hold the start (|θ| <= 0.5 + 2·0.2) and every unit the GD runs
    move (a, b1 <= 2.2, |b2| <= 2), with room for the numerical diffusion along the rays."""
    grid = lambda v: round(v / h) * h  # noqa: E731
    return fempde.Space(meshes.box((grid(-1.0), grid(-1.0), grid(-2.5)), (grid(3.0), grid(3.0), grid(2.5)), h=h))


def main(out: str = "out/teacher_student", quick: bool = False, h: float | None = None, t_end: float | None = None,
         seeds: int | None = None, progress: bool = True) -> dict[str, Any]:
    h = (0.5 if quick else 0.25) if h is None else h
    t_end = (10.0 if quick else 30.0) if t_end is None else t_end
    seeds = (4 if quick else 20) if seeds is None else seeds
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    teacher, law = Teacher.default(), SphereLaw(0.5, 0.2)
    data = teacher.data_law(256)
    times = np.linspace(0.0, t_end, 21)
    gd_axis, sgd_axis = TimeAxis(0.02), TimeAxis(1e-3)
    clock = time.perf_counter()

    # the PDE
    space = _box(h)
    problem = fempde.DistributionalDynamics(homogeneous_unit(), data)
    rho0 = law.density(space.x)
    rho0 /= space.integrate(rho0)
    observers: list[fempde.Observer] = [fempde.VTKWriter(out_dir), fempde.CSVWriter(out_dir / "history.csv")]
    if progress:
        observers.append(fempde.ProgressBar())
    pde = fempde.solve(problem, space, rho0, t_end, observers, times=times[1:].tolist())
    pde_seconds = time.perf_counter() - clock
    system = pde.system
    assert isinstance(system, fempde.DistributionalSystem)
    wall = meshes.boundary_nodes(space.mesh)
    states = [rho0] + [pde.snapshots[float(t)] for t in times[1:]]

    # the particles, from the same law
    clock = time.perf_counter()
    gd: dict[int, TeacherRun] = {}
    sgd: dict[int, TeacherRun] = {}
    for m in WIDTHS:
        theta0 = law.sample(m, np.random.default_rng(m))
        gd[m] = student_gd(teacher, theta0, gd_axis, times.tolist())
        sgd[m] = student_sgd(teacher, theta0, sgd_axis, times.tolist(), rng=np.random.default_rng(10_000 + m))
    particle_seconds = time.perf_counter() - clock

    clouds = PVDSeries(out_dir, "particles")
    rows = []
    for k, (t, rho) in enumerate(zip(times, states, strict=True)):
        cloud = gd[1000].theta[k]
        clouds.write(float(t), cloud.T, [("vertex", np.arange(len(cloud))[:, None])],
                     {"a": cloud[:, 0], "abs_a_b_norm": np.abs(cloud[:, 0]) * np.linalg.norm(cloud[:, 1:], axis=1)}, {})
        row: dict[str, float] = {
            "t": float(t), "pde_risk": system.risk(rho), "pde_risk_m1000": system.expected_risk(rho, 1000),
            "pde_w1": recovery_w1(teacher, space.x.T, space.m * np.maximum(rho, 0.0)),
            "pde_wall_nodes_mass": float(space.m[wall] @ rho[wall]), "pde_wall_layer_mass": space.wall_mass(rho)}
        for m in WIDTHS:
            row[f"gd_risk_m{m}"] = teacher.risk(gd[m].theta[k])
            row[f"sgd_risk_m{m}"] = teacher.risk(sgd[m].theta[k])
            row[f"gd_w1_m{m}"] = recovery_w1(teacher, gd[m].theta[k])
            row[f"sgd_w1_m{m}"] = recovery_w1(teacher, sgd[m].theta[k])
        rows.append(row)
    write_csv(out_dir / "teacher_student.csv", list(rows[0]), [list(r.values()) for r in rows])

    # how many seeds recover the teacher, per m
    clock = time.perf_counter()
    recovery = []
    for m in WIDTHS:
        fraction, risks = recovery_fraction(teacher, m, range(seeds), law, gd_axis, t_end, threshold=THRESHOLD)
        finals = [student_gd(teacher, law.sample(m, np.random.default_rng(s)), gd_axis, [t_end]).theta[-1]
                  for s in range(min(seeds, 5))]
        recovery.append({"m": m, "seeds": seeds, "fraction_below_threshold": fraction,
                         "median_risk": float(np.median(risks)), "max_risk": float(risks.max()),
                         "median_w1_first5": float(np.median([recovery_w1(teacher, w) for w in finals])),
                         "mass_ratio_first5": float(np.median([recovery_mass(teacher, w) for w in finals]))})
    seed_seconds = time.perf_counter() - clock
    write_csv(out_dir / "recovery.csv", list(recovery[0]), [list(r.values()) for r in recovery])

    paths = [_risk_figure(out_dir, times, rows, h), _recovery_figure(out_dir, times, rows, recovery),
             _trajectory_figure(out_dir, teacher, law, t_end, gd_axis)]
    gap = max(abs(r["pde_risk"] - r["gd_risk_m1000"]) for r in rows)
    summary = {"rows": rows, "recovery": recovery, "result": pde, "paths": paths, "pde_gd_gap": gap,
               "wall_nodes_mass": max(r["pde_wall_nodes_mass"] for r in rows), "nodes": space.n,
               "seconds": {"pde": pde_seconds, "particles": particle_seconds, "seeds": seed_seconds}}
    last = rows[-1]
    print(f"h = {h:g} ({space.n} nodes): PDE {pde_seconds:.0f} s, particles {particle_seconds:.1f} s, "
          f"seeds {seed_seconds:.0f} s; {pde.certificates.describe()}")
    print(f"t = {t_end:g}: risk PDE {last['pde_risk']:.2e}, GD m=1000 {last['gd_risk_m1000']:.2e}, "
          f"SGD m=1000 {last['sgd_risk_m1000']:.2e}; sup_t |R(PDE) - R(GD, m=1000)| = {gap:.2e}; "
          f"W1 PDE {last['pde_w1']:.3f}, GD m=1000 {last['gd_w1_m1000']:.3f}; "
          f"mass on the wall nodes <= {summary['wall_nodes_mass']:.1e}")
    print("fraction of seeds with R < 1e-3: " + ", ".join(f"m = {r['m']}: {r['fraction_below_threshold']:.2f}"
                                                          for r in recovery))
    return summary


def _risk_figure(out_dir: Path, times: np.ndarray, rows: list[dict[str, float]], h: float) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    ax.semilogy(times, [r["pde_risk"] for r in rows], "k-", lw=2, label=f"PDE on the θ-box (h = {h:g})")
    for color, m in zip(("C0", "C1", "C3"), WIDTHS, strict=True):
        ax.semilogy(times, [r[f"gd_risk_m{m}"] for r in rows], "-", color=color, label=f"GD, m = {m}")
        ax.semilogy(times, [r[f"sgd_risk_m{m}"] for r in rows], ":", color=color, label=f"SGD, m = {m}")
    ax.axhline(THRESHOLD, color="0.6", lw=0.8)
    ax.set_xlabel("t")
    ax.set_ylabel("population risk")
    ax.set_title("teacher of 5 ReLU neurons, 2-homogeneous student")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    path = out_dir / "risk.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _recovery_figure(out_dir: Path, times: np.ndarray, rows: list[dict[str, float]],
                     recovery: list[dict[str, float]]) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), constrained_layout=True)
    left.plot(times, [r["pde_w1"] for r in rows], "k-", lw=2, label="PDE")
    for color, m in zip(("C0", "C1", "C3"), WIDTHS, strict=True):
        left.plot(times, [r[f"gd_w1_m{m}"] for r in rows], "-", color=color, label=f"GD, m = {m}")
        left.plot(times, [r[f"sgd_w1_m{m}"] for r in rows], ":", color=color, label=f"SGD, m = {m}")
    left.set_xlabel("t")
    left.set_ylabel("W1 on the circle to the teacher (rad)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.semilogx([r["m"] for r in recovery], [r["fraction_below_threshold"] for r in recovery], "o-")
    right.set_ylim(-0.05, 1.05)
    right.set_xlabel("m")
    right.set_ylabel(f"fraction of {int(recovery[0]['seeds'])} seeds with R < {THRESHOLD:g}")
    right.grid(alpha=0.3)
    path = out_dir / "recovery.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _trajectory_figure(out_dir: Path, teacher: Teacher, law: SphereLaw, t_end: float, axis: TimeAxis) -> Path:
    """The source's figure: each unit's path of ``|a|·b`` for a GD student of m = 100."""
    run = student_gd(teacher, law.sample(100, np.random.default_rng(100)), axis,
                     np.linspace(0.0, t_end, 201).tolist())
    paths = np.abs(run.theta[:, :, :1]) * run.theta[:, :, 1:]  # (n_times, m, 2)
    positive = run.theta[-1, :, 0] > 0
    fig, ax = plt.subplots(figsize=(5.5, 5.5), constrained_layout=True)
    for i in range(paths.shape[1]):
        ax.plot(paths[:, i, 0], paths[:, i, 1], color="C3" if positive[i] else "C0", lw=0.7, alpha=0.7)
    ax.plot(paths[-1, :, 0], paths[-1, :, 1], "k.", ms=3)
    star = teacher.as_student()
    marks = np.abs(star[:, :1]) * star[:, 1:]
    reach = 1.15 * max(np.abs(paths).max(), np.abs(marks).max())
    for direction in teacher.directions:
        ax.plot([0, reach * direction[0]], [0, reach * direction[1]], color="0.7", lw=0.8, zorder=0)
    ax.plot(marks[:, 0], marks[:, 1], "*", color="gold", mec="k", ms=14, label="teacher (as 5 balanced units)")
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_xlabel("|a| b₁")
    ax.set_ylabel("|a| b₂")
    ax.set_title(f"GD, m = 100, t ∈ [0, {t_end:g}] (red: a > 0, blue: a < 0)")
    ax.legend(loc="lower left", fontsize=8)
    path = out_dir / "trajectories.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/teacher_student")
    parser.add_argument("--quick", action="store_true", help="a coarse mesh, t = 10, 4 seeds (under a minute)")
    parser.add_argument("--h", type=float, default=None, help="mesh size of the θ-box (default 0.25; quick 0.5)")
    args = parser.parse_args()
    main(args.out, quick=args.quick, h=args.h)
