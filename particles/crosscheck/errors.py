"""The limit's own error of every quantity the cross-check reports (:mod:`.gaps`).

* the risk: the limit's estimated error of ``R(t)``, every part summed
  (:attr:`fempde.model.Limit.total`);
* on a mesh, from the estimated L1 error of ρ_t — the parts that carry a law
  estimate (the refined mesh, the refined data rule) plus the time stepping's
  own L1 estimate (``time_error`` in the solve's history) — turned into a bound
  for each quantity (:mod:`.gaps`);
* for weighted points (and the lazy limit's outputs): the same quantity between
  the law and the law from the refined initial rule (``finer``, one more limit
  computed without estimates), the change the refinement makes.

A quantity whose error cannot be estimated gets NaN and says so
(:attr:`LimitErrors.how`); it is reported as not checked, never as resolved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fempde.model import Limit, MeanFieldModel
from fempde.model.limits import KernelLaw, PointLaw
from fempde.model.limits.mesh import risk_at

from ..measures import distance_name, transport
from .gaps import Comparator, prediction, unit_norms
from .law import LawView

__all__ = ["LimitErrors", "finer_limit", "limit_errors", "limit_noise", "mesh_l1_error"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class LimitErrors:
    """The limit's estimated error of each quantity at the output times ``(T,)`` (NaN: not
    estimated), and how each was estimated."""

    values: dict[str, Array]
    how: dict[str, str] = field(default_factory=dict)


def limit_noise(model: MeanFieldModel, limit: Limit) -> float:
    """The label-noise variance inside the limit's risk curve: the limits that integrate the
    data rule include it (its ``E y²``), the porous-medium PDE and the closed forms of the
    symmetry reductions do not."""
    if model.is_rbf or limit.method in ("radial", "reduced"):
        return 0.0
    return float(getattr(model.data, "label_noise", 0.0)) ** 2


def mesh_l1_error(limit: Limit) -> Array:
    """The estimated L1 error of a mesh law at the output times: the parts' law estimates plus
    the solve's own time-error estimate; NaN where no part estimates the law."""
    parts = [part.law for part in limit.errors if part.law is not None and part.law.size]
    solution = limit.solution
    if solution is not None and hasattr(solution, "history") and "time_error" in solution.history:
        parts.append(risk_at(solution, limit.times, "time_error"))
    if not parts:
        return np.full(len(limit.times), np.nan)
    return np.asarray(np.sum(parts, axis=0), dtype=np.float64)


def finer_limit(model: MeanFieldModel, limit: Limit) -> Limit | None:
    """The limit again from the refined initial rule, without estimates (None for a mesh law,
    whose law's error the limit estimates itself)."""
    from fempde.model import limit as solve_limit

    if not isinstance(limit.law, PointLaw | KernelLaw):
        return None
    levels = limit.levels
    level = levels.get("initial")
    if level is None:
        return None
    finer = 2 * int(level) if limit.method in ("radial", "reduced") else model.initial.refined(int(level))
    options = {"r_max": levels["r_max"]} if "r_max" in levels else {}
    return solve_limit(model, limit.times, method=limit.method, estimate=False, initial_level=finer,
                       data_level=levels.get("data"), rtol=levels.get("rtol"), **options)


def limit_errors(model: MeanFieldModel, view: LawView, comparator: Comparator, finer: Limit | None) -> LimitErrors:
    """The limit's error of each of ``comparator``'s quantities (module docstring)."""
    limit = view.limit
    if limit.complete:
        values = {"risk": np.asarray(limit.total, dtype=np.float64)}
        how = {"risk": "the limit's estimated error of R(t), every part summed"}
    else:  # a sum of some parts is no estimate of the whole: say so rather than under-flag
        missing = ", ".join(p.name for p in limit.errors if not p.estimated)
        values = {"risk": np.full(len(limit.times), np.nan)}
        how = {"risk": f"not estimated: the limit did not estimate its {missing} error"}
    names = [name for name in comparator.names if name != "risk"]
    if view.space is not None:
        values.update(_mesh_bounds(model, view, comparator, names))
        how.update({name: "bound from the estimated L1 error of ρ_t" for name in names})
    elif finer is not None:
        values.update(_refinement(model, view, comparator, finer, names))
        how.update({name: f"the change from the refined initial rule ({finer.levels.get('initial')})"
                    for name in names})
    else:
        values.update({name: np.full(len(limit.times), np.nan) for name in names})
        how.update({name: "not estimated" for name in names})
    return LimitErrors(values, how)


def _mesh_bounds(model: MeanFieldModel, view: LawView, comparator: Comparator, names: list[str]) -> dict[str, Array]:
    l1 = mesh_l1_error(view.limit)
    out: dict[str, Array] = {}
    for name in names:
        if name == "density_l1":
            out[name] = l1
        elif name == "w1":
            out[name] = view.radius * l1
        elif name == "w2":
            out[name] = view.radius * np.sqrt(2 * l1)
        elif name == "output_l2":
            assert view.space is not None and comparator.rule is not None
            largest = float(np.max(unit_norms(model, comparator.rule, view.space.x.T)))
            out[name] = model.output_scale(1) * largest * l1
    return out


def _refinement(model: MeanFieldModel, view: LawView, comparator: Comparator, finer: Limit,
                names: list[str]) -> dict[str, Array]:
    other = LawView(model, finer)
    out: dict[str, list[float]] = {name: [] for name in names}
    for k in range(len(view.limit.times)):
        points, weights = view.weighted(k)
        fine_points, fine_weights = other.weighted(k)
        for name in names:
            if name.startswith("w1_"):
                c = view.variables.index(name[3:])
                u, v = (np.abs(points[:, c]), np.abs(fine_points[:, c])) if c >= 2 else \
                    (points[:, c], fine_points[:, c])
                out[name].append(transport(u[:, None], weights, v[:, None], fine_weights))
            elif name == distance_name(view.dim):
                out[name].append(transport(points, weights, fine_points, fine_weights))
            elif name == "output_l2":
                out[name].append(_output_change(model, comparator, finer, k, fine_points, fine_weights))
            else:
                out[name].append(math.nan)
    return {name: np.asarray(values) for name, values in out.items()}


def _output_change(model: MeanFieldModel, comparator: Comparator, finer: Limit, k: int, points: Array,
                   weights: Array) -> float:
    assert comparator.rule is not None
    if isinstance(finer.law, KernelLaw):
        other = np.asarray(finer.law.output_mean[k])
    else:
        other = prediction(model, comparator.rule, points, weights)
    return float(np.sqrt(comparator.rule.weights @ (comparator.limit_outputs[k] - other) ** 2))
