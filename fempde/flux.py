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

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["EdgeFlux", "assemble", "bernoulli", "bernoulli_derivative", "edge_flux"]

Array = NDArray[np.float64]
Index = NDArray[np.int64]

_SMALL = 1e-3  # below this, B and B' from their Taylor series (no cancellation)

# One scalar implementation of the flux, compiled: the vectorised wrappers and the
# assembly loop below all call it. A fused loop over the edges allocates nothing
# per edge; the numpy version it replaced made a dozen edge-sized temporaries per
# Newton iteration, each page-faulted in afresh: a quarter of a step at 5·10^5 nodes.


@numba.njit(cache=True)
def _bernoulli_nonnegative(s: float) -> tuple[float, float]:
    """``B(s)`` and ``B'(s)`` for ``s >= 0`` with one ``exp`` and one ``expm1``:
    ``B(s) = s e^{-s} / (1 − e^{-s})``, ``B'(s) = e^{-s} (1 − e^{-s} − s) / (1 − e^{-s})²``."""
    if s < _SMALL:
        return 1.0 - s / 2 + s**2 / 12 - s**4 / 720, -0.5 + s / 6 - s**3 / 180
    e = np.exp(-s)  # underflows harmlessly to 0 for large s: B and B' are then 0
    one_minus_e = -np.expm1(-s)
    return s * e / one_minus_e, e * (one_minus_e - s) / one_minus_e**2


@numba.njit(cache=True)
def _bernoulli_both(a: float) -> tuple[float, float, float, float]:
    """``B(a), B(−a), B'(a), B'(−a)`` from ``B(|a|)`` with the identities
    ``B(−s) = B(s) + s`` and ``B'(−s) = −B'(s) − 1`` (each term stays accurate:
    the small value is computed directly, the large one adds ``s`` to it)."""
    s = abs(a)
    b, db = _bernoulli_nonnegative(s)
    if a >= 0:
        return b, b + s, db, -db - 1.0
    return b + s, b, -db - 1.0, db


@numba.njit(cache=True)
def _flux(rho_i: float, rho_j: float, phi_i: float, phi_j: float, tau: float) -> tuple[float, float, float, float]:
    """Flux from ``i`` to ``j`` and ``∂F/∂ρ_i``, ``∂F/∂ρ_j``, ``∂F/∂φ_i = −∂F/∂φ_j``."""
    if tau == 0:
        dphi = phi_i - phi_j
        if dphi >= 0:
            return rho_i * dphi, dphi, 0.0, rho_i
        return rho_j * dphi, 0.0, dphi, rho_j
    b_plus, b_minus, db_plus, db_minus = _bernoulli_both((phi_j - phi_i) / tau)
    # dF/da = τ [B'(a) ρ_i + B'(−a) ρ_j] and da/dφ_i = −1/τ
    return tau * (b_plus * rho_i - b_minus * rho_j), tau * b_plus, -tau * b_minus, -(db_plus * rho_i + db_minus * rho_j)


@numba.njit(cache=True)
def _bernoulli_array(a: Array) -> tuple[Array, Array]:
    b, db = np.empty_like(a), np.empty_like(a)
    for k in range(a.size):
        b[k], _, db[k], _ = _bernoulli_both(a[k])
    return b, db


@numba.njit(cache=True)
def _flux_array(
    rho_i: Array, rho_j: Array, phi_i: Array, phi_j: Array, tau: float
) -> tuple[Array, Array, Array, Array]:
    value, d_i, d_j, d_phi = np.empty_like(rho_i), np.empty_like(rho_i), np.empty_like(rho_i), np.empty_like(rho_i)
    for k in range(rho_i.size):
        value[k], d_i[k], d_j[k], d_phi[k] = _flux(rho_i[k], rho_j[k], phi_i[k], phi_j[k], tau)
    return value, d_i, d_j, d_phi


def _on_array(a: Array, which: int) -> Array:
    values = np.atleast_1d(np.asarray(a, dtype=np.float64))
    return _bernoulli_array(np.ascontiguousarray(values).ravel())[which].reshape(values.shape)


def bernoulli(a: Array) -> Array:
    """``B(a) = a / (e^a − 1)``, with ``B(0) = 1``."""
    return _on_array(a, 0)


def bernoulli_derivative(a: Array) -> Array:
    """``B'(a) = (e^a − 1 − a e^a) / (e^a − 1)^2``."""
    return _on_array(a, 1)


class EdgeFlux(NamedTuple):
    """Flux and its partial derivatives; ``d_phi = ∂F/∂φ_i = −∂F/∂φ_j``."""

    value: Array
    d_rho_i: Array
    d_rho_j: Array
    d_phi: Array


def edge_flux(rho_i: Array, rho_j: Array, phi_i: Array, phi_j: Array, tau: float) -> EdgeFlux:
    """Edge flux of ``∇·(ρ∇φ) + τΔρ`` from ``i`` to ``j`` (see module docstring)."""
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (rho_i, rho_j, phi_i, phi_j)))
    shape = arrays[0].shape
    r_i, r_j, p_i, p_j = (np.ascontiguousarray(v).ravel() for v in arrays)
    return EdgeFlux(*(v.reshape(shape) for v in _flux_array(r_i, r_j, p_i, p_j, float(tau))))


@numba.njit(cache=True)
def assemble(
    i: Index,
    j: Index,
    weight: Array,
    rho: Array,
    phi: Array,
    tau: float,
    slope: float,
    base: Array,
    slot: Index,
    residual: Array,
    data: Array,
    coupling: Array,
) -> None:
    """One pass over the edges: adds ``Σ_j w_ij F_ij`` to ``residual`` (which holds the
    local part on entry), writes the Jacobian ``diag(base) + ∂/∂ρ Σ_j w_ij F_ij`` into the CSR
    ``data`` (value ``k`` of ``[diagonal, (i, j) entries, (j, i) entries]`` goes to
    ``data[slot[k]]``), and ``coupling = w ∂F/∂φ_i`` per edge.

    ``slope`` is ``dφ_k/dρ_k`` where ``φ_k`` depends on ``ρ_k`` alone (0 when the
    dependence is non-local: that part of the Jacobian is then built from ``coupling``).
    """
    n, n_edges = rho.size, i.size
    diagonal = base.copy()
    for e in range(n_edges):
        a, b = i[e], j[e]
        value, d_rho_i, d_rho_j, d_phi = _flux(rho[a], rho[b], phi[a], phi[b], tau)
        w = weight[e]
        residual[a] += w * value
        residual[b] -= w * value
        c = w * d_phi
        coupling[e] = c
        d_i = w * d_rho_i + c * slope
        d_j = w * d_rho_j - c * slope
        diagonal[a] += d_i
        diagonal[b] -= d_j
        data[slot[n + e]] = d_j
        data[slot[n + n_edges + e]] = -d_i
    for k in range(n):
        data[slot[k]] = diagonal[k]
