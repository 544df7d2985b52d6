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
(full batch: the PDE's quadrature) or over one fresh sample ``x ~ N(0, I_2)`` per step
(``w = 1``): the SGD engine's runs (:func:`particles.sgd`) of :func:`declaration`
(:func:`fempde.model.chizat_bach` on a given schedule) with ``batch=("full", points)``
or ``batch=1``; ``∇_a Φ = ReLU(⟨b, x⟩)``, ``∇_b Φ = a 1{⟨b, x⟩ > 0} x``.
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
from fempde.problems.homogeneous import CIRCLE_POINTS, DIM, SphereLaw, Teacher, direction_measure

from .batch import FULL
from .engine import sgd

__all__ = ["RECOVERY_THRESHOLD", "Recovery", "circle_w1", "declaration", "recovery_fraction", "recovery_mass",
           "recovery_w1"]

Array = NDArray[np.float64]

RECOVERY_THRESHOLD = 1e-3
"""The population risk below which a student counts as having recovered the teacher."""


def declaration(teacher: Teacher, schedule: Schedule | None = None) -> MeanFieldModel:
    """The students as a :class:`fempde.model.MeanFieldModel`: :func:`fempde.model.chizat_bach`
    of ``teacher`` on the time axis's ``schedule`` (its initial law a placeholder: the runs
    here start from given units)."""
    return MeanFieldModel(Homogeneous(DIM), TeacherData(teacher), SphereLaw(0.5, 0.2), schedule=schedule or Constant(),
                          name="chizat-bach")


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
    run to ``t_end`` (on the grid of ``axis``): their final risks and units, and the
    fraction whose risk is below ``threshold``."""
    m = integer("m (the number of student units)", m)
    threshold = number("threshold (the risk to reach)", threshold, positive=True)
    streams = [generator(f"rngs[{k}]", rng) for k, rng in enumerate(rngs)]
    if not streams:
        raise ValueError("rngs must hold at least one numpy.random.Generator, got none")
    model, batch = declaration(teacher, axis.schedule), (FULL, integer("points", points))
    finals = []
    for rng in streams:
        run = sgd(model, law.sample(m, rng), axis, [t_end], rng=rng, batch=batch)  # full batch: it draws nothing
        assert run.theta is not None
        finals.append(run.theta[-1])
    return Recovery(threshold, np.array([teacher.risk(w) for w in finals]), np.array(finals))
