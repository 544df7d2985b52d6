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
  t and m, and the fraction of seeds whose GD student reaches ``R < 10⁻³``
  (:data:`particles.teacher.RECOVERY_THRESHOLD`).

    python examples/teacher_student.py [--quick] [--out out/teacher_student] [--h 0.25]

Every random stream (the starts of m = 10, 100, 1000, their SGD samples, the
recovery students, the trajectory figure's student) is spawned from one
``SeedSequence(SEED)``, so no two runs share draws.

**Two measures of the box's walls.** ``pde_wall_nodes_mass`` is the mass on the
boundary nodes themselves (``Σ m_i ρ_i``, ``i`` on the wall): what the no-flux
walls have stopped. ``pde_wall_layer_mass`` is :meth:`fempde.Space.wall_mass`,
the mass within two mesh sizes of the wall; on a coarse box that layer is most
of the box (at h = 0.5 it holds 93 % of the mass already at t = 0, the start
included), so it says how much of the density the walls *could* touch, not that
they do. The first is the one that measures the box's error.

The PDE risk ``R(ρ_t)`` is the m → ∞ limit of GD's risk; ``pde_risk_m1000`` adds
the ``O(1/m)`` variance of m units drawn i.i.d. from ρ_t, which GD's units, fitted
together, do not keep (late in the run GD sits below it).

Writes ``teacher_student.csv`` (per output time: PDE risk, W1, wall masses; GD
and SGD risk and W1 per m), ``recovery.csv`` (per m: seeds, fraction with
``R < 10⁻³``, median final risk and W1), ``risk.png``, ``recovery.png``,
``trajectories.png`` (the particles in the plane of ``|a|·b``, teacher marked),
``rho.pvd`` (the PDE density on the θ-box) and ``particles.pvd`` (the widest GD
cloud, same time values), and ``history.csv`` (the PDE run).
"""

from __future__ import annotations

import argparse
import sys
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
from fempde.checks import integer, number
from fempde.io.plots import save_figure
from fempde.io.vtk import PVDSeries
from fempde.meanfield import TimeAxis
from fempde.problems.distributional import DistributionalSystem
from fempde.problems.homogeneous import CIRCLE_POINTS, SphereLaw, Teacher, homogeneous_unit
from fempde.scenario import ScenarioError, writable_directory
from particles.teacher import (
    RECOVERY_THRESHOLD,
    TeacherRun,
    recovery_fraction,
    recovery_mass,
    recovery_w1,
    student_gd,
    student_sgd,
)

WIDTHS = (10, 100, 1000)
SEED = 2024
"""The root of every random stream of the example (one ``SeedSequence``, spawned)."""
H_MAX = 0.5
"""The coarsest mesh size: the box must resolve the start, a shell of radius 0.5 and width 0.2."""
H_MIN = 0.1
"""The finest mesh size offered: h = 0.1 already puts 85,731 nodes on the box."""


def mesh_size(value: object) -> float:
    """``h`` checked: a finite number in ``[H_MIN, H_MAX]``."""
    return number("h (the mesh size of the θ-box)", value, minimum=H_MIN, maximum=H_MAX)


def _grid(value: float, h: float) -> float:
    """``value`` rounded to the grid of ``h`` (the origin a node)."""
    return round(value / h) * h


def _box(h: float) -> fempde.Space:
    """The θ-box, its bounds on the grid of ``h`` (the origin a node): ``a, b1 ∈ [−1, 3]``,
    ``b2 ∈ [−2.5, 2.5]`` hold the start (|θ| <= 0.5 + 2·0.2) and every unit the GD runs
    move (a, b1 <= 2.2, |b2| <= 2), with room for the numerical diffusion along the rays."""
    low, high = (_grid(v, h) for v in (-1.0, -1.0, -2.5)), (_grid(v, h) for v in (3.0, 3.0, 2.5))
    return fempde.Space(meshes.box(tuple(low), tuple(high), h=h))


def _record_times(t_end: float, intervals: int, axis: TimeAxis) -> list[float]:
    """``intervals + 1`` equispaced times on ``[0, t_end]``, each moved to its step of
    ``axis`` (the runs record only on the grid ``t = kε``), once each."""
    steps = sorted({axis.steps_until(t) for t in np.linspace(0.0, t_end, intervals + 1)})
    return [float(axis.time(k)) for k in steps]


def main(out: str = "out/teacher_student", quick: bool = False, h: float | None = None, t_end: float | None = None,
         seeds: int | None = None, progress: bool = True) -> dict[str, Any]:
    h = mesh_size((0.5 if quick else 0.25) if h is None else h)
    t_end = number("t_end", (10.0 if quick else 30.0) if t_end is None else t_end, positive=True)
    seeds = integer("seeds", (4 if quick else 20) if seeds is None else seeds)
    out_dir = writable_directory(Path(out))
    teacher, law = Teacher.default(), SphereLaw(0.5, 0.2)
    data = teacher.data_law(CIRCLE_POINTS)
    root = np.random.SeedSequence(SEED)
    start_seeds, sgd_seeds, recovery_seeds, figure_seed = root.spawn(4)
    gd_axis, sgd_axis = TimeAxis(0.02), TimeAxis(1e-3)
    times = np.array(_record_times(t_end, 20, gd_axis))
    t_end = float(times[-1])
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
    assert isinstance(system, DistributionalSystem)
    wall = meshes.boundary_nodes(space.mesh)
    states = [rho0] + [pde.snapshots[float(t)] for t in times[1:]]

    # the particles, from the same law
    clock = time.perf_counter()
    gd: dict[int, TeacherRun] = {}
    sgd: dict[int, TeacherRun] = {}
    for m, start, noise in zip(WIDTHS, start_seeds.spawn(len(WIDTHS)), sgd_seeds.spawn(len(WIDTHS)), strict=True):
        theta0 = law.sample(m, np.random.default_rng(start))
        gd[m] = student_gd(teacher, theta0, gd_axis, times.tolist())
        sgd[m] = student_sgd(teacher, theta0, sgd_axis, times.tolist(), rng=np.random.default_rng(noise))
    particle_seconds = time.perf_counter() - clock

    widest = WIDTHS[-1]
    clouds = PVDSeries(out_dir, "particles")
    rows = []
    for k, (t, rho) in enumerate(zip(times, states, strict=True)):
        cloud = gd[widest].theta[k]
        weight = np.abs(cloud[:, 0]) * np.linalg.norm(cloud[:, 1:], axis=1)
        clouds.write_points(float(t), cloud.T, {"a": cloud[:, 0], "abs_a_b_norm": weight})
        row: dict[str, float] = {
            "t": float(t), "pde_risk": system.risk(rho), f"pde_risk_m{widest}": system.expected_risk(rho, widest),
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
    for m, streams in zip(WIDTHS, recovery_seeds.spawn(len(WIDTHS)), strict=True):
        result = recovery_fraction(teacher, m, [np.random.default_rng(s) for s in streams.spawn(seeds)], law,
                                   gd_axis, t_end)
        recovery.append({"m": m, "seeds": seeds, "fraction_below_threshold": result.fraction,
                         "median_risk": float(np.median(result.risks)), "max_risk": float(result.risks.max()),
                         "median_w1": float(np.median([recovery_w1(teacher, w) for w in result.theta])),
                         "median_mass_ratio": float(np.median([recovery_mass(teacher, w) for w in result.theta]))})
    seed_seconds = time.perf_counter() - clock
    write_csv(out_dir / "recovery.csv", list(recovery[0]), [list(r.values()) for r in recovery])

    paths = [_risk_figure(out_dir, times, rows, h), _recovery_figure(out_dir, times, rows, recovery),
             _trajectory_figure(out_dir, teacher, law, t_end, gd_axis, np.random.default_rng(figure_seed))]
    gap = max(abs(r["pde_risk"] - r[f"gd_risk_m{widest}"]) for r in rows)
    summary = {"rows": rows, "recovery": recovery, "result": pde, "paths": paths, "pde_gd_gap": gap,
               "wall_nodes_mass": max(r["pde_wall_nodes_mass"] for r in rows),
               "wall_layer_mass": max(r["pde_wall_layer_mass"] for r in rows), "nodes": space.n,
               "seconds": {"pde": pde_seconds, "particles": particle_seconds, "seeds": seed_seconds}}
    last = rows[-1]
    print(f"h = {h:g} ({space.n} nodes): PDE {pde_seconds:.0f} s, particles {particle_seconds:.1f} s, "
          f"seeds {seed_seconds:.0f} s; {pde.certificates.describe()}")
    print(f"t = {t_end:g}: risk PDE {last['pde_risk']:.2e}, GD m={widest} {last[f'gd_risk_m{widest}']:.2e}, "
          f"SGD m={widest} {last[f'sgd_risk_m{widest}']:.2e}; sup_t |R(PDE) - R(GD, m={widest})| = {gap:.2e}; "
          f"W1 PDE {last['pde_w1']:.3f}, GD m={widest} {last[f'gd_w1_m{widest}']:.3f}")
    print(f"walls: mass on the wall nodes (what the no-flux walls stop) <= {summary['wall_nodes_mass']:.1e}; "
          f"mass within 2h of the walls (the layer, {np.mean(space.wall_layer):.0%} of the nodes at h = {h:g}, "
          f"start included) <= {summary['wall_layer_mass']:.2f}")
    print(f"fraction of seeds with R < {RECOVERY_THRESHOLD:g}: "
          + ", ".join(f"m = {r['m']}: {r['fraction_below_threshold']:.2f}" for r in recovery))
    return summary


def _risk_figure(out_dir: Path, times: np.ndarray, rows: list[dict[str, float]], h: float) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4.2), constrained_layout=True)
    ax.semilogy(times, [r["pde_risk"] for r in rows], "k-", lw=2, label=f"PDE on the θ-box (h = {h:g})")
    for color, m in zip(("C0", "C1", "C3"), WIDTHS, strict=True):
        ax.semilogy(times, [r[f"gd_risk_m{m}"] for r in rows], "-", color=color, label=f"GD, m = {m}")
        ax.semilogy(times, [r[f"sgd_risk_m{m}"] for r in rows], ":", color=color, label=f"SGD, m = {m}")
    ax.axhline(RECOVERY_THRESHOLD, color="0.6", lw=0.8)
    ax.set_xlabel("t")
    ax.set_ylabel("population risk")
    ax.set_title("teacher of 5 ReLU neurons, 2-homogeneous student")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, out_dir / "risk.png")


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
    right.set_ylabel(f"fraction of {int(recovery[0]['seeds'])} seeds with R < {RECOVERY_THRESHOLD:g}")
    right.grid(alpha=0.3)
    return save_figure(fig, out_dir / "recovery.png")


def _trajectory_figure(out_dir: Path, teacher: Teacher, law: SphereLaw, t_end: float, axis: TimeAxis,
                       rng: np.random.Generator) -> Path:
    """The source's figure: each unit's path of ``|a|·b`` for a GD student of m = 100."""
    run = student_gd(teacher, law.sample(100, rng), axis, _record_times(t_end, 200, axis))
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
    return save_figure(fig, out_dir / "trajectories.png")


def _cli_mesh_size(text: str) -> float:
    """``--h`` parsed and checked, or argparse's one-line error saying the range and why."""
    why = (f"give h in [{H_MIN}, {H_MAX}]: a coarser box cannot resolve the start, "
           f"a finer one puts over 85,000 nodes on it")
    try:
        value = float(text)
    except ValueError:
        message = f"h (the mesh size of the θ-box) must be a number, got {text!r}; {why}"
        raise argparse.ArgumentTypeError(message) from None
    try:
        return mesh_size(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err}; {why}") from None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="out/teacher_student", help="output directory (created if missing)")
    parser.add_argument("--quick", action="store_true", help="a coarse mesh (h = 0.5), t = 10, 4 seeds (a minute)")
    parser.add_argument("--h", type=_cli_mesh_size, default=None,
                        help=f"mesh size of the θ-box, in [{H_MIN}, {H_MAX}]; not given: 0.25, or 0.5 with --quick")
    args = parser.parse_args()
    try:
        writable_directory(Path(args.out))
    except ScenarioError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        sys.exit(2)
    main(args.out, quick=args.quick, h=args.h)
