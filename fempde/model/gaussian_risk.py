"""The population moments of ridge units ``a σ(⟨w, x⟩ + b)`` on a Gaussian
mixture, in any dimension, at O(N²) pairs of O(1) cost each.

In each component ``N(μ_c, diag(sd_c²))`` the pre-activations ``z_i = ⟨w_i, x⟩ + b_i``
are jointly Gaussian (means ``⟨w_i, μ_c⟩ + b_i``, covariances
``Σ_k w_ik w_jk sd_ck²``): ``E[y σ*_i]`` is a one-dimensional Gaussian integral and
``U_ij`` a two-dimensional one. Both come from the Hermite coefficients of each
unit (:mod:`.hermite`); a pair costs a Mehler sum of as many terms as its
correlation needs, and the pairs too close to alignment for the series go to

* a hinge σ (:class:`fempde.Hinges`): the window formula of :mod:`.hinge_pairs`;
  with the closed-form coefficients the whole risk is exact to round-off, and the
  stated error is a bound (the series' remainders plus a round-off allowance);
* any other σ: a tensor rule on the Cholesky factor (:data:`TENSOR_NODES`); the
  coefficients come from a panel Gauss–Legendre rule (:data:`COEFFICIENT_RULE`). Both
  are repeated with a coarser rule (:data:`TENSOR_CHECK`, :data:`COEFFICIENT_CHECK`),
  and the differences, carried through the sums by Cauchy–Schwarz, are the stated
  error estimate (conservative: the finer rule's own error is smaller).

In one dimension every pair is aligned, and the pair sum is one integral of
``(Σ_i g_i σ(z_i))²`` instead (:func:`_line_component`): O(N log N).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from ..problems.neurons import Hinges
from .data import GaussianMixture
from .hermite import (
    BLOCK,
    HermiteTable,
    hermite_table,
    hinge_coefficients,
    largest_correlation,
    pair_sums,
    panel_rule,
    rule_coefficients,
    terms_for,
)
from .hinge_pairs import hinge_pair_moments
from .moments import Moments
from .units import Ridge

__all__ = ["COEFFICIENT_CHECK", "COEFFICIENT_RULE", "MOST_TERMS", "TENSOR_CHECK", "TENSOR_NODES",
           "ridge_gaussian_moments"]

Array = NDArray[np.float64]

MOST_TERMS = {"hinge": 2048, "rule": 512}
"""The longest Mehler series per pair: closed-form (hinge) coefficients are cheap to extend,
rule coefficients cost a rule of many nodes."""

COEFFICIENT_RULE = (13.0, 0.5, 20)
"""Reach, panel width and nodes per panel of the rule for the coefficients of a σ other than
a hinge (:func:`fempde.model.hermite.panel_rule`; the Hermite functions are below 1e-18 beyond 13,
and 20 nodes on a panel of 0.5 resolve ``He_512``)."""

COEFFICIENT_CHECK = 14
"""Nodes per panel of the coarser rule whose difference estimates the coefficients' error."""

TENSOR_NODES = (12, 64)
"""A pair off the series: Gauss–Legendre nodes per panel on ``|X| <= 9`` and Gauss–Hermite nodes along
the orthogonal ``G`` (skipped for exactly aligned pairs, ``|c| = 1``). The panels are 0.5 wide, halved
until they are at most ``2/s`` for the steeper unit of the pair (``σ(m + sX)`` changes on the scale ``1/s``)."""

TENSOR_CHECK = (8, 48)
"""The coarser tensor rule whose difference estimates :data:`TENSOR_NODES`' error."""

PAIR_CHUNK = 32
"""Pairs per vectorised block of the tensor rule."""


@functools.lru_cache(maxsize=8)
def _coefficient_rule(nodes: int, terms: int) -> tuple[Array, Array, Array]:
    reach, width, _ = COEFFICIENT_RULE
    points, weights = panel_rule(reach, width, nodes)
    rule = (points, weights, hermite_table(points, weights, terms))
    for array in rule:
        array.setflags(write=False)
    return rule


@functools.lru_cache(maxsize=32)
def _tensor_rules(panel_nodes: int, normal_nodes: int, halvings: int) -> tuple[Array, Array, Array, Array]:
    from scipy.special import roots_hermitenorm

    x, wx = panel_rule(9.0, 0.5 / 2**halvings, panel_nodes)
    g, wg = roots_hermitenorm(normal_nodes)
    rules = (x, wx, np.asarray(g), np.asarray(wg / wg.sum()))
    for array in rules:
        array.setflags(write=False)
    return rules


class Component(NamedTuple):
    """One mixture component: ``mean`` = ``E σ(z_i)``, ``norm2`` = ``E σ(z_i)²`` ``(N,)``,
    ``pairs`` = ``Σ_ij g_i g_j E[σ(z_i) σ(z_j)]``, each with its error; ``series`` and
    ``fallback``: how many pairs ``i < j`` the series and the near-aligned formula took."""

    mean: Array
    mean_error: Array
    norm2: Array
    norm2_error: Array
    pairs: float
    pairs_error: float
    series: int
    fallback: int


