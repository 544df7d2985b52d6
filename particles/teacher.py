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
``x ~ N(0, I_2)`` per step (:func:`student_sgd`, ``w = 1``). Both run the same
compiled loop; ``∇_a Φ = ReLU(⟨b, x⟩)``, ``∇_b Φ = a 1{⟨b, x⟩ > 0} x``.
Along the flow ``a_i² − ‖b_i‖²`` is conserved (2-homogeneity), which the tests use.

**Teacher recovery.** A unit contributes ``a‖b‖ ReLU(⟨b̂, x⟩)``, so what the
student represents is its direction measure ``(1/m) Σ |a_i|‖b_i‖ δ_{b̂_i}`` on the
circle (weights ``|a|‖b‖``: units of the wrong sign count, they must vanish).
:func:`recovery_w1` is the W1 distance on the circle (arc length) between that
measure and the teacher's ``Σ_j |a*_j|‖b*_j‖ δ_{b̂*_j}``, both normalised to mass
1 (:func:`circle_w1`); :func:`recovery_mass` is the ratio of their masses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.meanfield import DRIFT, TimeAxis
from fempde.problems.homogeneous import SphereLaw, Teacher, units

from .plan import chunk_plan, record_steps

__all__ = ["TeacherRun", "circle_w1", "recovery_fraction", "recovery_mass", "recovery_w1", "student_gd",
           "student_sgd"]

Array = NDArray[np.float64]


@numba.njit(cache=True, fastmath=True)
def _advance(a: Array, b: Array, x: Array, y: Array, w: Array, steps: Array, count: int,
             stride: int, drift: float) -> None:  # pragma: no cover - compiled
    """``count`` steps; step ``k`` uses the rows ``k·stride ... k·stride + len(w)`` of
    ``x``, ``y`` with weights ``w`` (``stride = 0``: the same batch every step, GD).
    ``b`` is ``(2, m)``: the passes over the units run along contiguous rows."""
    m, batch = a.shape[0], w.shape[0]
    z = np.empty((batch, m))
    coef = np.empty(batch)
    ga, gb0, gb1 = np.empty(m), np.empty(m), np.empty(m)
    for k in range(count):
        row = k * stride
        for q in range(batch):
            x0, x1 = x[row + q, 0], x[row + q, 1]
            h = 0.0
            for i in range(m):
                zi = b[0, i] * x0 + b[1, i] * x1
                z[q, i] = zi
                if zi > 0.0:
                    h += a[i] * zi
            coef[q] = w[q] * (y[row + q] - h / m)
        for i in range(m):
            ga[i], gb0[i], gb1[i] = 0.0, 0.0, 0.0
        for q in range(batch):
            x0, x1, c = x[row + q, 0], x[row + q, 1], coef[q]
            for i in range(m):
                zi = z[q, i]
                on = c if zi > 0.0 else 0.0
                ga[i] += on * zi
                gb0[i] += on * x0
                gb1[i] += on * x1
        step = drift * steps[k]
        for i in range(m):
            ai = a[i]
            a[i] = ai + step * ga[i]
            b[0, i] += step * ai * gb0[i]
            b[1, i] += step * ai * gb1[i]


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


def _run(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], draw: object,
         batch: tuple[Array, Array, Array] | None, chunk: int) -> TeacherRun:
    if not isinstance(axis, TimeAxis):
        raise TypeError(f"axis must be a fempde TimeAxis (epsilon and schedule), got {type(axis).__name__}")
    start = units(theta0, "theta0")
    if len(start) < 1:
        raise ValueError("theta0 has zero units: the student needs m >= 1 rows (a, b1, b2)")
    a, b = start[:, 0].copy(), np.ascontiguousarray(start[:, 1:].T)
    marks = record_steps(axis, times)
    record: list[Array] = []
    for k0, count, recorded in chunk_plan(marks, chunk):
        if count:
            steps = axis.step_sizes(k0, k0 + count)
            if batch is not None:  # full batch: the same rule every step
                x, y, w = batch
                _advance(a, b, x, y, w, steps, count, 0, DRIFT)
            else:
                assert isinstance(draw, np.random.Generator)
                x, y = teacher.sample(count, draw)
                _advance(a, b, x, y, np.ones(1), steps, count, 1, DRIFT)
            if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
                raise FloatingPointError(f"the student diverged by t = {axis.time(k0 + count):.6g}: "
                                         f"lower epsilon (now {axis.epsilon:g})")
        if recorded:
            record.append(np.column_stack([a, b.T]))
    return TeacherRun(axis.time(marks), np.array(record))


def student_gd(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], *,
               points: int = 256, chunk: int = 4096) -> TeacherRun:
    """Full-batch gradient descent from ``theta0`` ``(m, 3)`` on the circle rule of
    ``points`` nodes (the PDE's data quadrature), recorded at ``times`` (module docstring)."""
    law = teacher.data_law(points)
    return _run(teacher, theta0, axis, times, None, (law.points, law.y_mean, law.weights), chunk)


