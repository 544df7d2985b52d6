"""The viscous porous-medium equation (Javanmard–Mondelli–Montanari 2020), δ → 0::

    ∂_t ρ = 2ξ(t) [ (1/|Ω|) ∇·(ρ ∇(ρ − f)) + τ Δρ ] (+ source),   no flux on ∂Ω,

the Wasserstein gradient flow ``∂_t ρ = 2ξ ∇·(ρ ∇μ)`` of the free energy
``F(ρ) = ½ R(ρ) + τ ∫ ρ log ρ`` with risk ``R(ρ) = (1/|Ω|) ∫ (f − ρ)²`` and
chemical potential ``μ = (ρ − f)/|Ω| + τ (log ρ + 1)`` (README, "Numerics").

Discretely: ``F_h(ρ) = Σ_i m_i [ (f_i − ρ_i)² / (2|Ω|) + τ ρ_i log ρ_i ]`` with
lumped masses ``m_i``, so ``μ_i = (∂F_h/∂ρ_i)/m_i`` is the nodal formula above,
and the edge fluxes of :mod:`fempde.fem.flux` with ``φ = (ρ − f)/|Ω|`` have the sign
of ``μ_i − μ_j``. Implicit Euler then gives, by convexity of ``F_h``,
``F_h(ρ^{n+1}) − F_h(ρ^n) ≤ −2ΔΞ Σ_edges T_ij F_ij (μ_i − μ_j) ≤ 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..checks import number
from ..fem.flux import DEFAULT_FLUX
from ..fem.space import NodalFunction, Space
from ..meanfield import Constant, Schedule
from .base import EdgeFluxSystem

__all__ = ["PorousMedium", "PorousMediumSystem"]

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
        number("tau (the viscosity)", self.tau, minimum=0.0)
        if not isinstance(self.schedule, Schedule):
            raise TypeError(
                f"schedule must have xi(t) and integral(t0, t1) (e.g. fempde.Constant()), got {self.schedule!r}"
            )
        if not (callable(self.target) or isinstance(self.target, (int, float))):
            raise TypeError(f"target must be a callable f(x) or a number, got {type(self.target).__name__}")

    def discretise(self, space: Space, *, flux: str = DEFAULT_FLUX) -> PorousMediumSystem:
        """The system on ``space``; ``flux`` chooses the τ = 0 mobility (:class:`EdgeFluxSystem`)."""
        return PorousMediumSystem(self, space, flux=flux)


class PorousMediumSystem(EdgeFluxSystem):
    """:class:`PorousMedium` on a :class:`Space`: discrete free energy, chemical
    potential ``φ = (ρ − f)/|Ω|`` local in ρ, and the optional source."""

    problem: PorousMedium

    def __init__(self, problem: PorousMedium, space: Space, *, flux: str = DEFAULT_FLUX) -> None:
        super().__init__(problem, space, problem.tau, flux=flux)
        self.f = space.interpolate(problem.target, "target f")
        self.has_source = problem.source is not None

    def potential(self, rho: Array) -> Array:
        """``φ = (ρ − f)/|Ω|``: the chemical potential without the entropy part."""
        return (rho - self.f) / self.space.volume

    @property
    def potential_slope(self) -> float | None:
        """``dφ_i/dρ_i = 1/|Ω|``."""
        return 1.0 / self.space.volume

    def potential_affine(self) -> tuple[float, Array] | None:
        """``φ = ρ/|Ω| − f/|Ω|``."""
        return 1.0 / self.space.volume, -self.f / self.space.volume

    def risk(self, rho: Array) -> float:
        """``R_h = (1/|Ω|) Σ m_i (f_i − ρ_i)²``."""
        return float(self.space.m @ (self.f - rho) ** 2) / self.space.volume

    def free_energy(self, rho: Array) -> float:
        """``F_h = ½ R_h + τ Σ m_i ρ_i log ρ_i``."""
        return 0.5 * self.risk(rho) + self.entropy(rho)

    def source(self, t: float) -> Array | None:
        if self.problem.source is None:
            return None
        src = self.problem.source
        return self.space.interpolate(lambda x: src(x, t), "source")

    def point_fields(self, rho: Array) -> dict[str, Array]:
        return {"rho": rho, "f": self.f, "mu": self.chemical_potential(rho)}
