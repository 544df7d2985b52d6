"""Noiseless limits by characteristics: weighted points carried by ``−DRIFT ξ ∇Ψ_λ``.

* ``"points"``: the model's own field at weighted points
  (:meth:`~fempde.model.MeanFieldModel.gradient` on the data rule of a level;
  Chizat–Bach's units on their teacher by the exact field of
  :mod:`.homogeneous`), from the initial law's rule of a level
  (:meth:`~fempde.model.initial.InitialLaw.quadrature`), frozen coordinates
  held; 2-homogeneous units by rays.
* ``"reduced"``: Fig. 3's four variables ``(a, b, r1, r2)``
  (:class:`fempde.AnisotropicGaussians`) from a tensor rule of the initial
  marginals with a level of nodes per radius.
* ``"radial"`` without noise: the quantile flow of the law of ``r = ‖w‖``
  (:func:`fempde.quantile_flow`) from a level of quantiles, with a table of
  ``v`` and ``u_d`` of a level of nodes.

Every flow is :func:`fempde.point_flow` (or the quantile flow) under the ODE
tolerance ``rtol``; the time part of the error is the change of the risk curve
when ``rtol`` is loosened tenfold (an upper estimate: the ODE's error grows
about in proportion to its tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...meanfield import Schedule
from ...problems.anisotropic import REDUCED_VARIABLES, AnisotropicGaussians
from ...problems.anisotropic import InitialLaw as Fig3Start
from ...problems.radial import RadialDD
from ...solvers.characteristics import quantile_flow, quantiles_of
from ...solvers.point_flow import PointField, point_flow, tensor_rule
from ..data import FiniteData, TeacherData
from ..declaration import MeanFieldModel
from ..initial import Gaussian
from ..units import Homogeneous, Ridge
from .homogeneous import DEAD_ZONE, CircleField, expand, hold_at_zero, rays
from .refine import Trial
from .result import PointLaw

__all__ = ["POINTS_RTOL", "ModelField", "flow_field", "law_change", "point_trial", "quantile_trial",
           "reduced_trial", "reduced_start"]

Array = NDArray[np.float64]

POINTS_RTOL = 1e-8
"""The default ODE tolerance of the point flows (relative; absolute 1e-2 of it)."""


class ModelField:
    """A model's :class:`~fempde.solvers.point_flow.PointField` on the data rule of ``level``
    (prepared once); 2-homogeneous units wait at ``b = 0`` (:func:`.homogeneous.hold_at_zero`)."""

    def __init__(self, model: MeanFieldModel, level: int | None, dead_zone: float = DEAD_ZONE) -> None:
        self.model = model
        self.dead_zone = dead_zone
        self.rule = model.quadrature(level)
        self.homogeneous = isinstance(model.unit, Homogeneous)

    def gradient(self, points: Array, weights: Array) -> Array:
        grad = self.model.gradient(points, weights, rule=self.rule)
        if self.homogeneous:
            hold_at_zero(np.asarray(points), grad, self.dead_zone)
        return grad

    def risk(self, points: Array, weights: Array) -> float:
        return self.model.risk(points, weights, rule=self.rule)


def exact_data(model: MeanFieldModel) -> bool:
    """Whether the point flow of ``model`` needs no data rule: a training set (exact at every
    level) or Chizat–Bach's units on their teacher (:class:`.homogeneous.CircleField`)."""
    return isinstance(model.data, FiniteData) or (
        isinstance(model.unit, Homogeneous) and model.unit.input_dim == 2 and isinstance(model.data, TeacherData))


def flow_field(model: MeanFieldModel, level: int | None, dead_zone: float = DEAD_ZONE) -> PointField:
    """The field the ``"points"`` method carries the points by (module docstring); ``dead_zone``:
    the cone of :func:`.homogeneous.hold_at_zero`."""
    if isinstance(model.unit, Homogeneous) and model.unit.input_dim == 2 and isinstance(model.data, TeacherData):
        teacher = model.data.teacher
        return CircleField(teacher.output, teacher.directions, lam=model.lam, mask=model.mask,
                           dead_zone=dead_zone)
    return ModelField(model, level, dead_zone)


MEAN_FLOOR = 0.1
"""A mean is compared with itself, or with this fraction of its coordinate's root mean
square where it is smaller (a mean through 0)."""


def law_change(law: PointLaw) -> Any:
    """How two laws' means ``(T, D)`` are compared: the largest change of a coordinate's mean
    relative to ``max(|mean|, MEAN_FLOOR · rms)`` of ``law`` at each time."""
    scale = np.maximum(np.abs(law.means()), MEAN_FLOOR * law.root_mean_squares())

    def distance(means: Array, others: Array) -> Array:
        return np.asarray(np.max(np.abs(means - others) / np.maximum(scale, 1e-300), axis=1))

    return distance


def _trial(levels: dict[str, Any], times: Array, risk: Array, law: PointLaw, solution: Any) -> Trial:
    return Trial(levels, np.asarray(risk, dtype=np.float64), law, solution, law.means(), law_change(law))


def _smooth(model: MeanFieldModel) -> bool:
    """A smooth field (a high-order integrator pays): ridge units with a smooth activation."""
    return isinstance(model.unit, Ridge) and not hasattr(model.unit.sigma, "knots")


