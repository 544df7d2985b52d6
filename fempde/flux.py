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

_SMALL = 1e-3  # below this, B and B' from their Taylor series (no cancellation)


def _bernoulli_nonnegative(s: Array) -> tuple[Array, Array]:
    """``B(s)`` and ``B'(s)`` for ``s >= 0`` with one ``exp`` and one ``expm1``:
    ``B(s) = s e^{-s} / (1 − e^{-s})``, ``B'(s) = e^{-s} (1 − e^{-s} − s) / (1 − e^{-s})²``."""
    with np.errstate(under="ignore", over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(-s)
        one_minus_e = -np.expm1(-s)
        b = s * e / one_minus_e
        db = e * (one_minus_e - s) / one_minus_e**2
        small = s < _SMALL
        if np.any(small):
            x = s[small]
            b[small] = 1.0 - x / 2 + x**2 / 12 - x**4 / 720
            db[small] = -0.5 + x / 6 - x**3 / 180
    return b, db


def _bernoulli_both(a: Array) -> tuple[Array, Array, Array, Array]:
    """``B(a), B(−a), B'(a), B'(−a)`` from ``B(|a|)`` with the identities
    ``B(−s) = B(s) + s`` and ``B'(−s) = −B'(s) − 1`` (each term stays accurate:
    the small value is computed directly, the large one adds ``s`` to it)."""
    s = np.abs(a)
    b, db = _bernoulli_nonnegative(s)
    b_neg, db_neg = b + s, -db - 1.0
    positive = a >= 0
    return (
        np.where(positive, b, b_neg),
        np.where(positive, b_neg, b),
        np.where(positive, db, db_neg),
        np.where(positive, db_neg, db),
    )


def bernoulli(a: Array) -> Array:
    """``B(a) = a / (e^a − 1)``, with ``B(0) = 1``."""
    return _bernoulli_both(np.atleast_1d(np.asarray(a, dtype=np.float64)))[0]


def bernoulli_derivative(a: Array) -> Array:
    """``B'(a) = (e^a − 1 − a e^a) / (e^a − 1)^2``."""
    return _bernoulli_both(np.atleast_1d(np.asarray(a, dtype=np.float64)))[2]


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
    a = (phi_j - phi_i) / tau
    b_plus, b_minus, db_plus, db_minus = _bernoulli_both(a)
    with np.errstate(under="ignore"):  # B(a) ~ a e^{-a} underflows harmlessly for large drifts
        # dF/da = τ [B'(a) ρ_i + B'(−a) ρ_j] and da/dφ_i = −1/τ
        d_phi = -(db_plus * rho_i + db_minus * rho_j)
        return EdgeFlux(tau * (b_plus * rho_i - b_minus * rho_j), tau * b_plus, -tau * b_minus, d_phi)
