"""What every discretised mean-field problem shares: a gradient flow written edge by edge.

Each problem of :mod:`fempde.problems` is ``∂_t ρ = 2ξ(t) ∇·(ρ∇μ)`` with a
chemical potential ``μ = φ(ρ) + τ(log ρ + 1)``, ``φ`` the derivative of the
problem's interaction energy and ``τ ≥ 0`` its temperature. Discretely the
flow is a sum of two-point fluxes ``F_ij(ρ_i, ρ_j, φ_i, φ_j)`` over the mesh
edges, times the transmissibilities ``T_ij`` (:mod:`fempde.fem.flux`), with
lumped masses in time. :class:`EdgeFluxSystem` holds that scheme once — the
implicit-Euler residual and its Jacobian, the entropy, the cell fluxes — and a
problem's system supplies ``φ`` (:meth:`EdgeFluxSystem.potential`), its risk
and free energy, and how ``φ`` depends on ρ: on ``ρ_i`` alone (a slope,
:attr:`potential_slope`), through a sparse matrix (:attr:`potential_matrix`),
or through an operator it applies itself (:meth:`nonlocal_jacobian`).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray
from scipy.special import xlogy

from ..fem.flux import DEFAULT_FLUX, EdgeForm, assemble, mobility_code
from ..fem.jacobian import MatrixFreeJacobian
from ..fem.space import Space
from ..meanfield import DRIFT, Schedule
from ..meanfield.axis import HasSchedule

__all__ = ["EdgeFluxSystem"]

Array = NDArray[np.float64]


class EdgeFluxSystem:
    """The edge-flux gradient flow of a problem on a :class:`Space` (module docstring).

    Parameters
    ----------
    problem
        The problem's physics; its ``schedule`` gives ξ(t).
    space
        The P1 space.
    tau
        The temperature ``τ ≥ 0`` (viscosity, ``1/β``).
    flux
        The mobility of the τ = 0 flux: ``"limited"`` (second order where ρ is
        smooth and positive, upwind near ρ = 0; the default) or ``"upwind"``
        (first order); see :data:`fempde.fem.flux.MOBILITIES`. τ > 0 always
        uses Scharfetter–Gummel, and another ``flux`` than the default is then
        refused (``ValueError``), not ignored.
    """

    has_source = False
    potential_matrix: sp.csr_matrix | None = None
    """``∂φ/∂ρ`` when it is a sparse matrix (non-local problems set it)."""

    def __init__(self, problem: HasSchedule, space: Space, tau: float, *, flux: str = DEFAULT_FLUX) -> None:
        self.problem = problem
        self.space = space
        self.tau = float(tau)
        self.flux = flux
        self._mobility = mobility_code(flux)
        if flux != DEFAULT_FLUX and self.tau > 0:
            raise ValueError(f"flux={flux!r} chooses the mobility of tau = 0, but tau = {self.tau!r} > 0 uses the "
                             f"Scharfetter–Gummel flux: leave flux at its default {DEFAULT_FLUX!r}")

    @property
    def schedule(self) -> Schedule:
        schedule: Schedule = self.problem.schedule
        return schedule

    # What a problem supplies ------------------------------------------------------
    def potential(self, rho: Array) -> Array:
        """``φ(ρ)``, the chemical potential without the entropy part."""
        raise NotImplementedError

    def risk(self, rho: Array) -> float:
        raise NotImplementedError

    def free_energy(self, rho: Array) -> float:
        raise NotImplementedError

    def source(self, t: float) -> Array | None:
        """A source term at time ``t`` (manufactured solutions), or None."""
        return None

    @property
    def potential_slope(self) -> float | None:
        """``dφ_i/dρ_i`` when ``φ_i`` depends on ``ρ_i`` alone, else None (non-local)."""
        return None

    def potential_affine(self) -> tuple[float, Array] | None:
        """``(a, b)`` where ``φ = a ρ + b`` node by node (local and affine), else None."""
        return None

    @cached_property
    def edge_form(self) -> EdgeForm | None:
        """The explicit right-hand side ``dρ/dΞ`` as data for the compiled explicit stepper
        (:class:`~fempde.fem.flux.EdgeForm`), where the potential is local and affine and there
        is no source; else None (the explicit stepper does not apply). Made once per system."""
        affine = None if self.has_source else self.potential_affine()
        if affine is None:
            return None
        space = self.space
        return EdgeForm(i=space.edges[0], j=space.edges[1], weight=DRIFT * space.T, inverse_mass=1.0 / space.m,
                        tau=self.tau, mobility=self._mobility, slope=float(affine[0]),
                        offset=np.ascontiguousarray(affine[1], dtype=np.float64))

    def nonlocal_jacobian(self, coupling: Array) -> sp.csr_matrix | spla.LinearOperator:
        """The Jacobian's part through a non-local ``φ`` (edge weights ``coupling``):
        ``Cᵀ diag(coupling) C B`` with ``B = ∂φ/∂ρ`` (:attr:`potential_matrix`).
        A problem whose ``B`` is dense overrides this with a ``LinearOperator``."""
        if self.potential_matrix is None:
            raise NotImplementedError(f"{type(self).__name__} has neither a potential slope nor a potential matrix")
        incidence = self.space.incidence
        return (incidence.T @ sp.diags(coupling) @ incidence @ self.potential_matrix).tocsr()

    # The scheme -----------------------------------------------------------------------
    def chemical_potential(self, rho: Array) -> Array:
        """``μ_i = φ_i + τ (log ρ_i + 1)``; NaN where ``τ > 0`` and ``ρ_i = 0``."""
        if self.tau == 0:
            return self.potential(rho)
        with np.errstate(divide="ignore"):
            log = np.where(rho > 0, np.log(np.where(rho > 0, rho, 1.0)), np.nan)
        return self.potential(rho) + self.tau * (log + 1.0)

    def entropy(self, rho: Array) -> float:
        """``τ Σ m_i ρ_i log ρ_i`` (0 without temperature); round-off negatives count as 0,
        they are the "negative" certificate's business."""
        if self.tau == 0:
            return 0.0
        positive = np.maximum(rho, 0.0)
        return self.tau * float(self.space.m @ xlogy(positive, positive))

    def linearise(
        self, rho: Array, rho_old: Array, t_old: float, t_new: float, *, rescaled: float | None = None
    ) -> tuple[Array, sp.csr_matrix | MatrixFreeJacobian]:
        """Residual ``G`` and Jacobian ``∂G/∂ρ`` of the implicit-Euler step

        ``G_i = m_i (ρ_i − ρ_i^old) + 2ΔΞ Σ_j T_ij F_ij(ρ) − Δt m_i S_i(t_new)``,

        with ``ΔΞ = ∫_{t_old}^{t_new} ξ`` (exact in the rescaled time), or ``rescaled``
        when given (BDF2's effective step in Ξ).
        """
        space = self.space
        i, j = space.edges
        n = space.n
        pattern, slot = space.jacobian_pattern
        step = self.schedule.integral(t_old, t_new) if rescaled is None else rescaled
        weight = DRIFT * step * space.T
        residual = space.m * (rho - rho_old)
        src = self.source(t_new)
        if src is not None:
            residual -= (t_new - t_old) * space.m * src
        data = np.empty(pattern.nnz)
        coupling = np.empty(i.size)  # ∂(w_ij F_ij)/∂φ_i = −∂(w_ij F_ij)/∂φ_j
        slope = self.potential_slope
        assemble(i, j, weight, rho, self.potential(rho), self.tau, slope or 0.0, space.m, slot, residual, data,
                 coupling, self._mobility)
        jacobian: sp.csr_matrix | MatrixFreeJacobian = sp.csr_matrix(
            (data, pattern.indices, pattern.indptr), shape=(n, n))
        if slope is None:
            nonlocal_part = self.nonlocal_jacobian(coupling)
            if sp.issparse(nonlocal_part):
                jacobian = (jacobian + nonlocal_part).tocsr()
            else:  # a dense interaction: keep it matrix-free
                jacobian = MatrixFreeJacobian(jacobian, nonlocal_part)
        return residual, jacobian

    def flux_vectors(self, rho: Array, t: float) -> Array:
        """Cell-wise flux ``J = −2ξ (ρ ∇φ + τ ∇ρ) = −2ξ ρ ∇μ``, shape ``(dim, nelems)``;
        NaN where ξ(t) is infinite (a power-law schedule at ``t = 0``)."""
        space = self.space
        xi = self.schedule.xi(t)
        shape = (space.dim, space.mesh.t.shape[1])
        if not np.isfinite(xi):
            return np.full(shape, np.nan)
        grad = space.element_mean(rho) * space.element_gradient(self.potential(rho))
        return -DRIFT * xi * (grad + self.tau * space.element_gradient(rho))

    # What observers write ---------------------------------------------------------
    def point_fields(self, rho: Array) -> dict[str, Array]:
        return {"rho": rho, "psi": self.potential(rho), "mu": self.chemical_potential(rho)}

    def cell_fields(self, rho: Array, t: float) -> dict[str, Array]:
        return {"flux": self.flux_vectors(rho, t)}

