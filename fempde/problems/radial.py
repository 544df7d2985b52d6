"""The isotropic two-Gaussian problem of Mei–Montanari–Nguyen (2018, Eq. 13) and
its rotation-reduced distributional dynamics.

Data: ``y = ±1`` with probability ½ and ``x | y ~ N(0, (1 + yΔ)² I_d)``; units
``σ(⟨w, x⟩)``. For a rotation-invariant law of ``w`` everything depends on
``r = ‖w‖``:

* ``Q(s) = E σ(sG)``, ``G ~ N(0, 1)`` (closed form for a piecewise-linear σ);
* ``v(r) = −½ [Q((1 + Δ) r) − Q((1 − Δ) r)]``;
* ``u_d(r1, r2) = ½ Σ_y E_c E[σ(s_y r1 Z1) σ(s_y r2 Z2)]`` with ``corr(Z1, Z2) = c``,
  the cosine between two uniform directions in R^d, of density
  ``∝ (1 − c²)^{(d−3)/2}`` (Gauss–Jacobi nodes); ``d = ∞``: ``c = 0``.

The law ``ρ̄`` of ``r`` on ``[r_min, R]`` follows (no Jacobian inside the
continuity equation)

    ∂_t ρ̄ = 2ξ ∂_r(ρ̄ ∂_r ψ) + 2ξβ^{-1} ∂_r(∂_r ρ̄ − ((d−1)/r) ρ̄),
    ψ(r; ρ̄) = v(r) + ∫ u_d(r, r') ρ̄(dr') + λ r²/2,

which is the edge-flux gradient flow with ``φ = ψ − β^{-1}(d−1) log r`` (the
radial Laplacian's drift is ``∂_r`` of the entropy relative to ``r^{d−1}``).
With noise the density vanishes like ``r^{d−1}`` at 0, so the domain starts at
a small ``r_min > 0`` (mass below it ``O(r_min^d)``); without noise ``r_min = 0``
is an ordinary no-flux wall.

The discrete system never forms the n × n table of ``u_d``: Mehler's formula
``E[f(Z1) g(Z2)] = Σ_k c^k E[f He_k] E[g He_k] / k!`` and the even moments of
the cosine, ``μ_{2j} = E c^{2j} = Π_{i<j} (2i + 1)/(d + 2i)`` (odd ones vanish),
factor it,

    u_d(r1, r2) = ½ Σ_y Σ_{k even} μ_k â_k(s_y r1) â_k(s_y r2),   â_k(s) = E[σ(sZ) He_k(Z)] / √k!,

with ``â_k`` in closed form for a sum of hinges (Gaussian integration by parts
twice: ``E[(sZ − t)_+ He_k(Z)] = s He_{k−2}(t/s) φ(t/s)``, ``k ≥ 2``). The
series is cut at the first even order whose remainder is below ``tol`` (a
bound from Parseval's identity, ``Σ_k â_k(s)² = E σ(sZ)²``, and ``μ_k``
decreasing), so ``U = G Gᵀ`` with ``G`` of shape ``(n, rank)``. For the default
``tol = 1e-10``: rank 2 at ``d = ∞`` (only ``k = 0``), 26 at ``d = 40``, 236 at
``d = 10``; the series converges slowly at small ``d`` (``μ_k ∼ k^{−(d−1)/2}``):
at ``d = 5`` the default cap, order 1000, stops at 2e-9. It is more accurate
than the quadrature :meth:`IsotropicGaussians.u` below ``d = 40`` (that one is
off by 5e-7 at ``d = 10``, 2e-2 at ``d = 2``: checked by Monte Carlo). A
potential, a risk and a Jacobian product cost ``O(n · rank)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from scipy.special import ndtr

from ..checks import integer, number
from ..fem.flux import DEFAULT_FLUX
from ..fem.space import Space
from ..meanfield import Constant, Schedule, check_lam_beta, temperature
from ..meanfield.data import class_spreads
from .base import EdgeFluxSystem
from .neurons import Hinges, activation, cosine_rule, direction_moments, gaussian_nodes, hermite_functions, normal_pdf

__all__ = ["InteractionFactor", "IsotropicGaussians", "RadialDD", "RadialSystem"]

Array = NDArray[np.float64]

_FAR = 60.0  # |t/s| beyond which φ(t/s) underflows to 0: the ratio is clipped there (no inf · 0)


def _ratio(knot: float, s: Array) -> Array:
    """``knot / s``, clipped to ``±_FAR`` (and ``±_FAR`` or 0 where ``s = 0``)."""
    positive = s > 0
    at_zero = 0.0 if knot == 0 else math.copysign(_FAR, knot)
    return np.clip(np.where(positive, knot / np.where(positive, s, 1.0), at_zero), -_FAR, _FAR)


def _hermite_coefficients(sigma: Hinges, s: Array) -> Iterator[Array]:
    """``â_k(s) = E[σ(sZ) He_k(Z)] / √k!`` for ``k = 0, 1, 2, …`` (``s >= 0``, shape ``(n,)``)
    in closed form: the hinges' terms ``s ψ_{k−2}(t/s) / √(k(k−1))`` for ``k >= 2``, with
    the normalised Hermite functions ``ψ_m = He_m φ / √m!`` (:func:`~.neurons.hermite_functions`)."""
    zeroth = np.full(s.shape, sigma.offset)
    first = sigma.slope * s
    ratios = np.array([_ratio(knot, s) for knot in sigma.knots]).reshape(len(sigma.knots), s.size)
    for x, knot, jump in zip(ratios, sigma.knots, sigma.jumps, strict=True):
        tail = ndtr(-x)  # P(sZ > t)
        zeroth = zeroth + jump * (s * normal_pdf(x) - knot * tail)
        first = first + jump * s * tail
    yield zeroth
    yield first
    scaled = np.array(sigma.jumps)[:, None] * s[None, :]
    for m, current in enumerate(hermite_functions(ratios)):  # ψ_m at every knot
        yield np.sum(scaled * current, axis=0) / math.sqrt((m + 2) * (m + 1))


def _second_moment(sigma: Hinges, s: Array) -> Array:
    """``E σ(sZ)²`` in closed form: σ is ``p + q t`` between knots, and
    ``∫_l^h (p + qsz)² φ = p² [Φ] + 2pqs [−φ] + q²s² [Φ − zφ]``."""
    positive = s > 0
    total = np.zeros(s.shape)
    p, q = sigma.offset, sigma.slope
    edges = [np.full(s.shape, -_FAR), *(_ratio(knot, s) for knot in sigma.knots), np.full(s.shape, _FAR)]
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        mass = ndtr(high) - ndtr(low)
        total += p * p * mass + 2 * p * q * s * (normal_pdf(low) - normal_pdf(high)) + q * q * s * s * (
            mass - (high * normal_pdf(high) - low * normal_pdf(low)))
        if k < len(sigma.knots):
            p, q = p - sigma.jumps[k] * sigma.knots[k], q + sigma.jumps[k]
    at_zero = float(sigma(np.array(0.0))) ** 2
    return np.where(positive, total, at_zero)


class InteractionFactor(NamedTuple):
    """``u_d(r_i, r_j) ≈ (G Gᵀ)_ij`` with ``G = columns`` of shape ``(n, rank)``,
    ``|u_d − G Gᵀ| <= error`` at every pair, from the Hermite series cut after ``order``."""

    columns: Array
    error: float
    order: int


@dataclass(frozen=True)
class IsotropicGaussians:
    """The isotropic two-Gaussian problem in dimension ``d`` (``d = math.inf`` allowed)."""

    delta: float
    d: float
    sigma: Hinges | str = "piecewise-linear"
    """The activation: a name of ``fempde.ACTIVATIONS`` or a :class:`fempde.Hinges`."""
    angles: int = 32
    nodes: int = 32
    """Gauss–Jacobi nodes in the cosine and Gauss–Legendre nodes per smooth piece in
    ``Z1`` of the quadrature :meth:`u`: 3e-12 relative at d = 40 (against 48 and 48),
    but 5e-7 at d = 10 and 1e-4 at d = 5 (the inner law is kinked near ``c = ±1``)."""
    tol: float = 1e-10
    """:meth:`factor`'s bound on ``|u_d − G Gᵀ|``, relative to ``max u_d`` on the nodes."""
    max_order: int = 1000
    """The highest Hermite order :meth:`factor` may use (rank ``<= 2(max_order/2 + 1)``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", activation(self.sigma))
        class_spreads(self.delta)
        if not (isinstance(self.d, float) and math.isinf(self.d) and self.d > 0):
            number("d (the dimension; math.inf allowed)", self.d, minimum=2)
        number("tol (the factor's relative error bound)", self.tol, positive=True, maximum=1)
        integer("max_order (the highest Hermite order)", self.max_order, minimum=0)
        integer("angles (Gauss-Jacobi nodes of u)", self.angles)
        integer("nodes (Gauss-Legendre nodes of u)", self.nodes)

    @property
    def activation(self) -> Hinges:
        assert isinstance(self.sigma, Hinges)  # converted in __post_init__
        return self.sigma

    @property
    def scales(self) -> tuple[float, float]:
        """The class spreads ``(1 + Δ, 1 − Δ)`` (:func:`fempde.meanfield.data.class_spreads`)."""
        return class_spreads(self.delta)

    def v(self, r: Array) -> Array:
        plus, minus = self.scales
        return -0.5 * (self.activation.Q(plus * np.asarray(r)) - self.activation.Q(minus * np.asarray(r)))

    def u(self, r1: Array, r2: Array) -> Array:
        """``u_d(r1, r2)`` for every pair by quadrature (``angles``, ``nodes``): shape
        ``(len(r1), len(r2))``; :meth:`factor` is the discrete systems' form."""
        r1, r2 = np.atleast_1d(np.asarray(r1, dtype=float)), np.atleast_1d(np.asarray(r2, dtype=float))
        cosines, weights = cosine_rule(self.d, self.angles)
        total = np.zeros((r1.size, r2.size))
        for scale in self.scales:
            total += 0.5 * self._pairs(scale * r1, scale * r2, cosines, weights)
        return total

    def factor(self, r: Array) -> InteractionFactor:
        """``u_d`` on the radii ``r`` (shape ``(n,)``, ``>= 0``) as ``G Gᵀ`` by its Hermite
        series (module docstring), cut at the first even order whose remainder bound
        ``½ Σ_y μ_{k+2} max_i (E σ(s_y r_i Z)² − Σ_{j<=k+1} â_j(s_y r_i)²)`` is at most
        ``tol · max_i u_d(r_i, r_i)`` (``|u_ij| <= max_i u_ii``: u is a Gram kernel).
        Costs ``O(n · order)``. Warns if ``max_order`` is reached first."""
        r = np.atleast_1d(np.asarray(r, dtype=np.float64))
        if r.ndim != 1 or not np.all(np.isfinite(r)) or np.any(r < 0):
            raise ValueError(f"the radii r must be a 1-D array of finite numbers >= 0, got shape {r.shape}")
        sigma = self.activation
        speeds = [scale * r for scale in self.scales]
        series = [_hermite_coefficients(sigma, s) for s in speeds]
        remainders = [_second_moment(sigma, s) for s in speeds]
        columns: list[Array] = []
        diagonal = np.zeros(r.size)
        moments = direction_moments(self.d, self.max_order // 2 + 1)  # μ_k = E c^k = moments[k // 2]
        order = 0
        while True:
            for coefficients, remainder in zip((next(g) for g in series), remainders, strict=True):
                remainder -= coefficients**2
                column = math.sqrt(0.5 * moments[order // 2]) * coefficients
                columns.append(column)
                diagonal += column**2
            for coefficients, remainder in zip((next(g) for g in series), remainders, strict=True):
                remainder -= coefficients**2  # odd orders: μ = 0, only Parseval's remainder
            error = 0.5 * moments[order // 2 + 1] * sum(float(np.maximum(rem, 0.0).max()) for rem in remainders)
            scale = float(diagonal.max())
            if error <= self.tol * scale or order + 2 > self.max_order:
                break
            order += 2
        if error > self.tol * scale:
            relative = error / scale if scale > 0 else math.inf
            warnings.warn(f"u_d's Hermite series at d = {self.d} reached max_order = {self.max_order} with a "
                          f"relative error bound {relative:.1e} > tol = {self.tol}; raise max_order "
                          f"or loosen tol", RuntimeWarning, stacklevel=2)
        return InteractionFactor(np.ascontiguousarray(np.column_stack(columns)), error, order)

    def _pairs(self, a: Array, b: Array, cosines: Array, weights: Array) -> Array:
        """``Σ_c w_c E[σ(a Z1) σ(b Z2)]`` with ``corr(Z1, Z2) = c``: Z1 by Gauss–Legendre on
        pieces split at σ's kinks ``t/a``, Z2 given Z1 in closed form."""
        out = np.empty((a.size, b.size))
        spread = np.sqrt(np.clip(1 - cosines**2, 0.0, None))
        symmetric = a.shape == b.shape and np.array_equal(a, b)
        for i, ai in enumerate(a):
            first = i if symmetric else 0  # u is symmetric: fill the upper triangle, mirror it
            bi = b[first:]
            sigma = self.activation
            z, wz = gaussian_nodes(sigma, ai, self.nodes)
            outer = wz * sigma(ai * z)  # (nz,)
            # inner[c, j, k] = E σ(b_j (c z_k + sqrt(1 − c²) G))
            inner = sigma.gaussian_mean(cosines[:, None, None] * np.outer(bi, z)[None],
                                             (spread[:, None] * bi[None, :])[:, :, None])
            out[i, first:] = weights @ (inner @ outer)
        if symmetric:
            upper = np.triu(out)
            out = upper + np.triu(upper, 1).T
        return out


@dataclass(frozen=True)
class RadialDD:
    """Rotation-reduced DD for :class:`IsotropicGaussians` (module docstring)."""

    model: IsotropicGaussians
    lam: float = 0.0
    beta: float = math.inf
    schedule: Schedule = field(default_factory=Constant)

    def __post_init__(self) -> None:
        check_lam_beta(self.lam, self.beta, self.schedule)

    def discretise(self, space: Space, *, flux: str = DEFAULT_FLUX) -> RadialSystem:
        return RadialSystem(self, space, flux=flux)


class RadialSystem(EdgeFluxSystem):
    """:class:`RadialDD` on an interval mesh of ``[r_min, R]``, with ``u_d = G Gᵀ`` on its
    nodes: ``factor`` is ``G``, shape ``(n, rank)`` with ``rank <= n`` (a Hermite series
    longer than the mesh is compressed to rank ``n``, the same ``U``); ``factor_error``
    and ``series_order`` are the bound and the order of :meth:`IsotropicGaussians.factor`'s
    series (the uncompressed columns are not kept)."""

    problem: RadialDD

    def __init__(self, problem: RadialDD, space: Space, *, flux: str = DEFAULT_FLUX) -> None:
        if space.dim != 1 or space.x.min() < 0:
            raise ValueError("the radial problem lives on an interval mesh of [r_min, R] with r_min >= 0")
        super().__init__(problem, space, temperature(problem.beta), flux=flux)
        r = space.x[0]
        if self.tau > 0 and r.min() <= 0:
            raise ValueError("with noise the radial domain must start at r_min > 0 (the density vanishes like "
                             "r^(d-1) there); use meshes.interval(r_min, R, h) with a small r_min")
        model = problem.model
        self.v = model.v(r)
        series = model.factor(r)
        self.factor_error, self.series_order = series.error, series.order
        columns = series.columns
        del series
        if columns.shape[1] > space.n:  # a series longer than the mesh: the same U, rank n (U is PSD)
            eigenvalues, vectors = np.linalg.eigh(columns @ columns.T)
            columns = np.ascontiguousarray(vectors * np.sqrt(np.maximum(eigenvalues, 0.0)))
        self.factor = columns
        d = 0.0 if math.isinf(model.d) else model.d - 1
        self.confinement = 0.5 * problem.lam * r**2 - (self.tau * d * np.log(r) if self.tau > 0 else 0.0)

    def interaction_field(self, rho: Array) -> Array:
        """``∫ u_d(r_i, r') ρ̄(dr') = (G Gᵀ M ρ)_i``, in O(n · rank)."""
        return np.asarray(self.factor @ (self.factor.T @ (self.space.m * rho)))

    def nonlocal_jacobian(self, coupling: Array) -> spla.LinearOperator:
        """``Cᵀ diag(coupling) C G Gᵀ M``, applied in O(n · rank + n_edges), never formed
        (GMRES preconditioned by the sparse local part converges in about rank + 1 iterations)."""
        incidence = self.space.incidence

        def apply(v: Array) -> Array:
            return np.asarray(incidence.T @ (coupling * (incidence @ self.interaction_field(np.ravel(v)))))

        return spla.LinearOperator((self.space.n, self.space.n), matvec=apply, dtype=np.float64)

    def potential(self, rho: Array) -> Array:
        """``φ = v + U M ρ + λr²/2 − β^{-1}(d−1) log r``."""
        return self.v + self.interaction_field(rho) + self.confinement

    def risk(self, rho: Array) -> float:
        """``R(ρ̄) = 1 + 2∫v dρ̄ + ∬u dρ̄ dρ̄``, the last ``|Gᵀ M ρ|²``."""
        mass = self.space.m * rho
        return float(1.0 + 2.0 * self.v @ mass + np.sum(np.square(self.factor.T @ mass)))

    def free_energy(self, rho: Array) -> float:
        """``½R + ∫(λr²/2 − β^{-1}(d−1) log r) ρ̄ + β^{-1} ∫ ρ̄ log ρ̄``."""
        return 0.5 * self.risk(rho) + float(self.space.m @ (self.confinement * rho)) + self.entropy(rho)