def point_trial(model: MeanFieldModel, times: Array, levels: dict[str, Any]) -> Trial:
    """The ``"points"`` flow at ``levels`` (``"data"``, ``"initial"``, ``"rtol"``; ``"dead_zone"``
    of 2-homogeneous units, default :data:`.homogeneous.DEAD_ZONE`)."""
    field = flow_field(model, levels["data"], levels.get("dead_zone", DEAD_ZONE))
    points, weights = model.initial.quadrature(levels["initial"])
    rtol = float(levels["rtol"])
    method = "DOP853" if _smooth(model) else "RK45"  # kinks make the field C¹ at best: a lower order pays
    if isinstance(model.unit, Homogeneous):
        starts, masses, ray, scale = rays(points, weights)
        flow = point_flow(field, starts, masses, times.tolist(), model.schedule, rtol=rtol, atol=1e-2 * rtol,
                          method=method)
        path = expand(flow.points, ray, scale)
    else:
        flow = point_flow(field, points, weights, times.tolist(), model.schedule, rtol=rtol, atol=1e-2 * rtol,
                          method=method)
        path = flow.points
    return _trial(levels, times, flow.risk, PointLaw(path, weights, model.unit.coordinates), flow)


def reduced_start(model: MeanFieldModel) -> Fig3Start:
    """Fig. 3's start ``(κ, a(0), b(0))`` read from the model's initial law (checked by the symmetry)."""
    assert isinstance(model.unit, Ridge) and isinstance(model.initial, Gaussian)
    d = model.unit.input_dim
    sd, mean = np.asarray(model.initial.sd), np.asarray(model.initial.mean)
    return Fig3Start(float(sd[0]) * math.sqrt(d), float(mean[d]), float(mean[d + 1]))


REDUCED_RULE = "quantiles"
"""Fig. 3's rule per radius: midpoint quantiles. After a plateau the flow map of the radii
is nearly discontinuous (units on either side of a separatrix leave it in opposite
directions), and Gauss–Hermite nodes then converge erratically in the means (mean a at
t = 100, Δ = 0.25, d = 320: 1.1285, 1.0957, 1.0925, 1.1029 at 12, 24, 48, 96 nodes);
equal-mass quantiles converge steadily (1.1050, 1.1030 at 32, 64)."""


def reduced_trial(model: MeanFieldModel, times: Array, levels: dict[str, Any]) -> Trial:
    """Fig. 3's four-variable flow at ``levels`` (``"initial"``: points per radius of the rule
    ``levels.get("rule", REDUCED_RULE)``, ``"rtol"``)."""
    problem = model.reduced()
    assert isinstance(problem, AnisotropicGaussians) and isinstance(problem.d, int | float)
    start = reduced_start(model)
    points, weights = tensor_rule(start.marginals(int(problem.d), int(problem.s0), nodes=int(levels["initial"]),
                                                  rule=levels.get("rule", REDUCED_RULE)))
    rtol = float(levels["rtol"])
    flow = point_flow(problem, points, weights, times.tolist(), model.schedule, rtol=rtol, atol=1e-2 * rtol)
    return _trial(levels, times, flow.risk, PointLaw(flow.points, flow.weights, REDUCED_VARIABLES), flow)


def series_change(model: MeanFieldModel, law: PointLaw) -> Array:
    """``|R_k − R_{k+2}|`` at the laws ``(T,)``: the next two orders of Fig. 3's kernel series."""
    problem = model.reduced()
    finer = AnisotropicGaussians(problem.delta, problem.d, problem.s0, order=problem.series_order + 2)
    return np.array([abs(problem.risk(x, law.weights) - finer.risk(x, law.weights)) for x in law.points])


def radial_start(model: MeanFieldModel) -> Any:
    """The law of ``r = ‖w‖`` at the start, ``w ~ N(0, s² I_d)``: ``s χ_d`` (scipy)."""
    from scipy.stats import chi

    assert isinstance(model.unit, Ridge) and isinstance(model.initial, Gaussian)
    return chi(model.unit.input_dim, scale=float(np.asarray(model.initial.sd)[0]))


def quantile_trial(model: MeanFieldModel, times: Array, levels: dict[str, Any]) -> Trial:
    """The radial quantile flow at ``levels`` (``"initial"``: quantiles, ``"table"``: nodes of the
    table of ``v`` and ``u_d``, ``"r_max"``, ``"rtol"``)."""
    problem = RadialDD(model.reduced(), model.lam, model.beta, model.schedule)
    r0 = quantiles_of(radial_start(model).ppf, int(levels["initial"]))
    flow = quantile_flow(problem, r0, times.tolist(), r_max=float(levels["r_max"]), table=int(levels["table"]),
                         rtol=float(levels["rtol"]))
    m = flow.positions.shape[1]
    law = PointLaw(flow.positions[:, :, None], np.full(m, 1.0 / m), ("r",))
    return _trial(levels, times, flow.risk, law, flow)


def output_times(times: Sequence[float] | Array) -> Array:
    """``times`` checked: finite, increasing, ``>= 0``, at least one."""
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or t[0] < 0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must be a non-empty sequence of finite, increasing output times >= 0, got {times!r}")
    return t


def clock(schedule: Schedule, times: Array) -> Array:
    """``Ξ(t) = ∫_0^t ξ`` at ``times``."""
    return np.array([schedule.integral(0.0, float(t)) for t in times])