def _evaluate(sigma: Any, z: Array) -> Array:
    return np.asarray(sigma(z), dtype=np.float64)


def _rule_table(sigma: Any, m: Array, s: Array, terms: int, nodes: int) -> HermiteTable:
    points, weights, table = _coefficient_rule(nodes, terms)
    return rule_coefficients(_evaluate(sigma, m[:, None] + s[:, None] * points[None, :]), weights, table)


def _tensor(sigma: Any, m: Array, s: Array, pairs: NDArray[np.int64], c: Array, nodes: tuple[int, int]) -> Array:
    """``E[σ(m_i + s_i X) σ(m_j + s_j (cX + √(1 − c²) G))]`` by the tensor rule of ``nodes``
    (:data:`TENSOR_NODES`; along ``X`` only where ``|c| = 1``)."""
    out = np.empty(len(pairs))
    steep = np.maximum(s[pairs[:, 0]], s[pairs[:, 1]]) if len(pairs) else np.zeros(0)
    halvings = np.maximum(np.ceil(np.log2(np.maximum(steep, 1e-300) / 4.0)), 0).astype(int)
    for aligned in (True, False):
        for halving in np.unique(halvings):
            x, wx, normal, normal_weights = _tensor_rules(nodes[0], nodes[1], int(halving))
            g, wg = (np.zeros(1), np.ones(1)) if aligned else (normal, normal_weights)
            chosen = np.flatnonzero(((np.abs(c) == 1.0) == aligned) & (halvings == halving))
            for start in range(0, len(chosen), PAIR_CHUNK):
                k = chosen[start:start + PAIR_CHUNK]
                i, j, cc = pairs[k, 0], pairs[k, 1], c[k, None, None]
                first = _evaluate(sigma, m[i, None] + s[i, None] * x[None, :])
                z = m[j, None, None] + s[j, None, None] * (cc * x[None, :, None]
                                                           + np.sqrt(np.maximum(1 - cc**2, 0.0)) * g[None, None, :])
                out[k] = (first * (_evaluate(sigma, z) @ wg)) @ wx
    return out


def _component(sigma: Any, m: Array, scaled: Array, g: Array) -> Component:
    """The moments of one Gaussian component: pre-activation means ``m`` ``(N,)``, ``z_i − m_i =
    ⟨scaled_i, Z⟩`` with ``Z ~ N(0, I)``, pair weights ``g`` ``(N,)``."""
    s = np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    largest = largest_correlation(scaled, s)
    zero = np.zeros(len(m))
    if isinstance(sigma, Hinges):
        knots, jumps = np.array(sigma.knots, dtype=np.float64), np.array(sigma.jumps, dtype=np.float64)
        table = hinge_coefficients(knots, jumps, sigma.offset, sigma.slope, m, s,
                                   terms_for(largest, MOST_TERMS["hinge"]))
        alpha_error, norm2_error = np.zeros_like(table.alpha), zero
    else:
        terms = terms_for(largest, MOST_TERMS["rule"])
        table = _rule_table(sigma, m, s, terms, COEFFICIENT_RULE[2])
        check = _rule_table(sigma, m, s, terms, COEFFICIENT_CHECK)
        alpha_error, norm2_error = np.abs(table.alpha - check.alpha), np.abs(table.norm2 - check.norm2)
    sums = pair_sums(scaled, s, g, table)
    i, j = sums.fallback[:, 0], sums.fallback[:, 1]
    if isinstance(sigma, Hinges):
        off_series, off_error = hinge_pair_moments(knots, jumps, sigma.offset, sigma.slope, m, s, sums.fallback,
                                                   sums.correlations), np.zeros(len(i))
    else:
        off_series = _tensor(sigma, m, s, sums.fallback, sums.correlations, TENSOR_NODES)
        off_error = np.abs(off_series - _tensor(sigma, m, s, sums.fallback, sums.correlations, TENSOR_CHECK))
    pairs = float(g**2 @ table.norm2) + 2 * sums.value + 2 * float((g[i] * g[j]) @ off_series)
    # the coefficients' errors through the series (Cauchy–Schwarz, |c| <= 1): per pair at most
    # ‖δα_i‖‖α_j‖ + ‖α_i‖‖δα_j‖ + ‖δα_i‖‖δα_j‖
    spread = float(np.abs(g) @ np.sqrt(np.einsum("ij,ij->i", alpha_error, alpha_error)))
    size = float(np.abs(g) @ np.sqrt(table.norm2))
    error = (2 * sums.bound + 2 * float(np.abs(g[i] * g[j]) @ off_error) + 2 * spread * size + spread**2
             + float(g**2 @ norm2_error))
    n_pairs = len(m) * (len(m) - 1) // 2
    return Component(table.alpha[:, 0].copy(), alpha_error[:, 0].copy(), table.norm2, norm2_error, pairs, error,
                     n_pairs - len(i), len(i))


