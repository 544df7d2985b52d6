"""Pairs of ridge units under one Gaussian input law: ``E[σ(z_i) σ(z_j)]`` by
Mehler's series, O(L) a pair after O(L) work per unit.

Under a Gaussian ``x`` the pre-activations ``z_i = ⟨w_i, x⟩ + b_i`` are jointly
Gaussian, ``z_i = m_i + s_i Z_i`` with standard ``Z_i`` of correlations ``c_ij``.
Mehler's formula (the Hermite expansion of the bivariate normal density)::

    E[f(Z_i) g(Z_j)] = Σ_n c_ij^n α_n β_n,   α_n = E[f(Z) He_n(Z)] / √n!,

separates a pair into coefficients of each unit, computed once, and a sum of
``L`` products per pair. Cauchy–Schwarz and Parseval (``Σ α_n² = E f²``) bound
what the sum leaves out::

    |Σ_{n>L} c^n α_n β_n| <= |c|^{L+1} T_f(L) T_g(L),   T_f(L)² = E f² − Σ_{n<=L} α_n²,

so each pair stops as soon as its bound is below ``eta · √(E f² E g²)``, and
the bounds are summed into the stated error. A pair whose correlation is so
close to ±1 that ``L`` terms cannot reach the tolerance is handed back to the
caller (:func:`pair_sums`' ``fallback``): near-aligned units, computed by
:mod:`.hinge_pairs` or a tensor rule.

The coefficients: for a hinge σ in closed form (:func:`hinge_coefficients`),
since Stein's identity gives ``E[(Z − a)_+ He_n(Z)] = He_{n−2}(a) φ(a)`` for
``n >= 2``, i.e. ``α_n = s Σ_k jump_k ψ_{n−2}(a_k) / √(n(n − 1))`` with the
Hermite functions ``ψ_m = He_m φ / √m!`` at the standardised knots ``a_k``; for
any other σ by a rule (:func:`panel_rule`, :func:`rule_coefficients`), whose
error the caller estimates from a second rule.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["BLOCK", "ETA", "PARALLEL_WORK", "HermiteTable", "PairSums", "hermite_table", "hinge_coefficients",
           "largest_correlation", "pair_sums", "panel_rule", "rule_coefficients", "terms_for", "threads"]

Array = NDArray[np.float64]
Index = int | np.int64

BLOCK = 16
"""Mehler terms added between two checks of a pair's remainder bound."""

ETA = 1e-15
"""A pair's series stops when its remainder bound is below ``ETA · √(E f² E g²)``."""

INFINITY = 40.0
"""Stands for ±∞ in the Gaussian integrals (``φ(40) = 0`` in double precision)."""

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


PARALLEL_WORK = 2_000_000
"""Below this many operations a kernel runs on one thread: starting the pool costs more."""


@contextlib.contextmanager
def threads(work: float) -> Iterator[None]:
    """The compiled kernels inside run on one thread if ``work`` is below :data:`PARALLEL_WORK`,
    else on ``NUMBA_NUM_THREADS``."""
    before = numba.get_num_threads()
    if work < PARALLEL_WORK:
        numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


class HermiteTable(NamedTuple):
    """Per-unit Mehler data for one Gaussian component: ``alpha`` ``(N, L + 1)``
    (``L + 1`` a multiple of :data:`BLOCK`), ``norm2`` ``(N,)`` = ``E σ(z_i)²``, and
    ``tails`` ``(N, (L + 1)/BLOCK)``: ``tails[i, k]`` bounds ``T_i`` after ``(k + 1)·BLOCK`` terms."""

    alpha: Array
    norm2: Array
    tails: Array


class PairSums(NamedTuple):
    """``Σ_{i<j} g_i g_j E[σ(z_i) σ(z_j)]`` over the pairs Mehler's series resolves (``value``),
    the sum of their remainder bounds times ``|g_i g_j|`` (``bound``), and the pairs it
    hands back (``fallback`` ``(P, 2)``, with their correlations ``(P,)``)."""

    value: float
    bound: float
    fallback: NDArray[np.int64]
    correlations: Array


