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
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from scipy.special import roots_jacobi

from ..fem.flux import DEFAULT_FLUX
from ..fem.space import Space
from ..meanfield import Constant, Schedule, check_class_gap, check_lam_beta, temperature
from .base import EdgeFluxSystem
from .neurons import Hinges, activation, gaussian_nodes

__all__ = ["IsotropicGaussians", "RadialDD", "RadialSystem"]

Array = NDArray[np.float64]


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
    ``Z1``: 1e-10 at d = 40 (against 48 and 48)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", activation(self.sigma))
        check_class_gap(self.delta)
        if not self.d >= 2:
            raise ValueError(f"the dimension d must be >= 2, got {self.d!r}")

    @property
    def activation(self) -> Hinges:
        assert isinstance(self.sigma, Hinges)  # converted in __post_init__
        return self.sigma

    @property
    def scales(self) -> tuple[float, float]:
        return 1 + self.delta, 1 - self.delta

    def v(self, r: Array) -> Array:
        plus, minus = self.scales
        return -0.5 * (self.activation.Q(plus * np.asarray(r)) - self.activation.Q(minus * np.asarray(r)))

    def u(self, r1: Array, r2: Array) -> Array:
        """``u_d(r1, r2)`` for every pair: shape ``(len(r1), len(r2))``."""
        r1, r2 = np.atleast_1d(np.asarray(r1, dtype=float)), np.atleast_1d(np.asarray(r2, dtype=float))
        if math.isinf(self.d):
            cosines, weights = np.zeros(1), np.ones(1)
        else:
            alpha = (self.d - 3) / 2
            cosines, weights = roots_jacobi(self.angles, alpha, alpha)
            weights = weights / weights.sum()
        total = np.zeros((r1.size, r2.size))
        for scale in self.scales:
            total += 0.5 * self._pairs(scale * r1, scale * r2, cosines, weights)
        return total

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
    """:class:`RadialDD` on an interval mesh of ``[r_min, R]`` with ``u_d`` tabulated on its nodes."""

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
        self.u = model.u(r, r)
        d = 0.0 if math.isinf(model.d) else model.d - 1
        self.confinement = 0.5 * problem.lam * r**2 - (self.tau * d * np.log(r) if self.tau > 0 else 0.0)
        self.interaction = np.ascontiguousarray(self.u * space.m[None, :])  # U M, tabulated (dense)

    def nonlocal_jacobian(self, coupling: Array) -> spla.LinearOperator:
        """``Cᵀ diag(coupling) C U M``, applied in O(n²) (a dense product): the Jacobian
        stays matrix-free (GMRES preconditioned by its sparse local part), where a
        sparse LU of the dense matrix cost O(n³) per Newton iteration."""
        incidence, interaction = self.space.incidence, self.interaction

        def apply(v: Array) -> Array:
            return np.asarray(incidence.T @ (coupling * (incidence @ (interaction @ np.ravel(v)))))

        return spla.LinearOperator((self.space.n, self.space.n), matvec=apply, dtype=np.float64)

    def potential(self, rho: Array) -> Array:
        """``φ = v + U M ρ + λr²/2 − β^{-1}(d−1) log r``."""
        return self.v + self.interaction @ rho + self.confinement

    def risk(self, rho: Array) -> float:
        """``R(ρ̄) = 1 + 2∫v dρ̄ + ∬u dρ̄ dρ̄``."""
        mass = self.space.m * rho
        return float(1.0 + 2.0 * self.v @ mass + mass @ self.u @ mass)

    def free_energy(self, rho: Array) -> float:
        """``½R + ∫(λr²/2 − β^{-1}(d−1) log r) ρ̄ + β^{-1} ∫ ρ̄ log ρ̄``."""
        return 0.5 * self.risk(rho) + float(self.space.m @ (self.confinement * rho)) + self.entropy(rho)

