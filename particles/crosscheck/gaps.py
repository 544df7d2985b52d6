"""The gaps between a particle run and the limit at the output times, and the
limit's own error of each.

Every quantity the cross-check reports is a :class:`Quantity`; at each output
time ``t`` a run has a gap in each, and the limit has an estimated error in
each (what the gap would move by if the limit were exact):

* ``risk`` — ``|R_N(θ_t) − R(ρ_t)|``, both without the label noise's variance:
  the population risk of the N units (:func:`fempde.model.population_risk`,
  exact or with its quadrature's stated error) against the limit's risk curve.
  Its error: the limit's estimated error (every part) plus the particle risk's
  own quadrature error.
* ``w1`` / ``w2`` — the Wasserstein distance between the particles and the
  limit's law in the law's variables (W1 in one variable, W2 by POT beyond);
  Fig. 3's reduction gives ``w1_a``, ``w1_b``, ``w1_r1``, ``w1_r2``, one per
  marginal (radii in absolute value).
* ``density_l1`` — on a mesh: the L1 distance between the particles deposited on
  the P1 space and ρ_t.
* ``output_l2`` — where the data law has a low-dimensional rule (input
  dimension at most 3, or a training set) and the law is not reduced:
  ``‖ŷ_N − ŷ_ρ‖`` in L2 of the data law, ``ŷ_ρ(x) = ∫σ*(x; θ)ρ_t(dθ)`` (the
  lazy limit: the mean of its outputs).

The limit's error of a quantity other than the risk (:mod:`.errors`) comes from
the estimated error of its law: on a mesh the L1 error of ρ bounds each
(the deposit gap by the triangle inequality, W1 by ``R·L1``, W2 by
``R·sqrt(2 L1)`` — ``R`` the mesh's radius about its centre, Villani's
Theorem 6.15 — and the output by ``max_θ ‖σ*(·; θ)‖·L1``, Minkowski's
inequality); for weighted points, the same quantity between the law and the
law from the refined initial rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.fem.convolution import kernel_matrix
from fempde.model import Bump, FiniteData, MeanFieldModel
from fempde.model.limits import KernelLaw
from fempde.problems.distributional import DataLaw

from ..measures import cloud_distance, distance_name, l1_gap
from ..reduced import marginal_w1
from .law import LawView

__all__ = ["FEATURE_BLOCK", "Comparator", "Quantity", "prediction"]

Array = NDArray[np.float64]

FEATURE_BLOCK = 4_000_000
"""Unit responses held at once when a prediction is formed (``M × units`` floats)."""


@dataclass(frozen=True)
class Quantity:
    """A gap the cross-check reports: its column ``name``, what it is (``label``)."""

    name: str
    label: str


def prediction(model: MeanFieldModel, rule: DataLaw, theta: Array, weights: Array) -> Array:
    """``Σ_i v_i σ*(x_m; θ_i)`` at the rule's points: bumps through their sparse responses
    (the pairs closer than δ), other units a block of at most :data:`FEATURE_BLOCK` responses
    at a time."""
    unit = model.unit
    if isinstance(unit, Bump):
        return np.asarray(kernel_matrix(unit.bump, rule.points, np.asarray(theta)) @ weights)
    out = np.zeros(len(rule.weights))
    step = max(1, FEATURE_BLOCK // max(len(rule.weights), 1))
    for start in range(0, len(theta), step):
        out += np.asarray(unit(rule.points, theta[start:start + step])) @ weights[start:start + step]
    return out


def unit_norms(model: MeanFieldModel, rule: DataLaw, theta: Array) -> Array:
    """``‖σ*(·; θ_i)‖`` in L2 of the rule, ``(P,)``."""
    unit = model.unit
    if isinstance(unit, Bump):
        matrix = kernel_matrix(unit.bump, rule.points, np.asarray(theta))
        return np.sqrt(np.asarray(matrix.multiply(matrix).T @ rule.weights))
    out = np.empty(len(theta))
    step = max(1, FEATURE_BLOCK // max(len(rule.weights), 1))
    for start in range(0, len(theta), step):
        out[start:start + step] = np.sqrt(rule.weights @ np.asarray(unit(rule.points, theta[start:start + step]))**2)
    return out


def has_output(model: MeanFieldModel, view: LawView) -> bool:
    """Whether the output gap is measured (module docstring)."""
    return not view.reduced and (isinstance(model.data, FiniteData) or model.data.input_dim <= 3)


class Comparator:
    """The gaps of particle runs against one limit (module docstring): prepared once, used
    for every run."""

    def __init__(self, model: MeanFieldModel, view: LawView) -> None:
        self.model, self.view = model, view
        self.output = has_output(model, view)
        self.rule = model.quadrature() if self.output else None
        self.limit_outputs = [self._limit_output(k) for k in range(len(view.limit.times))] if self.output else []
        quantities = [Quantity("risk", "|R_N − R(ρ_t)|, label noise left out")]
        if view.limit.method == "reduced":
            quantities += [Quantity(f"w1_{v}", f"W1 of the marginal of {v}") for v in view.variables]
        else:
            name = distance_name(view.dim)
            quantities.append(Quantity(name, f"{name.upper()} between the particles and the law of "
                                             f"({', '.join(view.variables)})"))
        if view.space is not None:
            quantities.append(Quantity("density_l1", "L1 on the mesh of the deposited particles against ρ_t"))
        if self.output:
            quantities.append(Quantity("output_l2", "‖ŷ_N − ŷ_ρ‖ in L2 of the data law"))
        self.quantities = tuple(quantities)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.quantities)

    def _limit_output(self, k: int) -> Array:
        law = self.view.limit.law
        if isinstance(law, KernelLaw):
            return np.asarray(law.output_mean[k])
        assert self.rule is not None
        points, weights = self.view.weighted(k)
        return prediction(self.model, self.rule, points, weights)

    def measure(self, theta: Array) -> dict[str, Array]:
        """Every gap but the risk at every output time, from the run's units ``theta`` ``(T, N, D)``."""
        out: dict[str, list[float]] = {q.name: [] for q in self.quantities if q.name != "risk"}
        for k, units in enumerate(theta):
            cloud = self.view.reduce(units)
            points, weights = self.view.weighted(k)
            if self.view.limit.method == "reduced":
                for name, value in zip(self.view.variables, marginal_w1(cloud, points, weights), strict=True):
                    out[f"w1_{name}"].append(float(value))
            else:
                out[distance_name(self.view.dim)].append(cloud_distance(cloud, points, weights))
            if self.view.space is not None:
                out["density_l1"].append(l1_gap(self.view.space, cloud, self.view.density(k)))
            if self.output:
                out["output_l2"].append(self._output_gap(units, k))
        return {name: np.asarray(values) for name, values in out.items()}

    def measure_run(self, run: Any) -> dict[str, Array]:
        """:meth:`measure` of a :class:`~particles.crosscheck.runs.RunResult` (a task of the comparison)."""
        return self.measure(run.theta)

    def _output_gap(self, units: Array, k: int) -> float:
        assert self.rule is not None
        n = len(units)
        mine = prediction(self.model, self.rule, units, np.full(n, self.model.output_scale(n) / n))
        return float(np.sqrt(self.rule.weights @ (mine - self.limit_outputs[k]) ** 2))