def terms_for(largest: float, most: int) -> int:
    """``L + 1``: enough Mehler terms that ``|c|^{L+1} <= ETA`` at the largest off-diagonal
    ``|c|`` (then every pair meets its tolerance), a multiple of :data:`BLOCK`, at most ``most``."""
    if largest <= 0.0:
        return BLOCK
    needed = most if largest >= 1.0 else math.log(ETA) / math.log(largest)
    return int(min(most, max(BLOCK, BLOCK * math.ceil(needed / BLOCK))))


def _tails(alpha: Array, norm2: Array, floor: Array) -> Array:
    """``tails[i, k] = √(Σ_{n >= (k+1)B} α_n² + max(E f² − Σ_n α_n², 0) + floor_i)``."""
    squares = alpha**2
    rest = np.maximum(norm2 - squares.sum(axis=1), 0.0) + floor
    blocks = squares.reshape(len(alpha), -1, BLOCK).sum(axis=2)
    after = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]  # Σ over blocks >= k
    beyond = np.concatenate([after[:, 1:], np.zeros((len(alpha), 1))], axis=1)
    return np.asarray(np.sqrt(beyond + rest[:, None]))


def _round_off_floor(norm2: Array, terms: int) -> Array:
    """What rounding may hide in ``E f² − Σ α_n²``: a few ulps per term."""
    return np.asarray(8.0 * np.finfo(np.float64).eps * (terms + 1) * norm2)


# -- hinges: closed-form coefficients --------------------------------------------------------------------------

@numba.njit(cache=True)
def gaussian_mass(lo: float, hi: float) -> float:  # pragma: no cover - compiled
    """``Φ(hi) − Φ(lo)`` for ``lo <= hi``, without cancellation in either tail."""
    if lo >= 0.0:
        return 0.5 * (math.erfc(lo / _SQRT2) - math.erfc(hi / _SQRT2))
    if hi <= 0.0:
        return 0.5 * (math.erfc(-hi / _SQRT2) - math.erfc(-lo / _SQRT2))
    return 1.0 - 0.5 * math.erfc(-lo / _SQRT2) - 0.5 * math.erfc(hi / _SQRT2)


@numba.njit(cache=True)
def normal_density(x: float) -> float:  # pragma: no cover - compiled
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@numba.njit(cache=True)
def piece_moments(lo: float, hi: float) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """``∫_lo^hi Z^k φ(Z) dZ`` for ``k = 0, 1, 2``."""
    mass = gaussian_mass(lo, hi)
    plo, phi = normal_density(lo), normal_density(hi)
    return mass, plo - phi, mass + lo * plo - hi * phi


@numba.njit(cache=True)
def hinge_pieces(m: float, s: float, knots: Array, jumps: Array, c0: float, c1: float,
                 bounds: Array, p: Array, r: Array) -> None:  # pragma: no cover - compiled
    """``σ(m + sZ) = p_q + r_q Z`` on ``bounds[q] < Z < bounds[q + 1]`` (``s > 0``;
    ``bounds`` ``(K + 2,)`` from ``−INFINITY`` to ``INFINITY``, ``p``, ``r`` ``(K + 1,)``)."""
    k_count = knots.shape[0]
    bounds[0], bounds[k_count + 1] = -INFINITY, INFINITY
    offset, slope = c0 + c1 * m, c1
    for q in range(k_count + 1):
        p[q], r[q] = offset, s * slope
        if q < k_count:
            bounds[q + 1] = min(max((knots[q] - m) / s, -INFINITY), INFINITY)
            offset += jumps[q] * (m - knots[q])
            slope += jumps[q]