def _hinges_along(sigma: Hinges, m: Array, slope: Array, g: Array) -> tuple[Array, Array, float, float]:
    """``Σ_i g_i σ(m_i + slope_i Z)`` as one hinge sum in ``Z``: its knots (sorted), jumps, offset and slope.
    ``(a Z + m − t)_+`` is ``a (Z − ξ)_+`` for ``a > 0`` and ``|a| ((Z − ξ)_+ − (Z − ξ))`` for ``a < 0``,
    ``ξ = (t − m)/a``."""
    t, b = np.array(sigma.knots, dtype=np.float64), np.array(sigma.jumps, dtype=np.float64)
    moving = slope != 0
    a, mm, gg = slope[moving], m[moving], g[moving]
    xi = (t[None, :] - mm[:, None]) / a[:, None]
    jumps = (gg * np.abs(a))[:, None] * b[None, :]
    falling = (a < 0)[:, None] * jumps  # the linear parts of the units that fall in Z
    offset = float(gg @ (sigma.offset + sigma.slope * mm)) + float(np.sum(falling * xi))
    offset += float(g[~moving] @ np.asarray(sigma(m[~moving]), dtype=np.float64))
    slope_total = float(gg @ (sigma.slope * a)) - float(np.sum(falling))
    order = np.argsort(xi, axis=None)
    return xi.ravel()[order], jumps.ravel()[order], offset, slope_total


def _line_component(sigma: Any, m: Array, slope: Array, g: Array) -> Component:
    """d = 1: every pre-activation is ``m_i + slope_i Z`` with one ``Z``, so ``Σ_ij g_i g_j E[σ_i σ_j] =
    E[(Σ_i g_i σ_i)²]`` is one integral, O(N K log(N K)) for a hinge (exact: the sum is a hinge sum in
    ``Z``) and O(N Q) for any other σ (the coefficient rule on panels narrowed for the steepest unit,
    its error estimated from the check rule)."""
    s, zero = np.abs(slope), np.zeros(len(m))
    if isinstance(sigma, Hinges):
        knots, jumps = np.array(sigma.knots, dtype=np.float64), np.array(sigma.jumps, dtype=np.float64)
        table = hinge_coefficients(knots, jumps, sigma.offset, sigma.slope, m, s, BLOCK)
        total = hinge_coefficients(*_hinges_along(sigma, m, slope, g), np.zeros(1), np.ones(1), BLOCK)
        return Component(table.alpha[:, 0].copy(), zero, table.norm2, zero, float(total.norm2[0]), 0.0, 0, 0)
    reach, width, nodes = COEFFICIENT_RULE
    width = min(width, 2.0 / max(float(s.max()), 1e-300))
    parts = []
    for count in (nodes, COEFFICIENT_CHECK):
        points, weights = panel_rule(reach, width, count)
        values = _evaluate(sigma, m[:, None] + slope[:, None] * points[None, :])
        parts.append((values @ weights, values**2 @ weights, float(weights @ (g @ values) ** 2)))
    (mean, norm2, pairs), (mean_check, norm2_check, pairs_check) = parts
    return Component(mean, np.abs(mean - mean_check), norm2, np.abs(norm2 - norm2_check), pairs,
                     abs(pairs - pairs_check), 0, 0)


def ridge_gaussian_moments(unit: Ridge, data: GaussianMixture, theta: Array, weights: Array) -> Moments:
    """:class:`Moments` of ridge units ``theta`` ``(P, D)`` with weights ``(P,)`` on the mixture ``data``
    (module docstring)."""
    w, a, b = unit.split(theta)
    count = len(theta)
    linear, linear_error = np.zeros(count), np.zeros(count)
    diagonal, diagonal_error = np.zeros(count), np.zeros(count)
    quadratic, quadratic_error = 0.0, 0.0
    for probability, mean, sd, label in data.components:
        m, scaled = np.asarray(w @ mean + b), np.ascontiguousarray(w * sd)
        part = (_line_component(unit.sigma, m, scaled[:, 0], weights * a) if data.input_dim == 1 else
                _component(unit.sigma, m, scaled, weights * a))
        linear += probability * label * a * part.mean
        linear_error += probability * abs(label) * np.abs(a) * part.mean_error
        diagonal += probability * a**2 * part.norm2
        diagonal_error += probability * a**2 * part.norm2_error
        quadratic += probability * part.pairs
        quadratic_error += probability * part.pairs_error
    hinge = isinstance(unit.sigma, Hinges)
    if data.input_dim == 1:
        method = "Gaussian input on a line: one exact integral of the hinge sum" if hinge else \
            "Gaussian input on a line: one integral by a panel Gauss-Legendre rule"
    else:
        method = ("Gaussian pre-activations: Mehler series of closed-form Hermite coefficients, exact window "
                  "formula for near-aligned pairs" if hinge else
                  "Gaussian pre-activations: Mehler series of panel-rule Hermite coefficients, tensor rule for "
                  "near-aligned pairs")
    second = float(np.asarray(data.probabilities) @ np.asarray(data.labels) ** 2) + data.label_noise**2
    return Moments(weights=weights, second=second, noise=data.label_noise**2, linear=linear, diagonal=diagonal,
                   quadratic=quadratic, method=method, bounded=hinge, linear_error=linear_error,
                   diagonal_error=diagonal_error, quadratic_error=quadratic_error)
