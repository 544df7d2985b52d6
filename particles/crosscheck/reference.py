"""The limit a cross-check compares with, solved to the accuracy its gaps need.

:class:`Reference` holds a :class:`fempde.model.Limit` with everything the
comparison reads from it, prepared once: the law's view (:mod:`.law`), the
comparator (:mod:`.gaps`), the limit's error of every quantity (:mod:`.errors`),
its risk without the label noise, and the finite-N bias of its law.

The accuracy: the SGD runs come first, and their spread over seeds at the
same ``(N, ε)`` is the size of the gaps to expect; :func:`first_accuracy`
asks the limit for a tenth of the smallest such spread (relative to the
largest risk; the time tolerance of a mesh solve in proportion, from
:data:`fempde.DEFAULT_RTOL` at :data:`fempde.model.limits.DEFAULT_ACCURACY`).
Once the gaps are measured, :func:`tighter` asks for a tenth of the smallest
sup risk gap while a quantity is not resolved and a finer computation can
resolve it — at most :data:`MAX_RESOLVES` times; the space part of a limit on
a fixed mesh cannot be lowered that way (a finer mesh is the user's to give).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.model import Limit, MeanFieldModel
from fempde.model.limits import DEFAULT_ACCURACY, choose_method
from fempde.model.risk import moments
from fempde.solvers import DEFAULT_RTOL

from .errors import LimitErrors, finer_limit, limit_errors, limit_noise, mesh_l1_error
from .gaps import Comparator
from .law import LawView
from .result import PDE_ERROR_FRACTION, CrossCheck
from .runs import RunResult

__all__ = ["ACCURACY_FLOOR", "MAX_RESOLVES", "MESH_METHODS", "Reference", "first_accuracy", "solve_reference",
           "space_bound", "tighter"]

Array = NDArray[np.float64]

MAX_RESOLVES = 2
"""The most times the limit is solved again, tighter, after the first solve."""

ACCURACY_FLOOR = 1e-7
"""The tightest relative accuracy the cross-check asks a limit for."""

MESH_METHODS = ("fem", "porous-medium")
"""Limits on a mesh, whose time tolerance follows the accuracy (their space part does not)."""


@dataclass
class Reference:
    """A limit prepared for the comparison (module docstring); ``accuracy``, ``rtol``: what it was
    asked for; ``solves``: what the limit phase did, one line each."""

    model: MeanFieldModel
    limit: Limit
    view: LawView
    comparator: Comparator
    errors: LimitErrors
    noise: float
    solves: tuple[str, ...]
    _moments: list[Any] | None = field(default=None, repr=False)

    @property
    def limit_risk(self) -> Array:
        """The limit's risk curve without the label noise's variance."""
        return np.asarray(self.limit.risk - self.noise)

    def bias(self, ns: list[int]) -> dict[int, Array]:
        """``E R_N − R(ρ_t)`` for N units drawn i.i.d. from the law at each output time (NaN for a
        reduced law or the lazy scaling: no law of θ to draw from)."""
        if self.view.reduced or self.model.scaling != "mean-field":
            return {n: np.full(len(self.limit.times), np.nan) for n in ns}
        if self._moments is None:
            self._moments = [moments(self.model, *self.view.weighted(k)) for k in range(len(self.limit.times))]
        return {n: np.array([m.expected_risk(n, 1.0).value - m.risk().value for m in self._moments]) for n in ns}


def solve_reference(model: MeanFieldModel, limit: Limit, solves: tuple[str, ...]) -> Reference:
    """``limit`` prepared for the comparison (one more limit, without estimates, from the refined initial
    rule where the law is weighted points: its change is the law's error)."""
    view = LawView(model, limit)
    comparator = Comparator(model, view)
    errors = limit_errors(model, view, comparator, finer_limit(model, limit))
    return Reference(model, limit, view, comparator, errors, limit_noise(model, limit), solves)


def _method(model: MeanFieldModel, method: str) -> str:
    return choose_method(model)[0] if method == "auto" else method


def _rtol(accuracy: float) -> float:
    return DEFAULT_RTOL * min(1.0, accuracy / DEFAULT_ACCURACY)


def first_accuracy(runs: list[RunResult], model: MeanFieldModel, method: str) -> tuple[float, float | None]:
    """The first ``(accuracy, rtol)`` to ask the limit for (module docstring); rtol None off a mesh."""
    spreads = []
    for group in {(r.key.n, r.key.epsilon) for r in runs}:
        risks = np.array([r.risk for r in runs if (r.key.n, r.key.epsilon) == group])
        if len(risks) >= 2:
            spreads.append(float(np.max(np.std(risks[:, 1:], axis=0, ddof=1))))
    scale = max(float(np.max(np.abs(r.risk))) for r in runs)
    accuracy = DEFAULT_ACCURACY
    if spreads and min(spreads) > 0 and scale > 0:
        accuracy = float(np.clip(PDE_ERROR_FRACTION * min(spreads) / scale, ACCURACY_FLOOR, DEFAULT_ACCURACY))
    return accuracy, (_rtol(accuracy) if _method(model, method) in MESH_METHODS else None)


def tighter(reference: Reference, check: CrossCheck, accuracy: float, rtol: float | None
            ) -> tuple[float, float | None] | None:
    """A tighter ``(accuracy, rtol)``, or None when the limit resolves every quantity, when no finer
    computation can help, or after :data:`MAX_RESOLVES` solves again (module docstring)."""
    if len(reference.solves) > MAX_RESOLVES or accuracy <= ACCURACY_FLOOR:
        return None
    open_ = [q for q in check.names if check.resolved(q) is False]
    if not any(_refinable(reference, q) for q in open_):
        return None
    scale = float(np.max(np.abs(reference.limit.risk)))
    target = PDE_ERROR_FRACTION * float(check.sup("risk").min()) / max(scale, 1e-300)
    finer = max(ACCURACY_FLOOR, min(accuracy / 10, target))
    return finer, (None if rtol is None else rtol / 10)


def space_bound(limit: Limit) -> bool:
    """Whether the space part of a limit on a mesh makes half of its risk error or more: a finer
    accuracy (data rule, time steps) cannot lower it."""
    space = next((p for p in limit.errors if p.name == "space" and p.estimated), None)
    return limit.method in MESH_METHODS and space is not None and bool(np.max(space.risk) >= 0.5 * np.max(limit.total))


def _refinable(reference: Reference, quantity: str) -> bool:
    """Whether a finer computation can lower the limit's error of ``quantity``: not when the space
    part of a mesh limit makes half of it."""
    limit = reference.limit
    space = next((p for p in limit.errors if p.name == "space" and p.estimated), None)
    if limit.method not in MESH_METHODS or space is None:
        return True
    if quantity == "risk":
        return not space_bound(limit)
    if space.law is None:
        return True
    return bool(np.max(space.law) < 0.5 * np.nanmax(mesh_l1_error(limit)))