@numba.njit(cache=True, parallel=True)
def _hinge_table(m: Array, s: Array, knots: Array, jumps: Array, c0: float, c1: float, alpha: Array,
                 norm2: Array) -> None:  # pragma: no cover - compiled
    n_units, terms = alpha.shape
    k_count = knots.shape[0]
    for i in numba.prange(n_units):
        for n in range(terms):
            alpha[i, n] = 0.0
        if s[i] == 0.0:  # a constant pre-activation
            value = c0 + c1 * m[i]
            for k in range(k_count):
                value += jumps[k] * max(m[i] - knots[k], 0.0)
            alpha[i, 0], norm2[i] = value, value * value
            continue
        bounds, p, r = np.empty(k_count + 2), np.empty(k_count + 1), np.empty(k_count + 1)
        hinge_pieces(m[i], s[i], knots, jumps, c0, c1, bounds, p, r)
        a0, a1, f2 = 0.0, 0.0, 0.0
        for q in range(k_count + 1):
            mass, first, second = piece_moments(bounds[q], bounds[q + 1])
            a0 += p[q] * mass + r[q] * first
            a1 += p[q] * first + r[q] * second
            f2 += p[q] * p[q] * mass + 2.0 * p[q] * r[q] * first + r[q] * r[q] * second
        alpha[i, 0], norm2[i] = a0, f2
        if terms > 1:
            alpha[i, 1] = a1
        # ψ_{n−2}(a_k) by the normalised recurrence ψ_{m+1} = (a ψ_m − √m ψ_{m−1}) / √(m + 1)
        previous, current = np.zeros(k_count), np.empty(k_count)
        for k in range(k_count):
            current[k] = normal_density(bounds[k + 1])
        for n in range(2, terms):
            total = 0.0
            for k in range(k_count):
                total += jumps[k] * current[k]
            alpha[i, n] = s[i] * total / math.sqrt(n * (n - 1.0))
            order = n - 2
            for k in range(k_count):
                following = (bounds[k + 1] * current[k] - math.sqrt(order) * previous[k]) / math.sqrt(order + 1.0)
                previous[k], current[k] = current[k], following


def hinge_coefficients(knots: Array, jumps: Array, offset: float, slope: float, m: Array, s: Array,
                       terms: int) -> HermiteTable:
    """The Mehler table of the hinge sum ``σ(t) = offset + slope t + Σ_k jumps_k (t − knots_k)_+``
    for units of pre-activation mean ``m`` and standard deviation ``s`` (``(N,)``): exact to round-off."""
    alpha, norm2 = np.empty((len(m), terms)), np.empty(len(m))
    with threads(len(m) * len(knots) * terms):
        _hinge_table(np.ascontiguousarray(m), np.ascontiguousarray(s),
                     np.ascontiguousarray(knots, dtype=np.float64), np.ascontiguousarray(jumps, dtype=np.float64),
                     float(offset), float(slope), alpha, norm2)
    return HermiteTable(alpha, norm2, _tails(alpha, norm2, _round_off_floor(norm2, terms)))


# -- any σ: a Gauss–Hermite rule ------------------------------------------------------------------------------

def hermite_rule(nodes: int) -> tuple[Array, Array]:
    """The probabilists' Gauss–Hermite rule of ``nodes`` nodes, weights summing to 1
    (scipy's ``roots_hermitenorm``: stable at any size, where numpy's ``hermegauss``
    overflows beyond about 150 nodes)."""
    from scipy.special import roots_hermitenorm

    x, w = roots_hermitenorm(nodes)
    return np.asarray(x, dtype=np.float64), np.asarray(w / w.sum(), dtype=np.float64)


def panel_rule(reach: float, width: float, nodes: int) -> tuple[Array, Array]:
    """Points ``(Q,)`` and weights (the standard normal's density included) of Gauss–Legendre
    rules of ``nodes`` nodes on panels of ``width`` covering ``[−reach, reach]``: geometric
    convergence for σ analytic in a strip around the real axis, however steep (where
    Gauss–Hermite converges like ``exp(−a√(2Q))`` for a strip of half-width ``a``)."""
    from scipy.special import roots_legendre

    edges = np.linspace(-reach, reach, int(math.ceil(2 * reach / width)) + 1)
    x, w = roots_legendre(nodes)
    half = 0.5 * np.diff(edges)[:, None]
    points = (edges[:-1, None] + half * (x[None, :] + 1.0)).ravel()
    weights = (half * w[None, :]).ravel() * np.exp(-0.5 * points**2) * _INV_SQRT_2PI
    return points, weights


