"""``E[σ(z_1) σ(z_2)]`` of a hinge σ for two nearly aligned Gaussian
pre-activations, exactly to round-off, at O(K·n) a pair (``K`` knots, ``n``
nodes per window): the pairs Mehler's series (:mod:`.hermite`) cannot finish.

Write ``z_1 = m_1 + s_1 X`` and ``z_2 = m_2 + s_2 (c X + √(1 − c²) G)`` with
``X``, ``G`` independent standard normals. Given ``X``, ``z_2`` is normal with
mean ``μ(X) = m_2 + s_2 c X`` and standard deviation ``s' = s_2 √(1 − c²)``, so
for ``σ(t) = c_0 + c_1 t + Σ_k b_k (t − t_k)_+``

    E[σ(z_1) σ(z_2)] = c_0 E σ(z_1) + c_1 E[σ(z_1) μ(X)] + Σ_k b_k E[σ(z_1) s' h((μ(X) − t_k)/s')],

with ``h(y) = y Φ(y) + φ(y)`` (the Gaussian mean of a hinge). Where
``|y| > WINDOW`` the term ``s' h(y)`` is ``μ(X) − t_k`` or 0 to below 1e-20,
and there ``σ(z_1)`` is piecewise linear in ``X``: the integral over that side
is a closed form in ``Φ`` and ``φ`` (prefix sums over the pieces of ``σ(z_1)``,
:func:`_tail`). Only the window ``|y| <= WINDOW`` needs a rule: Gauss–Legendre
of :data:`NODES` nodes on sub-intervals split at the kinks of ``σ(z_1)`` and no
longer than ``STEP`` in the scale of ``y`` and of ``X`` (the integrand is an
entire function on each). As ``c → ±1`` the windows shrink to points (at
``c = ±1`` the formula is the closed form of a product of two hinge sums).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray
from scipy.special import roots_legendre

from .hermite import INFINITY, hinge_pieces, normal_density, piece_moments, threads

__all__ = ["BREAKS", "NODES", "STEP", "hinge_pair_moments"]

Array = NDArray[np.float64]

BREAKS = np.array([0.0, 1.0, 2.5, 4.5, 7.0, 9.0])
"""The window on each side of a knot, ``0 <= |y| <= 9``, in pieces (beyond 9, ``κ < 1e-20``)."""

REACH = 10.0
"""The window integrals stop at ``|X| = REACH`` (``φ(10) < 1e-22``)."""

STEP = 1.5
"""Longest sub-interval in ``X``."""

NODES = 10
"""Gauss–Legendre nodes per sub-interval."""

_SQRT2 = math.sqrt(2.0)


@numba.njit(cache=True)
def _kappa(u: float) -> float:  # pragma: no cover - compiled
    """``κ(u) = h(u) − u_+ = φ(u) − u Φ̄(u)`` for ``u >= 0`` (even in ``y``: ``h(−u) = κ(u)``)."""
    return normal_density(u) - u * 0.5 * math.erfc(u / _SQRT2)


@numba.njit(cache=True)
def _piece(bounds: Array, x: float) -> int:  # pragma: no cover - compiled
    q = np.searchsorted(bounds, x, side="right") - 1
    return int(min(max(q, 0), bounds.shape[0] - 2))


@numba.njit(cache=True)
def _tail(x: float, bounds: Array, p: Array, r: Array, c0: Array, c1: Array) -> tuple[float, float]:
    # pragma: no cover - compiled
    """``∫_x^∞ σ φ`` and ``∫_x^∞ X σ φ`` for ``σ = p_q + r_q X`` on the pieces ``bounds``,
    from the sums ``c0[q]``, ``c1[q]`` over the pieces from ``q`` on."""
    x = min(max(x, -INFINITY), INFINITY)
    q = _piece(bounds, x)
    mass, first, second = piece_moments(x, bounds[q + 1])
    return p[q] * mass + r[q] * first + c0[q + 1], p[q] * first + r[q] * second + c1[q + 1]


@numba.njit(cache=True)
def _general(lo: float, hi: float, centre: float, width: float, bounds: Array, p: Array, r: Array,
             nodes: Array, weights: Array) -> float:  # pragma: no cover - compiled
    """``∫_lo^hi σ(X) κ(|X − centre|/width) φ(X) dX`` split at the kinks in ``bounds`` and into
    sub-intervals no longer than :data:`STEP`."""
    total = 0.0
    q = _piece(bounds, lo)
    left = lo
    while left < hi:
        right = min(hi, bounds[q + 1])
        count = max(1, int(math.ceil((right - left) / STEP)))
        size = (right - left) / count
        for k in range(count):
            a = left + k * size
            for n in range(nodes.shape[0]):
                x = a + 0.5 * size * (nodes[n] + 1.0)
                total += 0.5 * size * weights[n] * (p[q] + r[q] * x) * _kappa(abs(x - centre) / width) \
                    * normal_density(x)
        left = right
        q += 1
    return total


@numba.njit(cache=True)
def _window(centre: float, width: float, bounds: Array, p: Array, r: Array, nodes: Array, weights: Array,
            unodes: Array, uweights: Array, kappa: Array) -> float:  # pragma: no cover - compiled
    """``∫ σ(X) κ(|X − centre|/width) φ(X) dX`` over ``|X − centre| <= 9 width``: on a piece of
    :data:`BREAKS` with no kink of ``σ`` inside, no longer than :data:`STEP` and within
    :data:`REACH`, the fixed nodes ``unodes`` (κ tabulated there); elsewhere :func:`_general`."""
    total = 0.0
    for side in (-1.0, 1.0):
        for b in range(BREAKS.shape[0] - 1):
            x0, x1 = centre + side * width * BREAKS[b], centre + side * width * BREAKS[b + 1]
            lo, hi = min(x0, x1), max(x0, x1)
            if hi <= -REACH or lo >= REACH:
                continue
            q = _piece(bounds, lo)
            if lo >= -REACH and hi <= REACH and hi <= bounds[q + 1] and hi - lo <= STEP:
                part = 0.0
                for n in range(unodes.shape[1]):
                    x = centre + side * width * unodes[b, n]
                    part += uweights[b, n] * (p[q] + r[q] * x) * kappa[b, n] * normal_density(x)
                total += width * part
            else:
                total += _general(max(lo, -REACH), min(hi, REACH), centre, width, bounds, p, r, nodes, weights)
    return total


@numba.njit(cache=True)
def pair_moment(m1: float, s1: float, m2: float, s2: float, c: float, knots: Array, jumps: Array, offset: float,
                slope: float, nodes: Array, weights: Array, unodes: Array, uweights: Array,
                kappa: Array) -> float:  # pragma: no cover - compiled
    """``E[σ(m1 + s1 X) σ(m2 + s2 Y)]``, ``corr(X, Y) = c != 0``, ``s1, s2 > 0`` (module docstring)."""
    k_count = knots.shape[0]
    bounds, p, r = np.empty(k_count + 2), np.empty(k_count + 1), np.empty(k_count + 1)
    hinge_pieces(m1, s1, knots, jumps, offset, slope, bounds, p, r)
    c0, c1 = np.zeros(k_count + 2), np.zeros(k_count + 2)
    for q in range(k_count, -1, -1):
        mass, first, second = piece_moments(bounds[q], bounds[q + 1])
        c0[q] = c0[q + 1] + p[q] * mass + r[q] * first
        c1[q] = c1[q + 1] + p[q] * first + r[q] * second
    whole0, whole1 = c0[0], c1[0]
    orthogonal = math.sqrt(max(1.0 - c * c, 0.0))
    spread = s2 * orthogonal  # s'
    width = orthogonal / abs(c)  # the scale of y in X
    total = offset * whole0 + slope * (m2 * whole0 + s2 * c * whole1)
    for k in range(k_count):
        shift = m2 - knots[k]
        centre = -shift / (s2 * c)  # y = 0
        a0, a1 = _tail(centre, bounds, p, r, c0, c1)
        if c < 0.0:
            a0, a1 = whole0 - a0, whole1 - a1
        term = shift * a0 + s2 * c * a1  # E[σ(z1) (μ(X) − t_k)_+]
        if spread > 0.0:
            term += spread * _window(centre, width, bounds, p, r, nodes, weights, unodes, uweights, kappa)
        total += jumps[k] * term
    return total


@numba.njit(cache=True, parallel=True)
def _pairs(m: Array, s: Array, pairs: NDArray[np.int64], correlations: Array, knots: Array, jumps: Array,
           offset: float, slope: float, nodes: Array, weights: Array, unodes: Array, uweights: Array, kappa: Array,
           out: Array) -> None:  # pragma: no cover - compiled
    for k in numba.prange(pairs.shape[0]):
        i, j = pairs[k, 0], pairs[k, 1]
        out[k] = pair_moment(m[i], s[i], m[j], s[j], correlations[k], knots, jumps, offset, slope, nodes, weights,
                             unodes, uweights, kappa)


def hinge_pair_moments(knots: Array, jumps: Array, offset: float, slope: float, m: Array, s: Array,
                       pairs: NDArray[np.int64], correlations: Array, nodes: int = NODES) -> Array:
    """``E[σ(z_i) σ(z_j)]`` for the ``pairs`` ``(P, 2)`` of units with pre-activation means ``m``,
    standard deviations ``s`` and ``correlations`` ``(P,)`` (nonzero), ``σ`` the hinge sum
    ``offset + slope t + Σ_k jumps_k (t − knots_k)_+``: shape ``(P,)``."""
    x, w = roots_legendre(nodes)
    x, w = np.asarray(x), np.asarray(w)
    half = 0.5 * np.diff(BREAKS)[:, None]
    unodes = BREAKS[:-1, None] + half * (x[None, :] + 1.0)
    uweights = half * w[None, :]
    from scipy.special import ndtr

    kappa = np.exp(-0.5 * unodes**2) / math.sqrt(2 * math.pi) - unodes * ndtr(-unodes)
    out = np.empty(len(pairs))
    if len(pairs):
        with threads(100.0 * len(pairs) * len(knots) * nodes):
                _pairs(np.ascontiguousarray(m), np.ascontiguousarray(s), np.ascontiguousarray(pairs, dtype=np.int64),
                   np.ascontiguousarray(correlations), np.ascontiguousarray(knots, dtype=np.float64),
                   np.ascontiguousarray(jumps, dtype=np.float64), float(offset), float(slope), x, w, unodes,
                   uweights, kappa, out)
    return out
