"""Activations and units of the two-layer networks of Mei–Montanari–Nguyen (2018).

Every activation here is continuous and piecewise linear, written as a sum of
hinges

    σ(t) = c0 + c1 t + Σ_k a_k (t − t_k)_+,

which covers the paper's σ (constant, linear, constant), the non-monotone σ of
its Fig. 4 and the ReLU. Gaussian expectations are then closed forms:
``E (m + sG − t_k)_+ = (m − t_k) Φ((m − t_k)/s) + s φ((m − t_k)/s)``.

Units (``σ*(x; θ)`` for :class:`fempde.DistributionalDynamics`):
:func:`ridge_unit` ``σ(⟨w, x⟩)`` with ``θ = w``, and :func:`relu_unit`
``a · ReLU(⟨w, x⟩ + b)`` with ``θ = (w, a, b)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr, roots_jacobi, roots_legendre

__all__ = ["ACTIVATIONS", "Hinges", "activation", "cosine_rule", "direction_moments", "gaussian_nodes",
           "hermite_functions", "hinge_evaluate", "hinge_parameters", "normal_pdf", "relu_unit", "ridge_unit"]

Array = NDArray[np.float64]


def normal_pdf(x: Array) -> Array:
    """The standard normal density ``φ(x)``."""
    return np.asarray(np.exp(-0.5 * np.square(x)) / math.sqrt(2 * math.pi))


def hermite_functions(x: Array) -> Iterator[Array]:
    """``ψ_m(x) = He_m(x) φ(x) / √m!`` for ``m = 0, 1, 2, …`` (He: probabilists' Hermite
    polynomials), by the stable normalised recurrence
    ``ψ_{m+1} = (x ψ_m − √m ψ_{m−1}) / √(m + 1)``."""
    x = np.asarray(x, dtype=np.float64)
    previous, current = np.zeros_like(x), normal_pdf(x)
    m = 0
    while True:
        yield current
        previous, current = current, (x * current - math.sqrt(m) * previous) / math.sqrt(m + 1)
        m += 1


def direction_moments(n: float, jmax: int) -> Array:
    """``E c^{2j}``, ``j <= jmax``, for the cosine ``c`` between two independent uniform
    directions in ``R^n``: ``Π_{i<j} (2i + 1)/(n + 2i)`` (odd moments vanish; ``n = ∞``:
    1, 0, 0, ...; ``n = 0``, no directions: the same)."""
    out = np.zeros(jmax + 1)
    out[0] = 1.0
    if math.isinf(n) or n == 0:
        return out
    for j in range(1, jmax + 1):
        out[j] = out[j - 1] * (2 * j - 1) / (n + 2 * j - 2)
    return out


def cosine_rule(n: float, angles: int) -> tuple[Array, Array]:
    """Nodes and weights (summing to 1) for ``E g(c)``, ``c`` the cosine between two
    independent uniform directions in ``R^n``, of density ``∝ (1 − c²)^{(n−3)/2}``:
    Gauss–Jacobi with ``angles`` nodes; ``n = 1``: ``c = ±1``; ``n = ∞`` or 0: ``c = 0``."""
    if math.isinf(n) or n == 0:
        return np.zeros(1), np.ones(1)
    if n == 1:
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    alpha = (n - 3) / 2
    c, w = roots_jacobi(angles, alpha, alpha)
    return np.asarray(c, dtype=np.float64), np.asarray(w / w.sum(), dtype=np.float64)


@numba.njit(cache=True, inline="always")
def hinge_evaluate(z: float, params: Array) -> tuple[float, float]:  # pragma: no cover - compiled
    """``(σ(z), σ'(z))`` of the hinge sum whose :func:`hinge_parameters` are ``params``:
    ``[c0, c1, t_1, a_1, t_2, a_2, ...]`` (right derivative at a knot). The SGD
    engine's compiled loops call it (:mod:`fempde.model.activations`)."""
    value, slope = params[0] + params[1] * z, params[1]
    for q in range(2, params.shape[0], 2):
        h = z - params[q]
        if h > 0.0:
            value += params[q + 1] * h
            slope += params[q + 1]
    return value, slope


def hinge_parameters(sigma: Hinges) -> Array:
    """The ``params`` of :func:`hinge_evaluate` for ``sigma``."""
    pairs = [v for pair in zip(sigma.knots, sigma.jumps, strict=True) for v in pair]
    return np.array([sigma.offset, sigma.slope, *pairs], dtype=np.float64)


@dataclass(frozen=True)
class Hinges:
    """``σ(t) = offset + slope · t + Σ_k jumps[k] (t − knots[k])_+`` (module docstring)."""

    knots: tuple[float, ...]
    jumps: tuple[float, ...]
    offset: float = 0.0
    slope: float = 0.0

    def __post_init__(self) -> None:
        if len(self.knots) != len(self.jumps):
            raise ValueError(f"one slope change per knot: {len(self.knots)} knots, {len(self.jumps)} jumps")
        values = (*self.knots, *self.jumps, self.offset, self.slope)
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            raise ValueError(f"knots, jumps, offset and slope must be finite numbers, got {values}")
        if list(self.knots) != sorted(set(self.knots)):
            raise ValueError(f"knots must be strictly increasing, got {self.knots}")

    @classmethod
    def through(cls, points: Sequence[tuple[float, float]]) -> Hinges:
        """The σ through ``points`` ``(t_k, σ(t_k))``, constant before the first and after the last."""
        t, s = (np.array(v, dtype=float) for v in zip(*points, strict=True))
        if len(t) < 2 or np.any(np.diff(t) <= 0):
            raise ValueError(f"need at least two points with increasing t, got {points}")
        slopes = np.concatenate([[0.0], np.diff(s) / np.diff(t), [0.0]])
        return cls(tuple(t.tolist()), tuple(np.diff(slopes).tolist()), offset=float(s[0]))

    def __call__(self, t: Array) -> Array:
        t = np.asarray(t, dtype=float)
        out = self.offset + self.slope * t
        for knot, jump in zip(self.knots, self.jumps, strict=True):
            out = out + jump * np.maximum(t - knot, 0.0)
        return out

    def derivative(self, t: Array) -> Array:
        """``σ'(t)`` (right derivative at the knots)."""
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, self.slope)
        for knot, jump in zip(self.knots, self.jumps, strict=True):
            out = out + jump * (t >= knot)
        return out

    @property
    def bounded(self) -> bool:
        return self.slope == 0 and abs(sum(self.jumps)) < 1e-12

    def limits(self) -> tuple[float, float]:
        """``σ(−∞)`` and ``σ(+∞)`` (bounded activations only)."""
        if not self.bounded:
            raise ValueError("this activation is unbounded")
        return self.offset, float(self(np.array(self.knots[-1])))

    def gaussian_mean(self, mean: Array, sd: Array) -> Array:
        """``E σ(mean + sd · G)``, ``G ~ N(0, 1)``, in closed form (``sd >= 0``)."""
        mean, sd = np.broadcast_arrays(np.asarray(mean, dtype=float), np.asarray(sd, dtype=float))
        out = self.offset + self.slope * mean
        safe = np.where(sd > 0, sd, 1.0)
        for knot, jump in zip(self.knots, self.jumps, strict=True):
            gap = mean - knot
            z = gap / safe
            hinge = np.where(sd > 0, gap * ndtr(z) + safe * normal_pdf(z), np.maximum(gap, 0.0))
            out = out + jump * hinge
        return np.asarray(out)

    @property
    def compiled(self) -> tuple[Callable[..., tuple[float, float]], Array]:
        """The SGD engine's form of σ: :func:`hinge_evaluate` and its parameters."""
        return hinge_evaluate, hinge_parameters(self)

    @property
    def kinks(self) -> tuple[float, ...]:
        return self.knots

    @property
    def name(self) -> str:
        """Its name in :data:`ACTIVATIONS`, or how many knots it has."""
        for name, known in ACTIVATIONS.items():
            if known == self:
                return name
        return f"hinges({len(self.knots)} knots)"

    def Q(self, s: Array) -> Array:  # noqa: N802 - the paper's name
        """``Q(s) = E σ(s G)``."""
        s = np.asarray(s, dtype=float)
        return self.gaussian_mean(np.zeros_like(s), np.abs(s))


