"""Anisotropic Gaussians learnt by ReLU units with output weight and offset
(Mei–Montanari–Nguyen 2018, "Centered Anisotropic Gaussians" and "A Better
Activation Function", Fig. 3), reduced by its symmetry to four variables.

Data: ``y = ±1`` with probability ½, ``x | y ~ N(0, Σ_y)``, ``Σ_y = I + (τ_y² − 1) P_V``,
``τ_± = 1 ± Δ``, ``V`` of dimension ``s0`` (:class:`fempde.meanfield.GaussianClasses`
with ``relevant = s0``). Units ``σ*(x; θ) = a ReLU(⟨w, x⟩ + b)``, ``θ = (w, a, b)``.

**Reduction.** The law is invariant under ``O(s0) × O(d − s0)``; a law of ``θ``
uniform given ``(r1, r2) = (‖P_V w‖, ‖P_V⊥ w‖)`` stays so under the DD, and
``ρ̄_t`` lives on ``(a, b, r1, r2)``. In class ``y`` the pre-activation
``z = ⟨w, x⟩`` is ``N(0, s_y²)`` with ``s_y² = τ_y² r1² + r2²``, and two units'
pre-activations have covariance ``C_y = τ_y² r1 r1' c1 + r2 r2' c2``, where
``c1`` (``c2``) is the cosine between the two ``w``'s in ``V`` (``V⊥``): the
cosine between two independent uniform directions in ``R^n`` (``n = s0`` or
``d − s0``), of density ``∝ (1 − c²)^{(n−3)/2}`` and even moments
``μ_n(2j) = E c^{2j} = Π_{i<j} (2i + 1)/(n + 2i)`` (``n = ∞``: ``c = 0``).

With ``h_k(b, s) = E[∂_z^k (z + b)_+]``, ``z ~ N(0, s²)`` —

    h_0 = b Φ(b/s) + s φ(b/s),   h_1 = Φ(b/s),   h_k = s^{1−k} He_{k−2}(−b/s) φ(b/s)  (k ≥ 2)

(He: probabilists' Hermite polynomials) —

    V(θ) = −E[y σ*] = −½ a [h_0(b, s_+) − h_0(b, s_−)],

and Mehler's expansion of a Gaussian pair with fixed variances in powers of
its covariance, ``E[f(z) g(z')] = Σ_k C^k/k! E f^{(k)} E g^{(k)}``, averaged
over the two independent cosines (odd moments vanish) gives

    u(θ, θ') = ½ Σ_y a a' Σ_{k even} Σ_{j ≤ k/2} binom(k, 2j) μ_{s0}(2j) μ_{d−s0}(k−2j) / k!
               · τ_y^{4j} (r1 r1')^{2j} (r2 r2')^{k−2j} h_k(b, s_y) h_k(b', s'_y).

Every term is a product ``φ_f(θ) φ_f(θ')``: the reduced kernel is a finite sum
of features (positive semidefinite, as ``U`` is), so ``∫ u(θ, θ') ρ̄(dθ')`` over
``M`` weighted points costs ``O(M · features)``, never ``O(M²)``. The series is
truncated at ``k <= order``; its terms fall like ``E c^k`` ~ ``n^{−k/2}``
(``n`` the smaller of ``s0``, ``d − s0``); at the paper's ``s0 = 60``, ``d = 320``
order 8 is off by 2.3e-10 (measured against direct quadrature in ``c1, c2`` and
``z``, :meth:`~AnisotropicGaussians.u_quadrature`; 4.5e-9 at order 6, 1.3e-7 at 4). The
default ``order=None`` picks the smallest even order ``>= 8`` whose estimate of the
first omitted term, ``μ_n(k + 2) / ((k + 1)(k + 2))``, is at most
:data:`SERIES_TOLERANCE` (8 at ``s0 = 60``, 10 at ``s0 = 10``, 22 at ``s0 = 5``), up to
:data:`MAX_AUTO_ORDER`; an order whose estimate exceeds the tolerance warns
(``RuntimeWarning``). At ``d = ∞`` (``s0 = γd``)
only ``k = 0`` survives: ``u = ½ Σ_y a h_0(b, s_y) · a' h_0(b', s'_y)``, two
features.

Gradients are closed forms too: ``∂_b h_k = h_{k+1}`` and, by Stein,
``∂_s h_k = s h_{k+2}``, so ``∂_{r1} h_k(b, s_y) = τ_y² r1 h_{k+2}`` and
``∂_{r2} h_k = r2 h_{k+2}``. The reduced DD (noiseless) is the continuity equation

    ∂_t ρ̄ = DRIFT ξ ∇·(ρ̄ ∇ψ),    ψ(θ̄; ρ̄) = V(θ̄) + ∫ u(θ̄, θ̄') ρ̄(dθ̄'),

with no Jacobian terms (``∇_{w1} Ψ = ∂_{r1} ψ · w1/r1``, so ``dr1/dt = −DRIFT ξ ∂_{r1} ψ``),
solved by characteristics in :func:`fempde.solvers.point_flow.point_flow`. The risk
is ``R(ρ̄) = 1 + 2∫V dρ̄ + Σ_f (∫φ_f dρ̄)²``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy.special import binom, factorial, ndtr, ndtri
from scipy.stats import chi

from ..checks import finite_array, generator, integer, number, weighted_points
from ..meanfield.data import class_spreads
from .neurons import ACTIVATIONS, activation, cosine_rule, direction_moments, gaussian_nodes, hermite_functions

__all__ = ["MAX_AUTO_ORDER", "REDUCED_VARIABLES", "SERIES_TOLERANCE", "AnisotropicGaussians", "InitialLaw",
           "direction_moments", "initial_marginals", "relu_moments"]

Array = NDArray[np.float64]

REDUCED_VARIABLES = ("a", "b", "r1", "r2")
"""The reduced variables, in the column order of every point array ``(M, 4)``."""

SERIES_TOLERANCE = 1e-5
"""The largest estimated first omitted term of the Mehler series accepted without a warning.
The estimate is conservative: at ``s0 = 10, d = 40`` order 8 estimates 2.2e-5 where the
measured error (against :meth:`AnisotropicGaussians.u_quadrature`) is 4.9e-8; at ``s0 = 60``,
``d = 320``, 9.8e-9 against 2.3e-10."""

MAX_AUTO_ORDER = 32
"""The highest order ``order=None`` picks (a subspace below ~8 dimensions warns there)."""

_MIN_SPREAD = 1e-8
"""The floor of ``s_y`` (at ``w = 0`` the law of ``z`` is a point mass): ``h_0`` moves by at
most ``0.4 · 1e-8`` and ``s^{1−k}`` stays finite for every ``k <= MAX_AUTO_ORDER + 4``."""


def _dimension(name: str, n: object) -> float:
    if isinstance(n, float) and math.isinf(n) and n > 0:
        return math.inf
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    return integer(f"{name} (an integer >= 1 or math.inf)", n)


def _truncation_estimate(dimensions: tuple[float, ...], order: int) -> float:
    """``μ_n(order + 2) / ((order + 1)(order + 2))`` for the smallest finite ``n > 0``."""
    finite = [n for n in dimensions if not math.isinf(n) and n > 0]
    if not finite:
        return 0.0
    return float(direction_moments(min(finite), order // 2 + 1)[-1]) / ((order + 1) * (order + 2))


def relu_moments(b: Array, s: Array, kmax: int) -> Array:
    """``h_k(b, s) = E[∂^k (z + b)_+]``, ``z ~ N(0, s²)``, for ``k <= kmax``: shape
    ``(kmax + 1, *b.shape)`` (module docstring; ``s > 0``). ``h_0`` is the ReLU's
    :meth:`~.neurons.Hinges.gaussian_mean`, ``h_k = s^{1−k} √(k−2)! ψ_{k−2}(−b/s)``
    with the Hermite functions :func:`~.neurons.hermite_functions`."""
    b, s = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(s, dtype=float))
    x = b / s
    out = np.empty((kmax + 1, *b.shape))
    out[0] = ACTIVATIONS["relu"].gaussian_mean(b, s)
    if kmax >= 1:
        out[1] = ndtr(x)
    scale = 1.0 / s  # s^{1−k} √(k−2)! at k = 2
    for k, psi in zip(range(2, kmax + 1), hermite_functions(-x), strict=False):
        out[k] = scale * psi
        scale = scale * math.sqrt(k - 1) / s
    return out


@dataclass(frozen=True)
class AnisotropicGaussians:
    """The reduced Fig. 3 problem: class gap ``delta``, dimension ``d``, ``s0 = dim V``
    (the order of :class:`fempde.meanfield.GaussianClasses`).

    ``d = math.inf`` is the paper's limit ``s0 = γd → ∞`` when ``s0 = math.inf``
    too (both cosines vanish); a finite ``s0`` with ``d = ∞`` keeps the ``V``
    cosine. ``order`` truncates the Mehler series (module docstring; ``None``: chosen
    from :data:`SERIES_TOLERANCE`, see :attr:`series_order`). Points are arrays
    ``(M, 4)`` of :data:`REDUCED_VARIABLES` ``(a, b, r1, r2)``; weights sum to 1."""

    delta: float
    d: float
    s0: float
    order: int | None = None

    def __post_init__(self) -> None:
        class_spreads(self.delta)
        d = _dimension("d (the dimension)", self.d)
        s0 = _dimension("s0 (the dimension of the relevant subspace V)", self.s0)
        if s0 > d or (math.isinf(s0) and not math.isinf(d)):
            raise ValueError(f"s0 (the dimension of the relevant subspace V) must lie in [1, d = {self.d}] "
                             f"(math.inf only with d = math.inf), got {self.s0!r}")
        if self.order is not None:
            integer("order (the truncation of the Mehler series)", self.order, minimum=0)
            if self.order % 2:
                raise ValueError(f"order (the truncation of the Mehler series) must be even, got {self.order!r}")
        estimate = _truncation_estimate((s0, self.complement), self.series_order)
        if estimate > SERIES_TOLERANCE:
            warnings.warn(f"AnisotropicGaussians(s0 = {self.s0}, d = {self.d}): the Mehler series cut at order "
                          f"{self.series_order} leaves an estimated {estimate:.1e} > {SERIES_TOLERANCE:g} of u; "
                          f"raise order (each step of 2 adds order/2 + 2 features per class)",
                          RuntimeWarning, stacklevel=3)

    @property
    def spreads(self) -> tuple[float, float]:
        """The class spreads ``(1 + Δ, 1 − Δ)`` (:func:`fempde.meanfield.data.class_spreads`)."""
        return class_spreads(self.delta)

    @property
    def complement(self) -> float:
        """``d − s0``, the dimension of ``V⊥`` (``math.inf`` at ``d = ∞``)."""
        return math.inf if math.isinf(self.d) else self.d - self.s0

    @cached_property
    def series_order(self) -> int:
        """``order``, or when ``None`` the smallest even order ``>= 8`` whose estimate is
        at most :data:`SERIES_TOLERANCE` (at most :data:`MAX_AUTO_ORDER`)."""
        if self.order is not None:
            return self.order
        order = 8
        while order < MAX_AUTO_ORDER and _truncation_estimate((self.s0, self.complement), order) > SERIES_TOLERANCE:
            order += 2
        return order

    @property
    def effective_order(self) -> int:
        """The highest ``k`` whose term is not identically 0 (0 when both cosines vanish)."""
        return 0 if math.isinf(self.s0) else self.series_order

    @cached_property
    def _terms(self) -> list[tuple[int, int, float]]:
        """``(k, j, coefficient)`` of every feature of one class (module docstring)."""
        kmax = self.effective_order
        mu1 = direction_moments(self.s0, kmax // 2)
        mu2 = direction_moments(self.complement, kmax // 2)
        terms = []
        for k in range(0, kmax + 1, 2):
            for j in range(k // 2 + 1):
                coefficient = 0.5 * float(binom(k, 2 * j)) * mu1[j] * mu2[k // 2 - j] / float(factorial(k))
                if coefficient > 0:
                    terms.append((k, j, coefficient))
        return terms

    @staticmethod
    def _check(points: Array, name: str = "points") -> Array:
        p = finite_array(name, points, (None, 4))
        if len(p) < 1:
            raise ValueError(f"{name} must hold at least one point (a row of {REDUCED_VARIABLES})")
        bad = np.argwhere(p[:, 2:] < -1e-9)
        if bad.size:
            i, c = bad[0]
            raise ValueError(f"{name}[{i}] has the radius {REDUCED_VARIABLES[2 + c]} = {float(p[i, 2 + c])!r} < 0: "
                             f"r1 = ‖P_V w‖ and r2 = ‖P_V⊥ w‖ are norms")
        return p  # ψ is even in r1 and r2: a radius pushed below 0 by round-off is its mirror image

    def _check_law(self, points: Array, weights: Array) -> tuple[Array, Array]:
        return weighted_points(self._check(points), weights)

    def _spread(self, r1: Array, r2: Array, tau: float) -> Array:
        # s_y > 0 except at w = 0, where z is a point mass: floored (see _MIN_SPREAD)
        return np.sqrt(np.maximum(tau * tau * r1 * r1 + r2 * r2, _MIN_SPREAD**2))

    def v(self, points: Array) -> Array:
        """``V(θ̄) = −½ a [h_0(b, s_+) − h_0(b, s_−)]``: shape ``(M,)``."""
        p = self._check(points)
        a, b, r1, r2 = p.T
        plus, minus = (relu_moments(b, self._spread(r1, r2, t), 0)[0] for t in self.spreads)
        return np.asarray(-0.5 * a * (plus - minus))

    def grad_v(self, points: Array) -> Array:
        """``∇V`` in ``(a, b, r1, r2)``: shape ``(M, 4)``."""
        p = self._check(points)
        a, b, r1, r2 = p.T
        out = np.zeros_like(p)
        for sign, tau in zip((-0.5, 0.5), self.spreads, strict=True):  # −½ for y = +1, +½ for y = −1
            h = relu_moments(b, self._spread(r1, r2, tau), 2)
            out[:, 0] += sign * h[0]
            out[:, 1] += sign * a * h[1]
            out[:, 2] += sign * a * tau * tau * r1 * h[2]
            out[:, 3] += sign * a * r2 * h[2]
        return out

    def features(self, points: Array, gradient: bool = False) -> tuple[Array, Array | None]:
        """``φ_f(θ̄_i)``, shape ``(F, M)``, with ``u(θ̄, θ̄') = Σ_f φ_f(θ̄) φ_f(θ̄')``; with
        ``gradient`` also ``∇φ_f``, shape ``(F, M, 4)``."""
        p = self._check(points)
        a, b, r1, r2 = p.T
        terms = self._terms
        kmax = self.effective_order + (2 if gradient else 0)
        phi = np.empty((2 * len(terms), len(p)))
        grad = np.empty((2 * len(terms), len(p), 4)) if gradient else None
        row = 0
        for tau in self.spreads:
            h = relu_moments(b, self._spread(r1, r2, tau), kmax)
            for k, j, coefficient in terms:
                e1, e2 = 2 * j, k - 2 * j
                c = math.sqrt(coefficient) * tau**e1  # τ_y^{4j} split between the two units
                radial = r1**e1 * r2**e2
                phi[row] = c * a * radial * h[k]
                if grad is not None:
                    d1 = e1 * r1 ** max(e1 - 1, 0) * r2**e2 if e1 else np.zeros_like(r1)
                    d2 = e2 * r2 ** max(e2 - 1, 0) * r1**e1 if e2 else np.zeros_like(r2)
                    grad[row, :, 0] = c * radial * h[k]
                    grad[row, :, 1] = c * a * radial * h[k + 1]
                    grad[row, :, 2] = c * a * (d1 * h[k] + radial * tau * tau * r1 * h[k + 2])
                    grad[row, :, 3] = c * a * (d2 * h[k] + radial * r2 * h[k + 2])
                row += 1
        return phi, grad

    def u(self, points: Array, others: Array) -> Array:
        """``u(θ̄_i, θ̄'_j)`` for every pair: shape ``(M, M')`` (the feature sum)."""
        phi, _ = self.features(points)
        phi_other, _ = self.features(self._check(others, "others"))
        return np.asarray(phi.T @ phi_other)

    def gradient(self, points: Array, weights: Array) -> Array:
        """``∇ψ(θ̄_i; ρ̄)`` for ``ρ̄ = Σ_j weights_j δ_{points_j}`` (weights ``>= 0`` summing
        to 1, :func:`fempde.solvers.point_flow.check_points`): shape ``(M, 4)``."""
        p, w = self._check_law(points, weights)
        phi, grad = self.features(p, gradient=True)
        assert grad is not None
        return np.asarray(self.grad_v(p) + np.einsum("fmc,f->mc", grad, phi @ w))

    def risk(self, points: Array, weights: Array) -> float:
        """``R(ρ̄) = 1 + 2∫V dρ̄ + ∬u dρ̄ dρ̄`` for the weighted points (as :meth:`gradient`)."""
        p, w = self._check_law(points, weights)
        phi, _ = self.features(p)
        mean_phi = phi @ w
        return float(1.0 + 2.0 * self.v(p) @ w + mean_phi @ mean_phi)

    def u_quadrature(self, points: Array, others: Array, angles: int = 24, nodes: int = 32) -> Array:
        """``u`` by direct quadrature, no series: Gauss–Jacobi in each cosine
        (:func:`~.neurons.cosine_rule`), Gauss–Legendre in the first pre-activation
        (split at the kink), closed form in the second. Slow (``O(M M' angles² nodes)``);
        the check of :meth:`u`."""
        p, q = self._check(points), self._check(others, "others")
        integer("angles", angles)
        integer("nodes", nodes)
        relu = activation("relu")
        (c1, w1), (c2, w2) = (cosine_rule(n, angles) for n in (self.s0, self.complement))
        cos1, cos2 = np.meshgrid(c1, c2, indexing="ij")
        weight = np.outer(w1, w2).ravel()
        out = np.zeros((len(p), len(q)))
        for tau in self.spreads:
            for i, (a, b, r1, r2) in enumerate(p):
                s = float(self._spread(np.array(r1), np.array(r2), tau))
                z, wz = gaussian_nodes(relu, s, nodes, shift=b)
                outer = wz * relu(b + s * z)
                for jj, (a2, b2, q1, q2) in enumerate(q):
                    s2 = float(self._spread(np.array(q1), np.array(q2), tau))
                    corr = np.clip((tau * tau * r1 * q1 * cos1 + r2 * q2 * cos2).ravel() / (s * s2), -1.0, 1.0)
                    inner = relu.gaussian_mean(b2 + s2 * corr[:, None] * z[None, :],
                                               (s2 * np.sqrt(1.0 - corr**2))[:, None])
                    out[i, jj] += 0.5 * a * a2 * float(weight @ (inner @ outer))
        return out


@dataclass(frozen=True)
class InitialLaw:
    """Seed 002's SGD start for Fig. 3, the one owner of it: ``a = output``, ``b = offset``,
    ``w ~ N(0, κ²/d I_d)`` (``kappa > 0``). :meth:`sample` draws units for SGD,
    :meth:`marginals` gives the law of ``(a, b, r1, r2)`` for the reduced PDE."""

    kappa: float = 0.8
    output: float = 1.0
    offset: float = 1.0

    def __post_init__(self) -> None:
        number("kappa (the scale of the initial weights)", self.kappa, positive=True)
        number("output (the initial output weight a)", self.output)
        number("offset (the initial offset b)", self.offset)

    def sample(self, n: int, d: int, rng: np.random.Generator) -> tuple[Array, Array, Array]:
        """``n`` units in dimension ``d``: ``w`` ``(n, d)`` (drawn from ``rng``), ``a`` and ``b`` ``(n,)``."""
        n = integer("n (the number of units)", n)
        d = integer("d (the dimension)", d)
        w = generator("rng", rng).standard_normal((n, d)) * (self.kappa / math.sqrt(d))
        return w, np.full(n, float(self.output)), np.full(n, float(self.offset))

    def marginals(self, d: int, s0: int, *, nodes: int = 12, rule: str = "gauss") -> list[tuple[Array, Array]]:
        """The law of ``(a, b, r1, r2)`` at dimension ``d``: ``r1 = κ χ_{s0}/√d`` and
        ``r2 = κ χ_{d−s0}/√d``, independent. One ``(nodes, weights)`` rule per coordinate
        (for :func:`fempde.solvers.point_flow.tensor_rule`): point masses for ``a`` and
        ``b``; for each radius ``nodes`` points of

        * ``rule="gauss"``: Gauss–Hermite in ``g ~ N(0, 1)`` mapped by ``F^{-1}(Φ(g))``
          (``F`` the radius' cdf; a smooth, nearly linear map for χ with many degrees
          of freedom): spectral in ``nodes`` while the flow map is smooth (tested);
        * ``rule="quantiles"``: the midpoint quantiles ``F^{-1}((j + ½)/m)``, equal
          weights: first order (the unbounded tails of ``F^{-1}``).

        Not a point mass, even with the ``d = ∞`` kernel: a point mass stays one (all
        its points share one velocity), and at the end of a plateau the units leave a
        saddle at a pace set by how far apart they start. The spread ``≈ κ/√(2d)`` of the
        radii at the paper's ``d`` is the one SGD has."""
        d = integer("d (the dimension)", d)
        s0 = integer("s0 (the dimension of V)", s0)
        if s0 > d:
            raise ValueError(f"s0 (the dimension of V) must lie in [1, d = {d}], got {s0}")
        nodes = integer("nodes (points per radius)", nodes)
        if rule == "gauss":
            g, weights = hermegauss(nodes)
            weights = weights / weights.sum()
        elif rule == "quantiles":
            levels = (np.arange(nodes) + 0.5) / nodes
            g, weights = -ndtri(1 - levels), np.full(nodes, 1.0 / nodes)
        else:
            raise ValueError(f"rule must be 'gauss' or 'quantiles', got {rule!r}")
        scale = self.kappa / math.sqrt(d)
        radii = []
        for n in (s0, d - s0):
            if n == 0:
                radii.append((np.zeros(1), np.ones(1)))
                continue
            law = chi(n, scale=scale)
            # F^{-1}(Φ(g)) through the tail that keeps its digits
            r = np.where(g < 0, law.ppf(ndtr(np.minimum(g, 0.0))), law.isf(ndtr(-np.maximum(g, 0.0))))
            radii.append((np.asarray(r, dtype=np.float64), weights.copy()))
        one = np.ones(1)
        return [(np.array([float(self.output)]), one), (np.array([float(self.offset)]), one.copy()), *radii]


def initial_marginals(d: int, s0: int, *, kappa: float = 0.8, output: float = 1.0, offset: float = 1.0,
                      nodes: int = 12, rule: str = "gauss") -> list[tuple[Array, Array]]:
    """``InitialLaw(kappa, output, offset).marginals(d, s0, nodes=nodes, rule=rule)``
    (:meth:`InitialLaw.marginals`)."""
    return InitialLaw(kappa, output, offset).marginals(d, s0, nodes=nodes, rule=rule)
