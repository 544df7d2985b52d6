"""A noiseless mean-field PDE in several variables, solved by its characteristics.

Without noise a reduced DD is a continuity equation

    ∂_t ρ̄ = DRIFT ξ(t) ∇·(ρ̄ ∇ψ(·; ρ̄)),

so ``ρ̄_t`` is the push-forward of ``ρ̄_0`` by ``dX/dt = −DRIFT ξ(t) ∇ψ(X; ρ̄_t)``.
Represent ``ρ̄_0`` by weighted points ``Σ_j w_j δ_{X_j}`` (a tensor product of
1-D rules for its independent marginals, :func:`tensor_rule`); each point moves
with the exact velocity at its position, the interaction ``∫∇_1 u dρ̄`` evaluated
from the points themselves, and keeps its weight: mass is exact by construction
and the weighted points *are* the solution (an empirical measure
is a weak solution of the continuity equation). The only errors are the
quadrature of ``ρ̄_0`` (tested: the risk converges in the number of points)
and the ODE tolerance. This is :func:`fempde.quantile_flow` without its 1-D
ordering, for spaces (four dimensions for seed 002's Fig. 3) that simplicial
finite elements do not reach.

The system is autonomous in the rescaled time ``Ξ(t) = ∫_0^t ξ``
(:mod:`fempde.meanfield.schedule`): it is integrated in ``Ξ``, so a schedule
singular at 0 (``t^{−1/4}``) costs nothing, and recorded at ``Ξ(times)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp

from ..checks import choice, number
from ..checks import weighted_points as check_points
from ..meanfield import DRIFT, Schedule, TimeAxis

__all__ = ["METHODS", "PointField", "PointFlow", "check_points", "point_flow", "tensor_rule"]

Array = NDArray[np.float64]


class PointField(Protocol):
    """A reduced problem seen from weighted points ``(M, D)``."""

    def gradient(self, points: Array, weights: Array) -> Array:
        """``∇ψ(X_i; Σ_j w_j δ_{X_j})``, shape ``(M, D)``."""
        ...

    def risk(self, points: Array, weights: Array) -> float:
        """``R(Σ_j w_j δ_{X_j})``."""
        ...


def tensor_rule(marginals: Sequence[tuple[Array, Array]]) -> tuple[Array, Array]:
    """The product of 1-D rules ``(nodes, weights)`` (weights summing to 1): every
    combination of one node per marginal, weight the product; points
    ``(Π m_i, len(marginals))``. A point mass is a rule of one node."""
    if not marginals:
        raise ValueError("tensor_rule needs at least one marginal rule (nodes, weights)")
    nodes, weights = [], []
    for i, (x, w) in enumerate(marginals):
        x, w = np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(np.asarray(w, dtype=np.float64))
        if x.ndim != 1 or x.size < 1 or w.shape != x.shape or not np.all(np.isfinite(x)):
            raise ValueError(f"marginal {i}: nodes and weights must be 1-D of one length, nodes finite")
        check_points(x[:, None], w)
        nodes.append(x)
        weights.append(w)
    points = np.column_stack([g.ravel() for g in np.meshgrid(*nodes, indexing="ij")])
    mass = np.ones(1)
    for w in weights:
        mass = np.outer(mass, w).ravel()
    return points, mass / mass.sum()


@dataclass(frozen=True)
class PointFlow:
    """``points[k]``: the positions ``(M, D)`` at ``times[k]`` (fixed ``weights``);
    ``risk[k] = R(ρ̄_{times[k]})``."""

    times: Array
    points: Array
    weights: Array
    risk: Array

    def means(self) -> Array:
        """``∫X dρ̄_t`` per coordinate: shape ``(n_times, D)``."""
        return np.asarray(np.einsum("tmc,m->tc", self.points, self.weights))


METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
"""The integrators of :func:`scipy.integrate.solve_ivp` :func:`point_flow` accepts."""


def point_flow(field: PointField, points0: Array, weights: Array, times: Sequence[float],
               schedule: Schedule | TimeAxis, *, rtol: float = 1e-8, atol: float = 1e-10,
               method: str = "DOP853") -> PointFlow:
    """Carry the weighted points by ``dX/dt = −DRIFT ξ(t) ∇ψ(X; ρ̄_t)`` from ``t = 0``
    and record at ``times`` (a sequence, increasing, ``>= 0``).

    ``field`` is any :class:`PointField` (``gradient(points, weights)`` and
    ``risk(points, weights)``), e.g. :class:`fempde.problems.anisotropic.AnisotropicGaussians`;
    ``points0`` ``(M, D)`` and ``weights`` ``(M,)`` (a law, :func:`check_points`);
    ``schedule`` the step-size schedule ξ, or a :class:`fempde.meanfield.TimeAxis`
    (its schedule is taken: the SGD run compared with this flow shares it);
    ``method`` one of :data:`METHODS`."""
    if isinstance(schedule, TimeAxis):
        schedule = schedule.schedule
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a fempde.meanfield Schedule (Constant(), PowerLaw(), ...) or a TimeAxis, "
                        f"got {type(schedule).__name__} {schedule!r}")
    choice("method", method, METHODS)
    x0, w = check_points(points0, weights)
    if np.ndim(times) != 1:
        raise ValueError(f"times must be a sequence of output times (e.g. [0.0, {times!r}]), got {times!r}")
    t_out = np.asarray(times, dtype=np.float64)
    if t_out.size == 0 or not np.all(np.isfinite(t_out)) or t_out[0] < 0 or np.any(np.diff(t_out) <= 0):
        raise ValueError(f"times must be finite, increasing and >= 0, got {t_out.tolist()}")
    number("rtol", rtol, positive=True)
    number("atol", atol, positive=True)
    shape = x0.shape
    clock = np.array([schedule.integral(0.0, float(t)) for t in t_out])  # Ξ(t)

    def velocity(_: float, flat: Array) -> Array:
        return np.ravel(-DRIFT * field.gradient(flat.reshape(shape), w))

    if clock[-1] > 0:
        solution = solve_ivp(velocity, (0.0, float(clock[-1])), x0.ravel(), t_eval=clock, rtol=rtol, atol=atol,
                             method=method)
        if not solution.success:
            raise RuntimeError(f"point flow: the ODE solver failed ({solution.message})")
        path = solution.y.T.reshape(len(t_out), *shape)
    else:
        path = np.broadcast_to(x0, (len(t_out), *shape)).copy()
    if not np.all(np.isfinite(path)):
        raise RuntimeError("point flow: the points left every finite bound (a blow-up)")
    return PointFlow(t_out, path, w, np.array([field.risk(x, w) for x in path]))
