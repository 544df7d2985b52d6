"""What :func:`fempde.model.limit` returns: the risk curve, the law at the output
times, and the estimated error of the risk curve part by part.

Each discretisation of a limit has its own part (:data:`PARTS`): the time
stepping, the space (a mesh, or the radial flow's table), the data quadrature
(the rule of the data law, or the bound of a closed form's series) and the
initial quadrature (the rule that represents the initial law by weighted
points). A part's estimate is the change of the risk curve when that
discretisation alone is refined — the estimate of the coarser curve's error
that :func:`fempde.solve`'s refined-mesh estimate uses too: close for a second
order or spectral discretisation, about half the error for a first order one —
or a stated bound. The total is the sum of the parts.

The law is one of :class:`MeshLaw` (densities on a mesh, with its
:class:`~fempde.fem.space.Space`), :class:`PointLaw` (weighted points) and
:class:`KernelLaw` (the lazy limit: the units do not move, the outputs follow
the kernel flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...fem.space import Space

__all__ = ["DEFAULT_ACCURACY", "PARTS", "RISK_FLOOR", "ErrorPart", "KernelLaw", "Limit", "MeshLaw", "PointLaw",
           "risk_scale"]

Array = NDArray[np.float64]

PARTS = ("time", "space", "data quadrature", "initial quadrature")
"""The discretisation errors a limit reports, in this order."""

DEFAULT_ACCURACY = 1e-2
"""The relative accuracy a default :func:`fempde.model.limit` meets (its parts are refined until it holds)."""

RISK_FLOOR = 1e-4
"""A risk below this fraction of the curve's largest is held to that fraction, not to itself:
relative errors mean nothing where a risk decays to round-off."""


def risk_scale(risk: Array) -> Array:
    """What a risk error is relative to at each time: ``max(|R(t)|, RISK_FLOOR · max_t |R|)``."""
    values = np.abs(np.asarray(risk, dtype=np.float64))
    floor = RISK_FLOOR * float(values.max(initial=0.0))
    return np.maximum(values, max(floor, 1e-300))


@dataclass(frozen=True)
class ErrorPart:
    """The estimated error of the risk curve from one discretisation (module docstring).

    ``risk``: the estimated ``|error|`` of ``R(t)`` at each output time ``(T,)`` (NaN where
    not estimated); ``how``: how (one phrase); ``law``: the estimated error of the law at
    each output time where one was estimated (the L1 distance of two densities, or the
    largest change of a coordinate's mean relative to its root mean square), else None."""

    name: str
    risk: Array
    how: str
    law: Array | None = None

    @property
    def estimated(self) -> bool:
        return bool(np.all(np.isfinite(self.risk)))

    def relative(self, risk: Array) -> Array:
        """The estimate relative to :func:`risk_scale` of ``risk``."""
        return np.asarray(self.risk / risk_scale(risk))

    def describe(self, risk: Array) -> str:
        if not self.estimated:
            return f"{self.name}: not estimated ({self.how})"
        text = f"{self.name}: ±{float(np.max(self.risk)):.1e} (at most {float(np.max(self.relative(risk))):.1e} " \
               f"relative) — {self.how}"
        if self.law is not None and self.law.size:
            text += f"; law {float(np.max(self.law)):.1e}"
        return text


@dataclass(frozen=True)
class MeshLaw:
    """Densities ``rho`` ``(T, n)`` on the nodes of ``space`` at the output times; the
    coordinates are named ``coordinates``."""

    space: Space
    rho: Array
    coordinates: tuple[str, ...]

    def means(self) -> Array:
        """``∫θ ρ_t`` per coordinate, ``(T, D)``."""
        return np.asarray(np.einsum("tn,dn->td", self.rho * self.space.m[None, :], self.space.x))


@dataclass(frozen=True)
class PointLaw:
    """Weighted points: ``points`` ``(T, P, D)`` at the output times, ``weights`` ``(P,)``
    (fixed: the points carry their mass); the coordinates are named ``coordinates``."""

    points: Array
    weights: Array
    coordinates: tuple[str, ...]

    def means(self) -> Array:
        """``∫θ dρ_t`` per coordinate, ``(T, D)``."""
        return np.asarray(np.einsum("tpd,p->td", self.points, self.weights))

    def root_mean_squares(self) -> Array:
        """``(∫θ² dρ_t)^½`` per coordinate, ``(T, D)``: the scale a mean's error is measured against."""
        return np.asarray(np.sqrt(np.einsum("tpd,p->td", self.points**2, self.weights)))


@dataclass(frozen=True)
class KernelLaw:
    """The lazy limit: the units stay at their initial law (``points`` ``(P, D)``,
    ``weights`` ``(P,)``), the network's outputs on the training set are Gaussian with
    mean ``output_mean`` ``(T, n)`` and covariance ``output_covariance`` ``(T, n, n)``."""

    points: Array
    weights: Array
    output_mean: Array
    output_covariance: Array


@dataclass(frozen=True)
class Limit:
    """The mean-field limit of a model at the output times (module docstring).

    ``method``: the solver used (:data:`fempde.model.limits.METHODS`) and ``why`` it was
    chosen; ``risk`` ``(T,)`` at ``times``; ``law`` the law there; ``errors`` one
    :class:`ErrorPart` per discretisation; ``levels`` the discretisation of the computation
    returned (``"data"``, ``"initial"``, ``"rtol"``, ``"h"``, ...) and ``choices`` what the call
    chose and on what estimate; ``beside`` other curves worth plotting with it (the
    δ → 0 risk beside the RBF network's); ``solution`` the solver's own output
    (:class:`fempde.Result`, :class:`fempde.PointFlow`, ...)."""

    method: str
    why: str
    times: Array
    risk: Array
    law: MeshLaw | PointLaw | KernelLaw
    errors: tuple[ErrorPart, ...]
    accuracy: float
    levels: dict[str, Any] = field(default_factory=dict)
    choices: tuple[str, ...] = ()
    beside: dict[str, Array] = field(default_factory=dict)
    solution: Any = None

    @property
    def total(self) -> Array:
        """The estimated error of ``R(t)``: the sum of the estimated parts ``(T,)``."""
        parts = [part.risk for part in self.errors if part.estimated]
        return np.sum(parts, axis=0) if parts else np.zeros_like(self.risk)

    @property
    def relative_error(self) -> Array:
        """:attr:`total` relative to :func:`risk_scale` of the curve."""
        return np.asarray(self.total / risk_scale(self.risk))

    @property
    def complete(self) -> bool:
        """Whether every part was estimated."""
        return all(part.estimated for part in self.errors)

    @property
    def accurate(self) -> bool:
        """Whether every part was estimated and the total is within :attr:`accuracy` (relative) at every time."""
        return self.complete and bool(np.all(self.relative_error <= self.accuracy))

    def part(self, name: str) -> ErrorPart:
        """The part called ``name`` (one of :data:`PARTS`)."""
        for part in self.errors:
            if part.name == name:
                return part
        raise KeyError(f"no error part {name!r}; this limit has {', '.join(p.name for p in self.errors)}")

    def describe(self) -> str:
        """Lines: the method and why, what was chosen, one line per error part, the total."""
        lines = [f"{self.method}: {self.why}", *(f"  chose {c}" for c in self.choices)]
        lines += [f"  {part.describe(self.risk)}" for part in self.errors]
        verdict = ("within" if self.accurate else "NOT within") + f" the requested {self.accuracy:.0e}"
        if not self.complete:
            verdict += " (not every part was estimated)"
        lines.append(f"  total: ±{float(np.max(self.total, initial=0.0)):.1e} "
                     f"(at most {float(np.max(self.relative_error, initial=0.0)):.1e} relative): {verdict}")
        return "\n".join(lines)