def student_sgd(teacher: Teacher, theta0: ArrayLike, axis: TimeAxis, times: Sequence[float], *,
                rng: np.random.Generator, chunk: int = 4096) -> TeacherRun:
    """SGD from ``theta0`` ``(m, 3)`` with one fresh sample ``x ~ N(0, I_2)``,
    ``y = h*(x)`` per step (drawn from ``rng``, ``chunk`` at a time), recorded at ``times``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return _run(teacher, theta0, axis, times, rng, None, chunk)


def circle_w1(angles_p: ArrayLike, weights_p: ArrayLike, angles_q: ArrayLike, weights_q: ArrayLike) -> float:
    """The W1 distance (arc length, in radians, at most π) between two measures of
    atoms on the unit circle, each normalised to mass 1.

    On the circle ``W1 = min_c ∫_0^{2π} |F_p(φ) − F_q(φ) − c| dφ`` (``F`` the
    cumulative masses from angle 0; Rabin–Delon–Gousseau 2011): the minimising
    ``c`` is a weighted median of ``F_p − F_q`` over the arcs between atoms."""
    phases, masses = [], []
    for name, angles, weights in (("p", angles_p, weights_p), ("q", angles_q, weights_q)):
        phi = np.asarray(angles, dtype=np.float64).ravel()
        mass = np.asarray(weights, dtype=np.float64).ravel()
        if phi.shape != mass.shape or not (np.all(np.isfinite(phi)) and np.all(np.isfinite(mass))):
            raise ValueError(f"angles_{name} and weights_{name} must be finite and of one length, got "
                             f"{phi.shape} and {mass.shape}")
        if np.any(mass < 0) or mass.sum() <= 0:
            raise ValueError(f"weights_{name} must be >= 0 with a positive sum, got sum {mass.sum()!r}")
        phases.append(np.mod(phi, 2 * math.pi))
        masses.append(mass / mass.sum())
    angle = np.concatenate(phases)
    signed = np.concatenate([masses[0], -masses[1]])
    order = np.argsort(angle, kind="stable")
    angle, difference = angle[order], np.cumsum(signed[order])  # F_p − F_q on [angle_k, angle_{k+1})
    arcs = np.diff(np.append(angle, angle[0] + 2 * math.pi))
    ranked = np.argsort(difference, kind="stable")
    cumulative = np.cumsum(arcs[ranked])
    c = difference[ranked][np.searchsorted(cumulative, 0.5 * cumulative[-1])]
    return float(arcs @ np.abs(difference - c))


def _directions(theta: Array) -> tuple[Array, Array]:
    """Angles of ``b`` and masses ``|a|‖b‖`` of units ``(m, 3)``."""
    return np.arctan2(theta[:, 2], theta[:, 1]), np.abs(theta[:, 0]) * np.linalg.norm(theta[:, 1:], axis=1)


def recovery_w1(teacher: Teacher, theta: ArrayLike, weights: ArrayLike | None = None) -> float:
    """W1 on the circle between the student's direction measure (units ``(m, 3)``,
    masses ``|a|‖b‖`` times ``weights``, default equal) and the teacher's (module docstring).
    ``weights`` lets a PDE density enter as nodes with their masses ``m_i ρ_i``."""
    w = units(theta)
    angles, mass = _directions(w)
    if weights is not None:
        factor = np.asarray(weights, dtype=np.float64)
        if factor.shape != mass.shape:
            raise ValueError(f"weights must have one entry per unit ({len(mass)}), got shape {factor.shape}")
        mass = mass * factor
    return circle_w1(angles, mass, *teacher.direction_measure())


def recovery_mass(teacher: Teacher, theta: ArrayLike) -> float:
    """``((1/m) Σ |a_i|‖b_i‖) / Σ_j |a*_j|‖b*_j‖``: 1 when the student's direction
    measure has the teacher's mass (what W1, on normalised measures, does not see)."""
    w = units(theta)
    return float(_directions(w)[1].mean() / teacher.direction_measure()[1].sum())


def recovery_fraction(teacher: Teacher, m: int, seeds: Sequence[int], law: SphereLaw, axis: TimeAxis,
                      t_end: float, *, threshold: float = 1e-3, points: int = 256) -> tuple[float, Array]:
    """The fraction of ``seeds`` whose full-batch GD student of ``m`` units, started
    from ``law`` with ``numpy.random.default_rng(seed)``, has risk below ``threshold``
    at ``t_end``; also the final risks ``(len(seeds),)``."""
    if isinstance(m, (bool, np.bool_)) or not isinstance(m, (int, np.integer)) or m < 1:
        raise ValueError(f"m (the number of student units) must be an integer >= 1, got {m!r}")
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one seed")
    if isinstance(threshold, bool) or not (isinstance(threshold, (int, float)) and math.isfinite(threshold)
                                           and threshold > 0):
        raise ValueError(f"threshold (the risk to reach) must be a finite number > 0, got {threshold!r}")
    risks = np.array([student_gd(teacher, law.sample(m, np.random.default_rng(seed)), axis, [t_end],
                                 points=points).risk(teacher)[-1] for seed in seeds])
    return float(np.mean(risks < threshold)), risks