ACTIVATIONS: dict[str, Hinges] = {
    "piecewise-linear": Hinges.through([(0.5, -2.5), (1.5, 7.5)]),
    "nonmonotone": Hinges.through([(0.0, -2.5), (0.5, -4.0), (1.5, 7.5)]),
    "relu": Hinges((0.0,), (1.0,)),
}
"""Seed 002's σ (t1 = 0.5, t2 = 1.5, s1 = −2.5, s2 = 7.5), its non-monotone σ
of Fig. 4, and the ReLU."""


def activation(sigma: str | Hinges) -> Hinges:
    """An activation by name (``ACTIVATIONS``) or as given."""
    if isinstance(sigma, Hinges):
        return sigma
    if isinstance(sigma, str) and sigma in ACTIVATIONS:
        return ACTIVATIONS[sigma]
    raise ValueError(f"unknown activation {sigma!r}; known: {', '.join(sorted(ACTIVATIONS))}, "
                     f"or fempde.Hinges(...) / fempde.Hinges.through(points)")


def gaussian_nodes(sigma: Hinges, a: float, nodes: int, shift: float = 0.0) -> tuple[Array, Array]:
    """Nodes and weights for ``E g(Z)``, ``Z ~ N(0, 1)``, when ``g`` contains
    ``σ(shift + a Z)``: Gauss–Legendre on ``[−8, 8]`` split where σ kinks,
    ``Z = (t_k − shift)/a`` (exact to round-off for the piecewise-polynomial parts)."""
    x, w = roots_legendre(nodes)
    cuts = {(t - shift) / a for t in sigma.knots if a > 0 and abs((t - shift) / a) < 8}
    kinks = sorted({-8.0, 8.0, *cuts})
    pieces = list(zip(kinks[:-1], kinks[1:], strict=True))
    z = np.concatenate([0.5 * (hi - lo) * x + 0.5 * (hi + lo) for lo, hi in pieces])
    weights = np.concatenate([0.5 * (hi - lo) * w for lo, hi in pieces]) * normal_pdf(z)
    return z, weights


def ridge_unit(sigma: str | Hinges) -> Callable[[Array, Array], Array]:
    """``σ*(x; w) = σ(⟨w, x⟩)``: data ``(M, d)``, parameters ``(n, d)`` to ``(M, n)``."""
    act = activation(sigma)
    return lambda x, theta: act(x @ theta.T)


def relu_unit() -> Callable[[Array, Array], Array]:
    """``σ*(x; θ) = a · ReLU(⟨w, x⟩ + b)``, ``θ = (w, a, b)`` (the last two coordinates)."""

    def unit(x: Array, theta: Array) -> Array:
        w, a, b = theta[:, :-2], theta[:, -2], theta[:, -1]
        return a[None, :] * np.maximum(x @ w.T + b[None, :], 0.0)

    return unit