def hermite_table(points: Array, weights: Array, terms: int) -> Array:
    """``ω_q He_n(g_q) / √n!`` ``(Q, terms)`` at a rule's points ``g`` and weights ``ω`` (the
    normalised recurrence started from ``ω_q``: no overflow where ``He_n`` is large)."""
    table = np.empty((len(points), terms))
    previous, current = np.zeros(len(points)), np.array(weights, dtype=np.float64)
    for n in range(terms):
        table[:, n] = current
        previous, current = current, (points * current - math.sqrt(n) * previous) / math.sqrt(n + 1.0)
    return table


def rule_coefficients(values: Array, weights: Array, table: Array) -> HermiteTable:
    """The Mehler table from ``σ(m_i + s_i g_q)`` ``(N, Q)`` at a rule's points (weights
    ``weights``, ``table`` of :func:`hermite_table`)."""
    alpha = values @ table
    norm2 = (values * values) @ weights
    return HermiteTable(alpha, norm2, _tails(alpha, norm2, _round_off_floor(norm2, table.shape[1])))


# -- the pairs ---------------------------------------------------------------------------------------------------

@numba.njit(cache=True)
def _correlation(scaled: Array, s: Array, i: Index, j: Index) -> float:  # pragma: no cover - compiled
    if s[i] == 0.0 or s[j] == 0.0:
        return 0.0
    cov = 0.0
    for k in range(scaled.shape[1]):
        cov += scaled[i, k] * scaled[j, k]
    return min(1.0, max(-1.0, cov / (s[i] * s[j])))


@numba.njit(cache=True, parallel=True)
def _largest_correlation(scaled: Array, s: Array) -> float:  # pragma: no cover - compiled
    n_units = s.shape[0]
    half = (n_units + 1) // 2
    rows = np.zeros(n_units)
    for r in numba.prange(half):
        for side in range(2):
            i = np.int64(r) if side == 0 else n_units - 1 - np.int64(r)  # a uint64 index would turn float
            if side == 1 and i == r:
                continue
            largest = 0.0
            for j in range(i + 1, n_units):
                largest = max(largest, abs(_correlation(scaled, s, i, j)))
            rows[i] = largest
    return rows.max() if n_units > 0 else 0.0


def largest_correlation(scaled: Array, s: Array) -> float:
    """``max_{i<j} |c_ij|`` for pre-activations ``⟨scaled_i, Z⟩`` of standard deviations ``s``."""
    with threads(0.5 * len(s) ** 2 * scaled.shape[1]):
        return float(_largest_correlation(np.ascontiguousarray(scaled), np.ascontiguousarray(s)))


@numba.njit(cache=True)
def _series(alpha: Array, tails: Array, i: Index, j: Index, c: float,
            tol: float) -> tuple[float, float, bool]:  # pragma: no cover - compiled
    """Mehler's sum for the pair ``(i, j)``, block by block until the bound is below ``tol``:
    ``(sum, bound, resolved)``."""
    blocks = tails.shape[1]
    total, power = 0.0, 1.0
    for k in range(blocks):
        for n in range(k * BLOCK, (k + 1) * BLOCK):
            total += power * alpha[i, n] * alpha[j, n]
            power *= c
        bound = abs(power) * tails[i, k] * tails[j, k]
        if bound <= tol:
            return total, bound, True
    return total, abs(power) * tails[i, blocks - 1] * tails[j, blocks - 1], False


