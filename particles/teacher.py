"""Students of a teacher network: gradient descent of 2-homogeneous ReLU units
(Chizat–Bach, seed 001) on fempde's time axis, and how well they recover the teacher.

The student ``h = (1/m) Σ_i Φ(θ_i)``, ``Φ(θ)(x) = a ReLU(⟨b, x⟩)``, learns the
teacher of :class:`fempde.problems.homogeneous.Teacher` with the square loss. Its
particles follow the characteristics of the PDE that fempde solves,
``∂_t ρ = DRIFT ξ ∇·(ρ ∇Ψ)`` with ``Ψ(θ; ρ) = V(θ) + ∫U(θ, θ')ρ(dθ')``:

    dθ_i/dt = −DRIFT ξ ∇Ψ(θ_i; ρ̂),   ∇Ψ(θ_i; ρ̂) = −E[(y − h(x)) ∇_θ Φ(θ_i)(x)] = (m/2) ∇_{θ_i} G,

``G(W) = E(y − h)²``, so with ``DRIFT = 2`` and ``ξ = 1`` it is exactly the source's
``Ẇ = −m ∇G(W)``. On the axis ``t = kε`` with steps ``s_k = ∫ξ`` the update is

    θ_i ← θ_i + DRIFT s_k Σ_q w_q (y_q − h(x_q)) ∇_θ Φ(θ_i)(x_q),

over the whole circle rule of :meth:`~fempde.problems.homogeneous.Teacher.data_law`
(:func:`student_gd`, full batch: the PDE's quadrature) or over one fresh sample
``x ~ N(0, I_2)`` per step (:func:`student_sgd`, ``w = 1``). Both are the SGD
engine's runs (:func:`particles.sgd`) of :func:`declaration`, kept for their
callers; ``∇_a Φ = ReLU(⟨b, x⟩)``, ``∇_b Φ = a 1{⟨b, x⟩ > 0} x``.
Along the flow ``a_i² − ‖b_i‖²`` is conserved (2-homogeneity), which the tests use.

**Teacher recovery.** A unit contributes ``a‖b‖ ReLU(⟨b̂, x⟩)``, so what the
student represents is its direction measure ``(1/m) Σ |a_i|‖b_i‖ δ_{b̂_i}`` on the
circle (weights ``|a|‖b‖``: units of the wrong sign count, they must vanish).
:func:`recovery_w1` is the W1 distance on the circle (arc length) between that
measure and the teacher's ``Σ_j |a*_j|‖b*_j‖ δ_{b̂*_j}``, both normalised to mass
1 (:func:`circle_w1`); :func:`recovery_mass` is the ratio of their masses.
A student *recovers* the teacher when its population risk is below
:data:`RECOVERY_THRESHOLD` (``10⁻³``, 0.4 % of ``E h*² = 0.27``):
:func:`recovery_fraction` counts the students that do.

**Recording times.** The runs step on the grid ``t = kε`` of their
:class:`~fempde.meanfield.TimeAxis` and record exactly there: ``times`` must be
finite, ``>= 0``, strictly increasing and each a grid time ``kε`` within
round-off (relative ``1e-9``); any other time is refused, naming it and its
nearest grid times, rather than moved to the grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.checks import finite_array, generator, integer, number
from fempde.meanfield import Constant, Schedule, TimeAxis
from fempde.model import Homogeneous, MeanFieldModel, TeacherData
from fempde.problems.homogeneous import CIRCLE_POINTS, DIM, SphereLaw, Teacher, direction_measure, units

from .batch import FULL
from .engine import sgd

__all__ = ["RECOVERY_THRESHOLD", "Recovery", "TeacherRun", "circle_w1", "declaration", "recovery_fraction",
           "recovery_mass", "recovery_w1", "student_gd", "student_sgd"]

Array = NDArray[np.float64]

RECOVERY_THRESHOLD = 1e-3
"""The population risk below which a student counts as having recovered the teacher."""

GRID_TOLERANCE = 1e-9
"""How far (relative to ``max(1, k)`` steps) a recording time may sit from the grid time ``kε``."""


def grid_steps(axis: TimeAxis, times: Sequence[float]) -> NDArray[np.int64]:
    """The step counts ``k`` of the recording ``times`` (module docstring: finite,
    ``>= 0``, strictly increasing, each ``kε`` within round-off), or a ValueError
    naming the time at fault."""
    values = list(np.ravel(times)) if isinstance(times, np.ndarray) else list(times)
    if len(values) == 0:
        raise ValueError("times must hold at least one recording time, got none")
    marks: list[int] = []
    previous = 0.0
    for index, value in enumerate(values):
        t = number(f"times[{index}]", value, minimum=0.0)
        steps = t / axis.epsilon
        k = round(steps)
        if abs(steps - k) > GRID_TOLERANCE * max(1.0, k):
            low = math.floor(steps)
            raise ValueError(f"times[{index}] = {t!r} is not on the step grid t = kε (ε = {axis.epsilon:g}): "
                             f"the nearest grid times are {low * axis.epsilon:g} and {(low + 1) * axis.epsilon:g}")
        if marks and k <= marks[-1]:
            raise ValueError(f"times must increase strictly, got times[{index}] = {t!r} after "
                             f"times[{index - 1}] = {previous!r}")
        marks.append(k)
        previous = t
    return np.array(marks, dtype=np.int64)


@dataclass(frozen=True)
class TeacherRun:
    """The student at the recorded ``times`` ``(n_times,)`` (on the grid ``t = kε``):
    ``theta`` ``(n_times, m, 3)``, rows ``(a, b1, b2)``."""

    times: Array
    theta: Array

    def risk(self, teacher: Teacher) -> Array:
        """The exact population risk at every recorded time."""
        return np.array([teacher.risk(w) for w in self.theta])

    def recovery_w1(self, teacher: Teacher) -> Array:
        """:func:`recovery_w1` at every recorded time."""
        return np.array([recovery_w1(teacher, w) for w in self.theta])


def declaration(teacher: Teacher, schedule: Schedule | None = None) -> MeanFieldModel:
    """The students as a :class:`fempde.model.MeanFieldModel`: :func:`fempde.model.chizat_bach`
    of ``teacher`` on the time axis's ``schedule`` (its initial law a placeholder: the runs
    here start from given units)."""
    return MeanFieldModel(Homogeneous(DIM), TeacherData(teacher), SphereLaw(0.5, 0.2), schedule=schedule or Constant(),
                          name="chizat-bach")


def _run(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], rng: np.random.Generator,
         batch: int | tuple[str, int], chunk: int) -> TeacherRun:
    if not isinstance(axis, TimeAxis):
        raise TypeError(f"axis must be a fempde TimeAxis (epsilon and schedule), got {type(axis).__name__}")
    start = units(theta0, "theta0")
    if len(start) < 1:
        raise ValueError("theta0 has zero units: the student needs m >= 1 rows (a, b1, b2)")
    chunk = integer("chunk", chunk)
    marks = grid_steps(axis, times)
    run = sgd(declaration(teacher, axis.schedule), start, axis, axis.time(marks).tolist(), rng=rng, batch=batch,
              chunk=chunk)
    assert run.theta is not None
    return TeacherRun(run.times, run.theta)


def student_gd(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], *,
               points: int = CIRCLE_POINTS, chunk: int = 4096) -> TeacherRun:
    """Full-batch gradient descent from ``theta0`` ``(m, 3)`` on the circle rule of
    ``points`` nodes (the PDE's data quadrature), recorded at ``times``: grid times
    ``kε`` of ``axis``, increasing (module docstring; others are refused). The
    engine's run with ``batch=("full", points)``; it draws nothing."""
    return _run(teacher, theta0, axis, times, np.random.default_rng(0), (FULL, integer("points", points)), chunk)


def student_sgd(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], *,
                rng: np.random.Generator, chunk: int = 4096) -> TeacherRun:
    """SGD from ``theta0`` ``(m, 3)`` with one fresh sample ``x ~ N(0, I_2)``,
    ``y = h*(x)`` per step (drawn from ``rng`` in the engine's blocks), recorded at
    ``times``: grid times ``kε`` of ``axis``, increasing (module docstring; others are refused)."""
    return _run(teacher, theta0, axis, times, generator("rng", rng), 1, chunk)


