"""The porous-medium flow at finite bump width δ (Javanmard–Mondelli–Montanari 2020):

    ∂_t ρ = 2ξ(t) [ ∇·(ρ ∇Ψ^δ(·; ρ)) + τ Δρ ],
    Ψ^δ(w; ρ) = (1/|Ω|) ∫_Ω K^δ(x − w) (K^δ∗ρ(x) − f(x)) dx,

the gradient flow of ``F(ρ) = ½ R^δ(ρ) + τ ∫ ρ log ρ``,
``R^δ(ρ) = (1/|Ω|) ∫_Ω (f − K^δ∗ρ)²``. With ``boundary="restricted"`` (the
default) the convolution is restricted to Ω: bumps near the wall lose the part
outside, and at τ = 0 the flow holds mass on the wall, as a point mass that
no mesh resolves. With ``boundary="reflected"`` ``K^δ(x − w)`` is replaced by
the reflected kernel ``Σ_g K^δ(g x − w)`` of :mod:`fempde.fem.kernels` (a box
only): every bump keeps its whole mass in Ω, ``Ψ^δ`` has no normal derivative
at the wall, and ρ^δ tends to the δ → 0 flow (README, "Walls at finite δ").
As δ → 0, ``Ψ^δ → (ρ − f)/|Ω|``: the :class:`~fempde.PorousMedium` flow.

Discretely, ρ is the nodal point masses ``m_i ρ_i`` (lumped quadrature), so
``(K^δ∗ρ)(x_q) = Σ_i K_qi m_i ρ_i`` at the quadrature points ``x_q`` of the
mesh, with the sparse ``K_qi = K^δ(x_q − x_i)`` (or its reflected version), and

    F_h(ρ) = (1/2|Ω|) Σ_q w_q (f_q − (K M ρ)_q)² + τ Σ_i m_i ρ_i log ρ_i,
    μ_i = (∂F_h/∂ρ_i)/m_i = φ_i + τ (log ρ_i + 1),  φ = (1/|Ω|) Kᵀ W (K M ρ − f),

so ``φ_i = Ψ^δ(x_i; ρ)`` by the same quadrature and ``μ`` is the exact gradient
of ``F_h``: the edge fluxes of :mod:`fempde.fem.flux` dissipate it as for δ → 0.
Newton uses the exact Jacobian, whose non-local part is
``Cᵀ diag(∂(TF)/∂φ) C B`` with ``B = ∂φ/∂ρ = (1/|Ω|) Kᵀ W K M`` (sparse: nodes
within 2δ) and ``C`` the edge–node incidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..checks import choice, number
from ..fem.convolution import kernel_matrix
from ..fem.flux import DEFAULT_FLUX
from ..fem.kernels import KERNELS, BoxWalls, Kernel, check_boundary
from ..fem.space import Space
from .porous_medium import PorousMedium, PorousMediumSystem

__all__ = ["FiniteDeltaPorousMedium", "FiniteDeltaSystem"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FiniteDeltaPorousMedium(PorousMedium):
    """:class:`PorousMedium` with bumps of width ``delta`` and shape ``kernel``
    (see :data:`fempde.fem.kernels.KERNELS`); ``intorder`` is the degree of the
    quadrature rule for the integrals over Ω; ``boundary`` is how a bump meets
    the wall, ``"restricted"`` (cut off) or ``"reflected"`` (completed by its
    mirror images; an axis-aligned box only, δ at most half its shortest side)."""

    kernel: str = "triweight"
    delta: float = 0.1
    intorder: int = 4
    boundary: str = "restricted"

    def __post_init__(self) -> None:
        super().__post_init__()
        choice("kernel", self.kernel, tuple(KERNELS))
        number("delta (the bump width)", self.delta, positive=True)
        check_boundary(self.boundary)

    def discretise(self, space: Space, *, flux: str = DEFAULT_FLUX) -> FiniteDeltaSystem:
        return FiniteDeltaSystem(self, space, flux=flux)


class FiniteDeltaSystem(PorousMediumSystem):
    """:class:`FiniteDeltaPorousMedium` on a :class:`Space` (module docstring); ``φ``
    couples nodes through the sparse ``potential_matrix`` ``B = ∂φ/∂ρ``."""

    problem: FiniteDeltaPorousMedium

    def __init__(self, problem: FiniteDeltaPorousMedium, space: Space, *, flux: str = DEFAULT_FLUX) -> None:
        super().__init__(problem, space, flux=flux)
        extent = float(np.max(np.ptp(space.x, axis=1)))
        if problem.delta > extent:
            raise ValueError(
                f"delta={problem.delta} is wider than the domain (extent {extent:.3g}); "
                "the bumps must be smaller than Ω"
            )
        self.kernel = Kernel(problem.kernel, space.dim, float(problem.delta))
        self.walls = BoxWalls.from_mesh(space.mesh) if problem.boundary == "reflected" else None
        points, self.weights = space.quadrature(problem.intorder)
        target = problem.target(points.T) if callable(problem.target) else problem.target
        self.f_quadrature = np.broadcast_to(np.asarray(target, dtype=np.float64), (points.shape[0],)).copy()
        if not np.all(np.isfinite(self.f_quadrature)):
            bad = int(np.count_nonzero(~np.isfinite(self.f_quadrature)))
            raise ValueError(f"target f is not finite at {bad} of {points.shape[0]} quadrature points")
        kernel = kernel_matrix(self.kernel, points, space.x.T, self.walls)
        # K M: density (nodal) -> K^δ∗ρ at the quadrature points
        self.convolution = (kernel @ sp.diags(space.m)).tocsr()
        weighted = sp.diags(self.weights / space.volume) @ kernel
        self.adjoint = weighted.T.tocsr()  # (1/|Ω|) Kᵀ W
        self.potential_matrix = (self.adjoint @ self.convolution).tocsr()  # B = ∂φ/∂ρ

    @property
    def potential_slope(self) -> None:
        return None

    def smoothed(self, rho: Array) -> Array:
        """``K^δ∗ρ`` at the quadrature points."""
        return np.asarray(self.convolution @ rho)

    def potential(self, rho: Array) -> Array:
        """``φ_i = Ψ^δ(x_i; ρ) = (1/|Ω|) Σ_q w_q K^δ(x_q − x_i) (K^δ∗ρ − f)(x_q)``."""
        return np.asarray(self.adjoint @ (self.smoothed(rho) - self.f_quadrature))

    def risk(self, rho: Array) -> float:
        """``R^δ_h = (1/|Ω|) Σ_q w_q (f_q − K^δ∗ρ(x_q))²``."""
        return float(self.weights @ (self.f_quadrature - self.smoothed(rho)) ** 2) / self.space.volume