@numba.njit(cache=True)
def _last_bound(tails: Array, i: Index, j: Index, c: float) -> float:  # pragma: no cover - compiled
    blocks = tails.shape[1]
    return abs(c) ** (blocks * BLOCK) * tails[i, blocks - 1] * tails[j, blocks - 1]


@numba.njit(cache=True, parallel=True)
def _pair_rows(scaled: Array, s: Array, g: Array, alpha: Array, norm2: Array, tails: Array, eta: float,
               row_value: Array, row_bound: Array, row_left: NDArray[np.int64]) -> None:  # pragma: no cover
    """Row ``i``: ``g_i Σ_{j>i} g_j E[σ_i σ_j]`` over the resolved pairs, their bounds and how many it
    left; rows ``r`` and ``N − 1 − r`` go to one thread (the triangle's rows balanced)."""
    n_units = s.shape[0]
    for r in numba.prange((n_units + 1) // 2):
        for side in range(2):
            i = np.int64(r) if side == 0 else n_units - 1 - np.int64(r)  # a uint64 index would turn float
            if side == 1 and i == r:
                continue
            value, bound, left = 0.0, 0.0, 0
            for j in range(i + 1, n_units):
                c = _correlation(scaled, s, i, j)
                tol = eta * math.sqrt(norm2[i] * norm2[j])
                if _last_bound(tails, i, j, c) > tol:
                    left += 1
                    continue
                pair, pair_bound, _ = _series(alpha, tails, i, j, c, tol)
                value += g[j] * pair
                bound += abs(g[j]) * pair_bound
            row_value[i], row_bound[i], row_left[i] = g[i] * value, abs(g[i]) * bound, left


@numba.njit(cache=True, parallel=True)
def _collect(scaled: Array, s: Array, norm2: Array, tails: Array, eta: float, starts: NDArray[np.int64],
             pairs: NDArray[np.int64], correlations: Array) -> None:  # pragma: no cover - compiled
    """The pairs :func:`_pair_rows` left, row ``i``'s from ``starts[i]`` (the same test)."""
    n_units = s.shape[0]
    for i in numba.prange(n_units):
        at = starts[i]
        if at == starts[i + 1]:
            continue
        for j in range(i + 1, n_units):
            c = _correlation(scaled, s, i, j)
            if _last_bound(tails, i, j, c) > eta * math.sqrt(norm2[i] * norm2[j]):
                pairs[at, 0], pairs[at, 1], correlations[at] = i, j, c
                at += 1


def pair_sums(scaled: Array, s: Array, g: Array, table: HermiteTable, eta: float | None = None) -> PairSums:
    """``Σ_{i<j} g_i g_j E[σ(z_i) σ(z_j)]`` for ``z_i = m_i + ⟨scaled_i, Z⟩`` (``scaled`` ``(N, d)``,
    ``s_i = ‖scaled_i‖``) by Mehler's series over the pairs it resolves to ``eta`` (default :data:`ETA`;
    module docstring)."""
    eta = ETA if eta is None else eta
    scaled, s, g = (np.ascontiguousarray(v, dtype=np.float64) for v in (scaled, s, g))
    n_units = len(s)
    row_value, row_bound = np.zeros(n_units), np.zeros(n_units)
    row_left = np.zeros(n_units, dtype=np.int64)
    alpha, tails = np.ascontiguousarray(table.alpha), np.ascontiguousarray(table.tails)
    with threads(0.5 * n_units**2 * (scaled.shape[1] + BLOCK)):
        _pair_rows(scaled, s, g, alpha, table.norm2, tails, eta, row_value, row_bound, row_left)
        starts = np.concatenate([[0], np.cumsum(row_left)]).astype(np.int64)
        pairs = np.empty((int(starts[-1]), 2), dtype=np.int64)
        correlations = np.empty(int(starts[-1]))
        if len(pairs):
            _collect(scaled, s, table.norm2, tails, eta, starts, pairs, correlations)
    return PairSums(float(row_value.sum()), float(row_bound.sum()), pairs, correlations)