def _atoms(angles_name: str, angles: ArrayLike, weights_name: str, weights: ArrayLike) -> tuple[Array, Array]:
    """Angles in ``[0, 2π)`` and the masses normalised to 1 of a measure of atoms, or
    a ValueError naming the parameter and the entry at fault."""
    mass = finite_array(weights_name, weights).ravel()
    phi = finite_array(angles_name, angles).ravel()
    if phi.shape != mass.shape:
        raise ValueError(f"{angles_name} and {weights_name} must have one entry each per atom, got "
                         f"{phi.size} and {mass.size}")
    negative = np.flatnonzero(mass < 0)
    if negative.size:
        k = int(negative[0])
        raise ValueError(f"{weights_name}[{k}] = {float(mass[k])!r} is negative: masses must be >= 0")
    if mass.sum() <= 0:
        raise ValueError(f"{weights_name} has no mass (all {mass.size} entries are 0): give at least one entry > 0")
    return np.mod(phi, 2 * math.pi), mass / mass.sum()


def _w1(p: tuple[Array, Array], q: tuple[Array, Array]) -> float:
    """The circle W1 of two checked measures ``(angles, masses)`` (:func:`circle_w1`)."""
    angle = np.concatenate([p[0], q[0]])
    signed = np.concatenate([p[1], -q[1]])
    order = np.argsort(angle, kind="stable")
    angle, difference = angle[order], np.cumsum(signed[order])  # F_p − F_q on [angle_k, angle_{k+1})
    arcs = np.diff(np.append(angle, angle[0] + 2 * math.pi))
    ranked = np.argsort(difference, kind="stable")
    cumulative = np.cumsum(arcs[ranked])
    c = difference[ranked][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    return float(arcs @ np.abs(difference - c))


def circle_w1(angles_p: ArrayLike, weights_p: ArrayLike, angles_q: ArrayLike, weights_q: ArrayLike) -> float:
    """The W1 distance (arc length, in radians, at most π) between two measures of
    atoms on the unit circle, each normalised to mass 1.

    On the circle ``W1 = min_c ∫_0^{2π} |F_p(φ) − F_q(φ) − c| dφ`` (``F`` the
    cumulative masses from angle 0; Rabin–Delon–Gousseau 2011): the minimising
    ``c`` is a weighted median of ``F_p − F_q`` over the arcs between atoms."""
    return _w1(_atoms("angles_p", angles_p, "weights_p", weights_p),
               _atoms("angles_q", angles_q, "weights_q", weights_q))


def recovery_w1(teacher: Teacher, theta: ArrayLike, weights: ArrayLike | None = None) -> float:
    """W1 on the circle between the student's direction measure (units ``(m, 3)``,
    masses ``|a|‖b‖`` times ``weights`` ``(m,)``, default equal) and the teacher's
    (module docstring). ``weights`` lets a PDE density enter as nodes with their masses ``m_i ρ_i``."""
    angles, mass = direction_measure(theta)
    if weights is not None:
        factor = finite_array("weights (one per unit of theta)", weights, (len(mass),))
        negative = np.flatnonzero(factor < 0)
        if negative.size:
            k = int(negative[0])
            raise ValueError(f"weights[{k}] = {float(factor[k])!r} is negative: "
                             "the weights of theta's units must be >= 0")
        mass = mass * factor
    if not mass.sum() > 0:
        raise ValueError(f"theta's direction measure has no mass: every one of its {len(mass)} units has "
                         "|a|‖b‖ = 0" + (" or weight 0" if weights is not None else ""))
    star_angles, star_mass = teacher.direction_measure()
    if not star_mass.sum() > 0:
        raise ValueError("the teacher's output weights a*_j are all 0: its direction measure has no mass to recover")
    return _w1((np.mod(angles, 2 * math.pi), mass / mass.sum()), (np.mod(star_angles, 2 * math.pi),
                                                                   star_mass / star_mass.sum()))


def recovery_mass(teacher: Teacher, theta: ArrayLike) -> float:
    """``((1/m) Σ |a_i|‖b_i‖) / Σ_j |a*_j|‖b*_j‖``: 1 when the student's direction
    measure has the teacher's mass (what W1, on normalised measures, does not see)."""
    return float(direction_measure(theta)[1].mean() / teacher.direction_measure()[1].sum())


@dataclass(frozen=True)
class Recovery:
    """The full-batch GD students of :func:`recovery_fraction`, one per generator:
    their final ``risks`` ``(n,)`` and units ``theta`` ``(n, m, 3)`` at ``t_end``."""

    threshold: float
    risks: Array
    theta: Array

    @property
    def fraction(self) -> float:
        """The fraction of students with risk below ``threshold``."""
        return float(np.mean(self.risks < self.threshold))


def recovery_fraction(teacher: Teacher, m: int, rngs: Sequence[np.random.Generator], law: SphereLaw,
                      axis: TimeAxis, t_end: float, *, threshold: float = RECOVERY_THRESHOLD,
                      points: int = CIRCLE_POINTS) -> Recovery:
    """One full-batch GD student of ``m`` units per generator of ``rngs`` (its start
    drawn from ``law`` with it; independent streams, e.g.
    ``[numpy.random.default_rng(s) for s in numpy.random.SeedSequence(0).spawn(n)]``),
    run to ``t_end`` (a grid time of ``axis``): their final risks and units, and the
    fraction whose risk is below ``threshold``."""
    m = integer("m (the number of student units)", m)
    threshold = number("threshold (the risk to reach)", threshold, positive=True)
    streams = [generator(f"rngs[{k}]", rng) for k, rng in enumerate(rngs)]
    if not streams:
        raise ValueError("rngs must hold at least one numpy.random.Generator, got none")
    finals = [student_gd(teacher, law.sample(m, rng), axis, [t_end], points=points).theta[-1] for rng in streams]
    return Recovery(threshold, np.array([teacher.risk(w) for w in finals]), np.array(finals))
