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
truncated at ``k <= order``; its terms fall like ``E c^k`` ~ ``n^{−k/2}``, so
at the paper's ``s0 = 60`` the default ``order = 8`` is exact to ~1e-8
(tested against direct quadrature in ``c1, c2`` and ``z``, :meth:`u_quadrature`).
For small ``s0`` or ``d − s0`` (say < 10) raise ``order``. At ``d = ∞`` (``s0 = γd``)
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
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy.special import binom, factorial, ndtr, ndtri, roots_jacobi
from scipy.stats import chi

from ..meanfield import check_class_gap
from .neurons import activation, gaussian_nodes

__all__ = ["AnisotropicGaussians", "COORDINATES", "direction_moments", "initial_marginals", "relu_moments"]

Array = NDArray[np.float64]

COORDINATES = ("a", "b", "r1", "r2")
"""The reduced variables, in the column order of every point array ``(M, 4)``."""


def _is_dimension(n: object) -> bool:
    if isinstance(n, bool):
        return False
    if isinstance(n, int):
        return n >= 1
    return isinstance(n, float) and (math.isinf(n) and n > 0 or (n.is_integer() and n >= 1))


def direction_moments(n: float, jmax: int) -> Array:
    """``E c^{2j}``, ``j <= jmax``, for the cosine ``c`` between two independent
    uniform directions in ``R^n`` (``n = ∞``: 1, 0, 0, ...; ``n = 0``: no directions, same)."""
    out = np.zeros(jmax + 1)
    out[0] = 1.0
    if math.isinf(n) or n == 0:
        return out
    for j in range(1, jmax + 1):
        out[j] = out[j - 1] * (2 * j - 1) / (n + 2 * j - 2)
    return out


def relu_moments(b: Array, s: Array, kmax: int) -> Array:
    """``h_k(b, s) = E[∂^k (z + b)_+]``, ``z ~ N(0, s²)``, for ``k <= kmax``: shape
    ``(kmax + 1, *b.shape)`` (module docstring; ``s > 0``)."""
    b, s = np.broadcast_arrays(np.asarray(b, dtype=float), np.asarray(s, dtype=float))
    x = b / s
    density = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    out = np.empty((kmax + 1, *b.shape))
    out[0] = b * ndtr(x) + s * density
    if kmax >= 1:
        out[1] = ndtr(x)
    he_prev, he = np.zeros_like(x), np.ones_like(x)  # He_{-1}, He_0 at −x
    scale = density / s  # s^{1−k} φ at k = 2
    for k in range(2, kmax + 1):
        out[k] = scale * he
        he_prev, he = he, -x * he - (k - 2) * he_prev  # He_{n+1}(−x) = −x He_n − n He_{n−1}
        scale = scale / s
    return out


