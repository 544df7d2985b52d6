"""Distributional dynamics of a two-layer network (Mei–Montanari–Nguyen 2018, Eqs. 7, 12):

    ∂_t ρ = 2ξ(t) [ ∇·(ρ ∇Ψ_λ(θ; ρ)) + β^{-1} Δρ ],   no flux on the walls of the θ-domain,
    Ψ_λ(θ; ρ) = V(θ) + ∫ U(θ, θ') ρ(dθ') + (λ/2)|θ|²,
    V(θ) = −E[y σ*(x; θ)],  U(θ, θ') = E[σ*(x; θ) σ*(x; θ')],

the gradient flow of ``F = ½R + (λ/2)∫|θ|²ρ + β^{-1}∫ρ log ρ`` with
``R(ρ) = E[y²] + 2∫Vρ + ∫∫Uρρ``. β = ∞ is the noiseless DD (Eq. 7).

Expectations over the data are quadratures with M points ``x_m``, weights
``w_m`` and regression function ``y_m = E[y | x_m]``, so the interaction
factors through the data: with ``Φ_mi = σ*(x_m; θ_i)`` and ρ the nodal point
masses ``m_i ρ_i``,

    ∫ U(θ_i, θ') ρ(dθ') = (Φᵀ W Φ M ρ)_i,      costing O(nM) — never an n × n matrix.

The discrete free energy ``F_h = ½[E y² + 2 Vᵀ Mρ + (ΦMρ)ᵀ W (ΦMρ)] + (λ/2) Σ m_i |θ_i|² ρ_i
+ β^{-1} Σ m_i ρ_i log ρ_i`` has ``φ = Ψ_λ`` as its exact gradient, so the
edge fluxes of :mod:`fempde.fem.flux` (``τ = 1/β``) dissipate it. Newton's
Jacobian is applied matrix-free (GMRES, the sparse local part as preconditioner).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

from ..fem.flux import DEFAULT_FLUX
from ..fem.space import Space
from ..meanfield import Constant, GaussianClasses, Schedule, check_lam_beta, temperature
from .base import EdgeFluxSystem

__all__ = ["DataLaw", "DistributionalDynamics", "DistributionalSystem", "gibbs_fixed_point"]

Array = NDArray[np.float64]
Unit = Callable[[Array, Array], Array]
"""``σ*(x; θ)``: data points ``x`` of shape ``(M, d_x)`` and parameters ``θ`` of
shape ``(n, D)`` to the responses, shape ``(M, n)``."""


@dataclass(frozen=True)
class DataLaw:
    """The law of ``(x, y)`` as a quadrature: points ``(M, d_x)``, weights ``(M,)``
    summing to 1, ``y_mean = E[y | x]`` at the points and ``y_second = E[y²]``.

    The rule must resolve the unit: for a kinked σ (piecewise linear, ReLU),
    Gauss–Hermite converges slowly — in the 2-D two-Gaussian test 30² points
    gave 9 % errors in U and 80² about 1 %. Check V and U against a finer rule.
    """

    points: Array
    weights: Array
    y_mean: Array
    y_second: float

    def __post_init__(self) -> None:
        m = len(self.weights)
        if self.points.ndim != 2 or self.points.shape[0] != m or self.y_mean.shape != (m,):
            raise ValueError(f"data points (M, d_x), weights (M,) and y_mean (M,) must agree, got "
                             f"{self.points.shape}, {self.weights.shape}, {self.y_mean.shape}")
        if np.any(self.weights < 0) or abs(float(self.weights.sum()) - 1) > 1e-10:
            raise ValueError("data weights must be >= 0 and sum to 1")

    @classmethod
    def two_gaussians(cls, delta: float, d: int, points: int = 80, relevant: int | None = None) -> DataLaw:
        """Seed 002's classes ``y = ±1``, ``x | y ~ N(0, Σ_y)`` (std ``1 + yΔ`` along the
        first ``relevant`` coordinates, default all; 1 elsewhere) by a product
        Gauss–Hermite rule of ``points`` per coordinate: ``M = 2 points^d``."""
        if d not in (1, 2, 3):
            raise ValueError(f"a product rule needs d in 1..3 (M = 2 points^d), got d = {d!r}")
        nodes, weights = np.polynomial.hermite_e.hermegauss(points)
        grid = np.stack(np.meshgrid(*[nodes] * d, indexing="ij"), axis=-1).reshape(-1, d)
        w = np.prod(np.stack(np.meshgrid(*[weights / weights.sum()] * d, indexing="ij"), axis=-1).reshape(-1, d),
                    axis=1)
        classes = GaussianClasses(delta, d, relevant)
        xs, ys = [], []
        for y in (-1.0, 1.0):
            xs.append(grid * classes.std(y))
            ys.append(np.full(len(grid), y))
        return cls(np.vstack(xs), np.concatenate([0.5 * w, 0.5 * w]), np.concatenate(ys), 1.0)


@dataclass(frozen=True)
class DistributionalDynamics:
    """The physics of DD: a unit model, a data law, ``λ >= 0``, ``β ∈ (0, ∞]``, ξ(t)."""

    unit: Unit
    data: DataLaw
    lam: float = 0.0
    beta: float = math.inf
    schedule: Schedule = field(default_factory=Constant)

    def __post_init__(self) -> None:
        if not callable(self.unit):
            raise TypeError(f"unit must be a callable sigma(x, theta), got {type(self.unit).__name__}")
        check_lam_beta(self.lam, self.beta, self.schedule)

    def discretise(self, space: Space, *, flux: str = DEFAULT_FLUX) -> DistributionalSystem:
        return DistributionalSystem(self, space, flux=flux)


class DistributionalSystem(EdgeFluxSystem):
    """:class:`DistributionalDynamics` on a :class:`Space` (module docstring)."""

    problem: DistributionalDynamics

    def __init__(self, problem: DistributionalDynamics, space: Space, *, flux: str = DEFAULT_FLUX) -> None:
        super().__init__(problem, space, temperature(problem.beta), flux=flux)
        data = problem.data
        shape = (len(data.weights), space.n)
        self.phi_matrix = np.empty(shape)  # Φ, (M, n); filled in blocks of nodes: the unit's temporaries stay small
        block = max(1, 2**22 // shape[0])
        for start in range(0, space.n, block):
            nodes = space.x.T[start:start + block]
            part = np.asarray(problem.unit(data.points, nodes), dtype=np.float64)
            if part.shape != (shape[0], len(nodes)) or not np.all(np.isfinite(part)):
                raise ValueError(f"the unit must give finite responses of shape (M, n) = {shape} (M data points, "
                                 f"n nodes), got shape {part.shape} or non-finite values for {len(nodes)} nodes")
            self.phi_matrix[:, start:start + block] = part
        self.V = -((data.weights * data.y_mean) @ self.phi_matrix)  # u @ Φ, not Φᵀ @ u: that copies Φ
        self.ridge = 0.5 * problem.lam * np.sum(space.x**2, axis=0)

    def prediction(self, rho: Array) -> Array:
        """``ŷ(x_m) = ∫ σ*(x_m; θ) ρ(dθ)`` at the data points."""
        return np.asarray(self.phi_matrix @ (self.space.m * rho))

    def potential(self, rho: Array) -> Array:
        """``Ψ_λ(θ_i; ρ) = V_i + (Φᵀ W ŷ)_i + (λ/2)|θ_i|²``."""
        return self.V + (self.problem.data.weights * self.prediction(rho)) @ self.phi_matrix + self.ridge

    def risk(self, rho: Array) -> float:
        """``R(ρ) = E[(y − ŷ(x))²] = E y² + 2∫Vρ + ∫∫Uρρ``."""
        data, y_hat = self.problem.data, self.prediction(rho)
        return float(data.y_second + 2 * self.V @ (self.space.m * rho) + data.weights @ y_hat**2)

    def free_energy(self, rho: Array) -> float:
        return 0.5 * self.risk(rho) + float(self.space.m @ (self.ridge * rho)) + self.entropy(rho)

    def expected_risk(self, rho: Array, n: int) -> float:
        """``E R_N`` of ``n`` units drawn i.i.d. from ρ: ``R(ρ) + (1/n)(∫U(θ, θ)ρ(dθ) − ∬Uρρ)``
        (the units do not interact with themselves in ``R(ρ)``; they do in ``R_N``)."""
        data, mass = self.problem.data, self.space.m * rho
        self_term = float((data.weights @ self.phi_matrix**2) @ mass)
        return self.risk(rho) + (self_term - float(data.weights @ self.prediction(rho) ** 2)) / n

    def nonlocal_jacobian(self, coupling: Array) -> spla.LinearOperator:
        """``Cᵀ diag(coupling) C Φᵀ W Φ M``, applied in O(nM + n_edges): never formed."""
        incidence, weights, m, phi = self.space.incidence, self.problem.data.weights, self.space.m, self.phi_matrix

        def apply(v: Array) -> Array:
            dpsi = (weights * (phi @ (m * np.ravel(v)))) @ phi
            return np.asarray(incidence.T @ (coupling * (incidence @ dpsi)))

        return spla.LinearOperator((self.space.n, self.space.n), matvec=apply, dtype=np.float64)


def gibbs_fixed_point(system: EdgeFluxSystem, *, damping: float = 0.5, tol: float = 1e-12,
                      max_iter: int = 10_000, start: Array | None = None) -> Array:
    """``ρ* ∝ exp(−β Ψ_λ(θ; ρ*))`` (Eq. 21) on the nodes, normalised by the lumped
    masses, by the damped iteration ``ρ ← (1 − a) ρ + a G(ρ)``; the damping ``a``
    is halved whenever the fixed-point residual grows (strong interactions oscillate).
    ``start``: the first iterate (default uniform; a late PDE state converges faster).

    Raises
    ------
    RuntimeError
        If it has not converged (``max |Δρ| <= tol · max ρ``) after ``max_iter`` steps.
    """
    if system.tau == 0:
        raise ValueError("the Gibbs fixed point needs finite beta (noisy DD)")
    m = system.space.m
    rho = np.full(system.space.n, 1.0 / system.space.volume) if start is None else np.array(start, dtype=float)
    if rho.shape != (system.space.n,) or np.any(rho < 0) or not np.all(np.isfinite(rho)):
        raise ValueError(f"start must be a density >= 0 on the {system.space.n} nodes")
    previous = np.inf
    for _ in range(max_iter):
        exponent = -system.potential(rho) / system.tau
        gibbs = np.exp(exponent - exponent.max())
        gibbs /= m @ gibbs
        residual = float(np.abs(gibbs - rho).max())
        if residual <= tol * gibbs.max():
            return gibbs
        if residual > previous:
            damping *= 0.5
        previous = residual
        rho = (1 - damping) * rho + damping * gibbs
    raise RuntimeError(f"Gibbs fixed point: no convergence in {max_iter} damped iterations; lower damping")
