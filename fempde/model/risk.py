"""Population risks of N units of a :class:`~fempde.model.MeanFieldModel`,
exact or by a quadrature whose error is stated, at O(N²) at most: what the
cross-check compares with the limit's risk ``R(ρ_t)``.

    R_N(θ) = E (y − (α/N) Σ_i σ*(x; θ_i))²,   α = model.output_scale(N),

``= E y² − 2 (α/N) Σ_i E[y σ*_i] + (α/N)² Σ_ij U(θ_i, θ_j)``. The label-noise
variance is part of ``E y²``, so it is part of every value; it is also
reported apart (:attr:`RiskValue.noise`, :attr:`RiskValue.excess`), since it is
the same for the particles and the limit and a cross-check may leave it out.

The method follows from what the model has (:func:`moments`):

* ridge units ``a σ(⟨w, x⟩ + b)`` (and the 2-homogeneous ``a ReLU(⟨b, x⟩)``, a
  ridge unit) on a :class:`GaussianMixture`, any dimension: the pre-activations
  are jointly Gaussian in each component (:mod:`.gaussian_risk`); exact to
  round-off for hinges, with a bound; other σ with an estimated error;
* 2-homogeneous units on :class:`TeacherData`: the arc-cosine kernel's closed
  form (:class:`fempde.Teacher`), exact, in a compiled loop over the pairs;
* anything else, the RBF network's bumps on :class:`UniformData` among them:
  the data law's own quadrature, O(N·M) (bumps through their sparse neighbour
  pairs), the error estimated as the difference with the rule of the data law's
  :meth:`~fempde.model.data.Data.refined` level (none for :class:`FiniteData`,
  whose rule is the law).

:func:`expected_risk` is ``E R_n`` of ``n`` units drawn i.i.d. from a weighted
law: ``R(ρ)`` plus the self-interaction bias ``(1/n)(∫U(θ, θ)ρ − ∬Uρρ)``, which
tells how much of a particle–limit gap the finite sample alone explains.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..checks import finite_array, integer
from ..problems.distributional import DataLaw
from ..problems.homogeneous import relu_kernel
from .data import FiniteData, GaussianMixture, TeacherData
from .declaration import MeanFieldModel
from .gaussian_risk import ridge_gaussian_moments
from .moments import Moments, RiskValue
from .units import TRAINED, Bump, Homogeneous, Ridge, Unit

__all__ = ["RiskValue", "expected_risk", "moments", "population_risk", "quadrature_moments", "rule_moments",
           "teacher_moments"]

Array = NDArray[np.float64]

FEATURE_BLOCK = 4_000_000
"""Unit responses held at once by the quadrature (``M × units`` floats)."""


def population_risk(model: MeanFieldModel, theta: ArrayLike, *, level: int | None = None) -> RiskValue:
    """``R_N(θ)`` of the units ``theta`` ``(N, D)`` of ``model`` (module docstring), with its error.

    ``level``: the data rule's level for the quadrature methods (default the data law's);
    the exact methods do not use it."""
    units = _model(model).units(theta)
    n = len(units)
    return moments(model, units, np.full(n, model.output_scale(n) / n), level=level).risk()


def expected_risk(model: MeanFieldModel, points: ArrayLike, weights: ArrayLike, n: int, *,
                  level: int | None = None) -> RiskValue:
    """``E R_n`` of ``n`` units drawn i.i.d. from ``ρ = Σ_j weights_j δ_{points_j}`` (``(P, D)``,
    ``(P,)``, weights >= 0 summing to 1): ``R(ρ) + (1/n)(∫U(θ, θ)ρ − ∬Uρρ)`` in the mean-field
    scaling (module docstring), with its error."""
    units = _model(model).units(points, "points")
    w = finite_array("weights (of the points)", weights, (len(units),))
    if np.any(w < 0) or abs(float(w.sum()) - 1.0) > 1e-10:
        raise ValueError(f"weights must be >= 0 and sum to 1 (a probability law), got sum {float(w.sum())!r} and "
                         f"smallest {float(w.min())!r}")
    n = integer("n (the number of units drawn)", n)
    return moments(model, units, w, level=level).expected_risk(n, model.output_scale(n))


def _model(model: object) -> MeanFieldModel:
    if not isinstance(model, MeanFieldModel):
        raise TypeError(f"model must be a fempde.model.MeanFieldModel, got {type(model).__name__}")
    return model


def moments(model: MeanFieldModel, theta: ArrayLike, weights: ArrayLike, *, level: int | None = None) -> Moments:
    """The :class:`Moments` of units ``theta`` ``(P, D)`` with weights ``(P,)`` by the method the
    model admits (module docstring)."""
    units = _model(model).units(theta)
    v = finite_array("weights (of the units)", weights, (len(units),))
    if level is not None:
        level = integer("level (of the data rule)", level)
    unit, data = model.unit, model.data
    if isinstance(data, GaussianMixture):
        if isinstance(unit, Ridge):
            return ridge_gaussian_moments(unit, data, units, v)
        if isinstance(unit, Homogeneous):  # a ReLU(⟨b, x⟩): a ridge unit with θ = (w = b, a)
            relu = Ridge("relu", unit.input_dim, output=TRAINED)
            return ridge_gaussian_moments(relu, data, np.column_stack([units[:, 1:], units[:, 0]]), v)
    if isinstance(data, TeacherData):
        if isinstance(unit, Homogeneous):
            return teacher_moments(data, units, v)
        raise ValueError("TeacherData integrates 2-homogeneous units only (its circle rule is exact for them and "
                         "wrong for others): use Homogeneous units, or give the data as a GaussianMixture or "
                         "FiniteData")
    return quadrature_moments(unit, data, units, v, level)


# -- the teacher's closed form ----------------------------------------------------------------------------------

@numba.njit(cache=True)
def _arc_cosine_form(b: Array, g: Array) -> float:  # pragma: no cover - compiled
    """``Σ_ij g_i g_j k(b_i, b_j)``, ``k(b, b') = |b||b'| (sin α + (π − α) cos α) / (2π)`` (the ReLU
    arc-cosine kernel of :func:`fempde.problems.homogeneous.relu_kernel`), the pairs ``i < j`` twice."""
    n = b.shape[0]
    total = 0.0
    for i in range(n):
        ni = math.sqrt(b[i, 0] ** 2 + b[i, 1] ** 2)
        total += g[i] * g[i] * ni * ni / 2.0
        row = 0.0
        for j in range(i + 1, n):
            nj = math.sqrt(b[j, 0] ** 2 + b[j, 1] ** 2)
            if ni == 0.0 or nj == 0.0:
                continue
            cosine = min(1.0, max(-1.0, (b[i, 0] * b[j, 0] + b[i, 1] * b[j, 1]) / (ni * nj)))
            angle = math.acos(cosine)
            row += g[j] * ni * nj * (math.sin(angle) + (math.pi - angle) * cosine)
        total += g[i] * row / math.pi
    return total


def teacher_moments(data: TeacherData, theta: Array, weights: Array) -> Moments:
    """2-homogeneous students ``a ReLU(⟨b, x⟩)`` of ``data``'s teacher: ``E[y σ*]`` and ``U`` by the
    arc-cosine kernel, exactly, O(N²) compiled pairs."""
    teacher = data.teacher
    a, b = theta[:, 0], np.ascontiguousarray(theta[:, 1:])
    linear = a * (relu_kernel(b, teacher.directions) @ teacher.output)
    diagonal = a**2 * np.einsum("ij,ij->i", b, b) / 2  # k(b, b) = |b|²/2
    quadratic = float(_arc_cosine_form(b, np.ascontiguousarray(weights * a)))
    return Moments(weights=weights, second=teacher.second_moment(), noise=0.0, linear=linear, diagonal=diagonal,
                   quadratic=quadratic, method="closed form (arc-cosine kernel of the ReLU teacher)", bounded=True)


# -- the data law's quadrature ----------------------------------------------------------------------------------

def _block(unit: Unit, rule: DataLaw, theta: Array, weights: Array) -> tuple[Array, Array, Array]:
    """``E[y σ*_i]``, ``U_ii`` and ``Σ_i v_i σ*(x_m; θ_i)`` of the units ``theta`` by the rule; bumps
    through their sparse responses (only the pairs of points and centres closer than δ)."""
    if isinstance(unit, Bump):
        from ..fem.convolution import kernel_matrix

        matrix = kernel_matrix(unit.bump, rule.points, theta, walls=unit.walls)
        squares = matrix.multiply(matrix)
        return (np.asarray(matrix.T @ (rule.weights * rule.y_mean)), np.asarray(squares.T @ rule.weights),
                np.asarray(matrix @ weights))
    responses = np.asarray(unit(rule.points, theta))
    return (rule.weights * rule.y_mean) @ responses, rule.weights @ responses**2, responses @ weights


def rule_moments(unit: Unit, rule: DataLaw, theta: Array, weights: Array) -> tuple[float, Array, Array, float]:
    """``(E y², E[y σ*_i], U_ii, Σ_ij v_i v_j U_ij)`` by the rule ``rule``, O(N·M): the units in
    blocks of at most :data:`FEATURE_BLOCK` responses (bumps all at once, sparse)."""
    count = len(theta)
    linear, diagonal = np.empty(count), np.empty(count)
    prediction = np.zeros(len(rule.weights))
    step = count if isinstance(unit, Bump) else max(1, FEATURE_BLOCK // max(len(rule.weights), 1))
    for start in range(0, count, step):
        rows = slice(start, start + step)
        linear[rows], diagonal[rows], part = _block(unit, rule, theta[rows], weights[rows])
        prediction += part
    return rule.y_second, linear, diagonal, float(rule.weights @ prediction**2)


def quadrature_moments(unit: Unit, data: object, theta: Array, weights: Array, level: int | None = None) -> Moments:
    """:class:`Moments` by the data law's rule of ``level``, and by its refined rule for the
    error estimate (module docstring); a :class:`FiniteData` rule is the law, exact."""
    level = data.default_level if level is None else level  # type: ignore[attr-defined]
    noise = float(getattr(data, "label_noise", 0.0)) ** 2
    second, linear, diagonal, quadratic = rule_moments(unit, data.quadrature(level), theta, weights)  # type: ignore
    exact = isinstance(data, FiniteData)
    refined = None
    if not exact:
        fine = rule_moments(unit, data.quadrature(data.refined(level)), theta, weights)  # type: ignore[attr-defined]
        refined = Moments(weights=weights, second=fine[0], noise=noise, linear=fine[1], diagonal=fine[2],
                          quadratic=fine[3], method="", bounded=False)
    method = ("the training set (exact)" if exact else
              f"the data law's quadrature at level {level}, error estimated from level "
              f"{data.refined(level)}")  # type: ignore[attr-defined]
    return Moments(weights=weights, second=second, noise=noise, linear=linear, diagonal=diagonal,
                   quadratic=quadratic, method=method, bounded=exact, refined=refined)