@dataclass(frozen=True)
class AnisotropicGaussians:
    """The reduced Fig. 3 problem: class gap ``delta``, ``s0 = dim V``, dimension ``d``.

    ``d = math.inf`` is the paper's limit ``s0 = γd → ∞`` when ``s0 = math.inf``
    too (both cosines vanish); a finite ``s0`` with ``d = ∞`` keeps the ``V``
    cosine. ``order`` truncates the Mehler series (module docstring). Points are
    arrays ``(M, 4)`` of :data:`COORDINATES` ``(a, b, r1, r2)``."""

    delta: float
    s0: float
    d: float
    order: int = 8

    def __post_init__(self) -> None:
        check_class_gap(self.delta)
        if not _is_dimension(self.d):
            raise ValueError(f"the dimension d must be an integer >= 1 or math.inf, got {self.d!r}")
        if not _is_dimension(self.s0) or self.s0 > self.d or (math.isinf(self.s0) and not math.isinf(self.d)):
            raise ValueError(f"s0 (the dimension of the relevant subspace V) must be an integer in [1, d = {self.d}] "
                             f"(math.inf only with d = math.inf), got {self.s0!r}")
        if isinstance(self.order, bool) or not isinstance(self.order, int) or self.order < 0 or self.order % 2:
            raise ValueError(f"order (the truncation of the Mehler series) must be an even integer >= 0, "
                             f"got {self.order!r}")

    @property
    def taus(self) -> tuple[float, float]:
        """``τ_+ = 1 + Δ``, ``τ_− = 1 − Δ``."""
        return 1.0 + self.delta, 1.0 - self.delta

    @property
    def complement(self) -> float:
        """``d − s0``, the dimension of ``V⊥`` (``math.inf`` at ``d = ∞``)."""
        return math.inf if math.isinf(self.d) else self.d - self.s0

    @property
    def effective_order(self) -> int:
        """The highest ``k`` whose term is not identically 0 (0 when both cosines vanish)."""
        return 0 if math.isinf(self.s0) else self.order

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
    def _check(points: Array) -> Array:
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 4:
            raise ValueError(f"points must have shape (M, 4) with columns {COORDINATES}, got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise ValueError("points must be finite (a non-finite coordinate: the flow has blown up?)")
        return p  # ψ is even in r1 and r2: a radius pushed below 0 by round-off is its mirror image

    def _spread(self, r1: Array, r2: Array, tau: float) -> Array:
        # s_y > 0 except at w = 0, where every h_k with k >= 2 is a point mass: floor it
        return np.sqrt(np.maximum(tau * tau * r1 * r1 + r2 * r2, 1e-300))

    def v(self, points: Array) -> Array:
        """``V(θ̄) = −½ a [h_0(b, s_+) − h_0(b, s_−)]``: shape ``(M,)``."""
        p = self._check(points)
        a, b, r1, r2 = p.T
        plus, minus = (relu_moments(b, self._spread(r1, r2, t), 0)[0] for t in self.taus)
        return np.asarray(-0.5 * a * (plus - minus))

    def grad_v(self, points: Array) -> Array:
        """``∇V`` in ``(a, b, r1, r2)``: shape ``(M, 4)``."""
        p = self._check(points)
        a, b, r1, r2 = p.T
        out = np.zeros_like(p)
        for sign, tau in zip((-0.5, 0.5), self.taus, strict=True):  # −½ for y = +1, +½ for y = −1
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
        terms = self._terms()
        kmax = self.effective_order + (2 if gradient else 0)
        phi = np.empty((2 * len(terms), len(p)))
        grad = np.empty((2 * len(terms), len(p), 4)) if gradient else None
        row = 0
        for tau in self.taus:
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
        phi_other, _ = self.features(others)
        return np.asarray(phi.T @ phi_other)

    def gradient(self, points: Array, weights: Array) -> Array:
        """``∇ψ(θ̄_i; ρ̄)`` for ``ρ̄ = Σ_j weights_j δ_{points_j}``: shape ``(M, 4)``."""
        phi, grad = self.features(points, gradient=True)
        assert grad is not None
        return np.asarray(self.grad_v(points) + np.einsum("fmc,f->mc", grad, phi @ weights))

    def risk(self, points: Array, weights: Array) -> float:
        """``R(ρ̄) = 1 + 2∫V dρ̄ + ∬u dρ̄ dρ̄`` for the weighted points."""
        phi, _ = self.features(points)
        mean_phi = phi @ weights
        return float(1.0 + 2.0 * self.v(points) @ weights + mean_phi @ mean_phi)

    def u_quadrature(self, points: Array, others: Array, angles: int = 24, nodes: int = 32) -> Array:
        """``u`` by direct quadrature, no series: Gauss–Jacobi in each cosine, Gauss–Legendre
        in the first pre-activation (split at the kink), closed form in the second.
        Slow (``O(M M' angles² nodes)``); the check of :meth:`u`."""
        p, q = self._check(points), self._check(others)
        relu = activation("relu")
        grids = []
        for n in (self.s0, self.complement):
            if math.isinf(n) or n == 0:
                grids.append((np.zeros(1), np.ones(1)))
            elif n == 1:
                grids.append((np.array([-1.0, 1.0]), np.array([0.5, 0.5])))
            else:
                alpha = (n - 3) / 2
                c, w = roots_jacobi(angles, alpha, alpha)
                grids.append((c, w / w.sum()))
        (c1, w1), (c2, w2) = grids
        cos1, cos2 = np.meshgrid(c1, c2, indexing="ij")
        weight = np.outer(w1, w2).ravel()
        out = np.zeros((len(p), len(q)))
        for tau in self.taus:
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


def initial_marginals(d: int, s0: int, *, kappa: float = 0.8, output: float = 1.0, offset: float = 1.0,
                      nodes: int = 12, rule: str = "gauss") -> list[tuple[Array, Array]]:
    """The law of ``(a, b, r1, r2)`` under seed 002's SGD start at dimension ``d``:
    ``a = output``, ``b = offset``, ``w ~ N(0, κ²/d I_d)``, so ``r1 = κ χ_{s0}/√d`` and
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
    for name, n in (("d", d), ("s0", s0)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    if s0 > d:
        raise ValueError(f"s0 (the dimension of V) must lie in [1, d = {d}], got {s0}")
    for name, value in (("kappa", kappa), ("output", output), ("offset", offset)):
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if kappa <= 0:
        raise ValueError(f"kappa (the scale of the initial weights) must be > 0, got {kappa!r}")
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise ValueError(f"nodes (points per radius) must be an integer >= 1, got {nodes!r}")
    if rule == "gauss":
        g, weights = hermegauss(nodes)
        weights = weights / weights.sum()
    elif rule == "quantiles":
        levels = (np.arange(nodes) + 0.5) / nodes
        g, weights = -ndtri(1 - levels), np.full(nodes, 1.0 / nodes)
    else:
        raise ValueError(f"rule must be 'gauss' or 'quantiles', got {rule!r}")
    scale = kappa / math.sqrt(d)
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
    return [(np.array([float(output)]), one), (np.array([float(offset)]), one.copy()), *radii]
