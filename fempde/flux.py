"""Two-point edge fluxes for ``∇·(ρ∇φ) + τΔρ`` and their derivatives.

``F`` is the flux from node ``i`` to node ``j`` of an edge, to be multiplied by
the transmissibility ``T_ij``. Both fluxes have the sign of ``μ_i − μ_j`` with
``μ = φ + τ log ρ`` (the chemical potential), which is what makes implicit
Euler dissipate the discrete free energy (DESIGN.md §2):

* ``τ = 0``: upwind mobility, ``F = ρ_up (φ_i − φ_j)`` (Cancès–Guichard).
* ``τ > 0``: Scharfetter–Gummel, ``F = τ [B(a) ρ_i − B(−a) ρ_j]`` with
  ``a = (φ_j − φ_i)/τ`` and the Bernoulli function ``B(a) = a / (e^a − 1)``.
  Written as ``F = τ M (e^{μ_i/τ} − e^{μ_j/τ})`` with ``M > 0`` it has the sign
  of ``μ_i − μ_j``; it tends to the upwind flux as ``τ → 0`` and is second-order
  accurate where ``|a|`` is small (smooth solutions).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["EdgeFlux", "bernoulli", "bernoulli_derivative", "edge_flux"]

Array = NDArray[np.float64]

_SMALL = 1e-3  # below this |a|, B and B' from their Taylor series (no cancellation)


def bernoulli(a: Array) -> Array:
    """``B(a) = a / (e^a − 1)``, with ``B(0) = 1``."""
    a = np.asarray(a, dtype=np.float64)
    small = np.abs(a) < _SMALL
    safe = np.where(small, 1.0, a)
    with np.errstate(over="ignore", under="ignore"):
        big = safe / np.expm1(safe)
    with np.errstate(under="ignore", over="ignore"):
        series = 1.0 - a / 2 + a**2 / 12 - a**4 / 720
    return np.where(small, series, big)


def bernoulli_derivative(a: Array) -> Array:
    """``B'(a) = (e^a − 1 − a e^a) / (e^a − 1)^2``."""
    a = np.asarray(a, dtype=np.float64)
    small = np.abs(a) < _SMALL
    safe = np.where(small, 1.0, a)
    # For a < 0 use the form in e^{-|a|}-free quantities; for a > 0 divide through by e^{2a}.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        pos = safe > 0
        e = np.exp(-np.abs(safe))  # in (0, 1]
        em1 = -np.expm1(-np.abs(safe))  # 1 - e^{-|a|}
        # a > 0: B' = (e^{-a} - e^{-2a} - a e^{-a}) / (1 - e^{-a})^2
        d_pos = (e * em1 - safe * e) / em1**2
        # a < 0: B' = (e^a - 1 - a e^a)/(e^a - 1)^2 with e = e^{a}
        d_neg = (-em1 - safe * e) / em1**2
        big = np.where(pos, d_pos, d_neg)
    with np.errstate(under="ignore", over="ignore"):
        series = -0.5 + a / 6 - a**3 / 180
    return np.where(small, series, big)


class EdgeFlux(NamedTuple):
    """Flux and its partial derivatives; ``d_phi = ∂F/∂φ_i = −∂F/∂φ_j``."""

    value: Array
    d_rho_i: Array
    d_rho_j: Array
    d_phi: Array


def edge_flux(rho_i: Array, rho_j: Array, phi_i: Array, phi_j: Array, tau: float) -> EdgeFlux:
    """Edge flux of ``∇·(ρ∇φ) + τΔρ`` from ``i`` to ``j`` (see module docstring)."""
    if tau == 0:
        dphi = phi_i - phi_j
        from_i = dphi >= 0
        up = np.where(from_i, rho_i, rho_j)
        return EdgeFlux(up * dphi, np.where(from_i, dphi, 0.0), np.where(from_i, 0.0, dphi), up)
    with np.errstate(under="ignore"):  # B(a) ~ a e^{-a} underflows harmlessly for large drifts
        a = (phi_j - phi_i) / tau
        b_plus, b_minus = bernoulli(a), bernoulli(-a)
        # dF/da = τ [B'(a) ρ_i + B'(−a) ρ_j] and da/dφ_i = −1/τ
        d_phi = -(bernoulli_derivative(a) * rho_i + bernoulli_derivative(-a) * rho_j)
        return EdgeFlux(tau * (b_plus * rho_i - b_minus * rho_j), tau * b_plus, -tau * b_minus, d_phi)
