"""The viscous porous-medium equation (Javanmard–Mondelli–Montanari 2020), δ → 0:

    ∂_t ρ = 2ξ(t) [ (1/|Ω|) ∇·(ρ ∇(ρ − f)) + τ Δρ ] (+ source),   no flux on ∂Ω,

the Wasserstein gradient flow ``∂_t ρ = 2ξ ∇·(ρ ∇μ)`` of the free energy
``F(ρ) = ½ R(ρ) + τ ∫ ρ log ρ`` with risk ``R(ρ) = (1/|Ω|) ∫ (f − ρ)²`` and
chemical potential ``μ = (ρ − f)/|Ω| + τ (log ρ + 1)`` (DESIGN.md §1a).

Discretely: ``F_h(ρ) = Σ_i m_i [ (f_i − ρ_i)² / (2|Ω|) + τ ρ_i log ρ_i ]`` with
lumped masses ``m_i``, so ``μ_i = (∂F_h/∂ρ_i)/m_i`` is the nodal formula above,
and the edge fluxes of :mod:`fempde.flux` with ``φ = (ρ − f)/|Ω|`` have the sign
of ``μ_i − μ_j``. Implicit Euler then gives, by convexity of ``F_h``,
``F_h(ρ^{n+1}) − F_h(ρ^n) ≤ −2ΔΞ Σ_edges T_ij F_ij (μ_i − μ_j) ≤ 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, NDArray
from scipy.special import xlogy

from .flux import assemble
from .linalg import MatrixFreeJacobian
from .meanfield import DRIFT
from .schedule import Constant, Schedule
from .space import NodalFunction, Space

__all__ = ["NonlocalSystem", "PorousMedium", "PorousMediumSystem"]

Array = NDArray[np.float64]
Source = Callable[[Array, float], ArrayLike]


@dataclass(frozen=True)
class PorousMedium:
    """The physics of the δ → 0 porous-medium flow.

    Parameters
    ----------
    target
        ``f(x)``, a callable of ``x`` with shape ``(dim, n)`` (or a number).
    tau
        Viscosity ``τ >= 0`` (``τ = 0``: degenerate diffusion with a free boundary).
    schedule
        Step-size schedule ξ(t); constant 1 by default.
    source
        Optional ``S(x, t)`` added to the right-hand side (manufactured solutions).
    """

    target: NodalFunction | float
    tau: float = 0.0
    schedule: Schedule = field(default_factory=Constant)
    source: Source | None = None

    def __post_init__(self) -> None:
        tau = self.tau
        if isinstance(tau, bool) or not isinstance(tau, (int, float)) or not math.isfinite(tau) or tau < 0:
            raise ValueError(f"tau must be a finite number >= 0 (the viscosity), got {tau!r}")
        if not isinstance(self.schedule, Schedule):
            raise TypeError(
                f"schedule must have xi(t) and integral(t0, t1) (e.g. fempde.Constant()), got {self.schedule!r}"
            )
        if not (callable(self.target) or isinstance(self.target, (int, float))):
            raise TypeError(f"target must be a callable f(x) or a number, got {type(self.target).__name__}")

    def discretise(self, space: Space) -> PorousMediumSystem:
        return PorousMediumSystem(self, space)


class PorousMediumSystem:
    """:class:`PorousMedium` on a :class:`Space`: discrete free energy, chemical
    potential, and the implicit-Euler residual with its sparse Jacobian."""

    def __init__(self, problem: PorousMedium, space: Space) -> None:
        self.problem = problem
        self.space = space
        self.tau = float(problem.tau)
        self.f = space.interpolate(problem.target, "target f")
        self.has_source = problem.source is not None

    # Free energy and its derivatives (the one place the constants live) ----------
    def potential(self, rho: Array) -> Array:
        """``φ = (ρ − f)/|Ω|``: the chemical potential without the entropy part."""
        return (rho - self.f) / self.space.volume

    def chemical_potential(self, rho: Array) -> Array:
        """``μ_i = (ρ_i − f_i)/|Ω| + τ (log ρ_i + 1)``; NaN where ``τ > 0`` and ``ρ_i = 0``."""
        if self.tau == 0:
            return self.potential(rho)
        with np.errstate(divide="ignore"):
            log = np.where(rho > 0, np.log(np.where(rho > 0, rho, 1.0)), np.nan)
        return self.potential(rho) + self.tau * (log + 1.0)

    def risk(self, rho: Array) -> float:
        """``R_h = (1/|Ω|) Σ m_i (f_i − ρ_i)²``."""
        return float(self.space.m @ (self.f - rho) ** 2) / self.space.volume

    def free_energy(self, rho: Array) -> float:
        """``F_h = ½ R_h + τ Σ m_i ρ_i log ρ_i``."""
        return 0.5 * self.risk(rho) + self.entropy(rho)

    def entropy(self, rho: Array) -> float:
        """``τ Σ m_i ρ_i log ρ_i`` (0 without viscosity); round-off negatives count as 0,
        they are the "negative" certificate's business."""
        if self.tau == 0:
            return 0.0
        positive = np.maximum(rho, 0.0)
        return self.tau * float(self.space.m @ xlogy(positive, positive))

    def source(self, t: float) -> Array | None:
        if self.problem.source is None:
            return None
        src = self.problem.source
        return self.space.interpolate(lambda x: src(x, t), "source")

    # Implicit Euler -----------------------------------------------------------------
    def linearise(
        self, rho: Array, rho_old: Array, t_old: float, t_new: float
    ) -> tuple[Array, sp.csr_matrix]:
        """Residual ``G`` and Jacobian ``∂G/∂ρ`` of the implicit-Euler step

        ``G_i = m_i (ρ_i − ρ_i^old) + 2ΔΞ Σ_j T_ij F_ij(ρ) − Δt m_i S_i(t_new)``,

        with ``ΔΞ = ∫_{t_old}^{t_new} ξ`` (exact in the rescaled time).
        """
        space = self.space
        i, j = space.edges
        n = space.n
        pattern, slot = space.jacobian_pattern
        weight = DRIFT * self.problem.schedule.integral(t_old, t_new) * space.T
        residual = space.m * (rho - rho_old)
        src = self.source(t_new)
        if src is not None:
            residual -= (t_new - t_old) * space.m * src
        data = np.empty(pattern.nnz)
        coupling = np.empty(i.size)  # ∂(w_ij F_ij)/∂φ_i = −∂(w_ij F_ij)/∂φ_j
        slope = self.potential_slope
        assemble(i, j, weight, rho, self.potential(rho), self.tau, slope or 0.0, space.m, slot, residual, data,
                 coupling)
        jacobian = sp.csr_matrix((data, pattern.indices, pattern.indptr), shape=(n, n))
        if slope is None:
            nonlocal_part = self.nonlocal_jacobian(coupling)
            if sp.issparse(nonlocal_part):
                jacobian = (jacobian + nonlocal_part).tocsr()
            else:  # a dense interaction: keep it matrix-free
                jacobian = MatrixFreeJacobian(jacobian, nonlocal_part)
        return residual, jacobian

    @property
    def potential_slope(self) -> float | None:
        """``dφ_i/dρ_i`` when ``φ_i`` depends on ``ρ_i`` alone (here ``1/|Ω|``), else None."""
        return 1.0 / self.space.volume

    def nonlocal_jacobian(self, coupling: Array) -> sp.csr_matrix | spla.LinearOperator:
        """The Jacobian's part through a non-local ``φ`` (edge weights ``coupling``):
        a sparse matrix, or a ``LinearOperator`` when it would be dense."""
        raise NotImplementedError

    def flux_vectors(self, rho: Array, t: float) -> Array:
        """Cell-wise flux ``J = −2ξ (ρ ∇φ + τ ∇ρ) = −2ξ ρ ∇μ``, shape ``(dim, nelems)``;
        NaN where ξ(t) is infinite (a power-law schedule at ``t = 0``)."""
        space = self.space
        xi = self.problem.schedule.xi(t)
        shape = (space.dim, space.mesh.t.shape[1])
        if not np.isfinite(xi):
            return np.full(shape, np.nan)
        grad = space.element_mean(rho) * space.element_gradient(self.potential(rho))
        return -DRIFT * xi * (grad + self.tau * space.element_gradient(rho))

    # What observers write ---------------------------------------------------------
    def point_fields(self, rho: Array) -> dict[str, Array]:
        return {"rho": rho, "f": self.f, "mu": self.chemical_potential(rho)}

    def cell_fields(self, rho: Array, t: float) -> dict[str, Array]:
        return {"flux": self.flux_vectors(rho, t)}


class NonlocalSystem(PorousMediumSystem):
    """A system whose potential couples nodes: ``∂φ/∂ρ`` is the sparse
    ``potential_matrix``, so the Jacobian's non-local part is ``Cᵀ diag(coupling) C B``."""

    potential_matrix: sp.csr_matrix

    @property
    def potential_slope(self) -> None:
        return None

    def nonlocal_jacobian(self, coupling: Array) -> sp.csr_matrix | spla.LinearOperator:
        incidence = self.space.incidence
        return (incidence.T @ sp.diags(coupling) @ incidence @ self.potential_matrix).tocsr()
