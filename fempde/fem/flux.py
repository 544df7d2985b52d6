"""Two-point edge fluxes for ``∇·(ρ∇φ) + τΔρ`` and their derivatives.

``F`` is the flux from node ``i`` to node ``j`` of an edge, to be multiplied by
the transmissibility ``T_ij``. Both fluxes have the sign of ``μ_i − μ_j`` with
``μ = φ + τ log ρ`` (the chemical potential), which is what makes implicit
Euler dissipate the discrete free energy (README, "Numerics"):

* ``τ = 0``: ``F = M (φ_i − φ_j)`` with a mobility ``M >= 0`` that vanishes
  with the upwind density ``u = ρ_up`` (the node of larger φ), so an empty
  node never sends mass and ρ ≥ 0 holds under implicit Euler:

  - ``"upwind"``: ``M = u`` (Cancès–Guichard), first order;
  - ``"limited"`` (default): ``M = u g(d/u)`` with ``d = ρ_down`` and
    ``g(r) = (2 − r + r²)/2`` for ``r <= 1``, ``(3r − 1)/(2r)`` for ``r > 1``.
    ``g`` is C¹, ``g(0) = 1`` (upwind at a front, where the downwind node is
    empty), ``g(1) = 1``, ``g'(1) = ½``, so ``M = (u + d)/2 + O((u − d)²/u)``:
    the centred mobility, second order, where ρ is smooth and positive; and
    ``M <= 3u/2``, so it vanishes with ``u`` like the upwind one.
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

from ..checks import choice

__all__ = [
    "DEFAULT_FLUX", "MOBILITIES", "EdgeFlux", "EdgeForm", "assemble", "bernoulli", "bernoulli_derivative",
    "edge_flux", "mobility_code", "rate", "rate_and_bound",
]

MOBILITIES = ("limited", "upwind")
"""The τ = 0 mobilities (module docstring)."""
DEFAULT_FLUX = MOBILITIES[0]


def mobility_code(name: str) -> int:
    """The compiled code's number for a mobility name (its index in :data:`MOBILITIES`)."""
    choice("flux", name, MOBILITIES)
    return MOBILITIES.index(name)

Array = NDArray[np.float64]
Index = NDArray[np.int64]

_SMALL = 1e-3  # below this, B and B' from their Taylor series (no cancellation)

# One scalar implementation of the flux, compiled: the vectorised wrappers and the
# assembly loop below all call it. A fused loop over the edges allocates nothing
# per edge, where a numpy version makes a dozen edge-sized temporaries per Newton
# iteration, each page-faulted in afresh (benchmarks/results/README.md).


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
def _mobility(up: float, down: float, limited: bool) -> tuple[float, float, float]:
    """``M(u, d)`` and ``∂M/∂u``, ``∂M/∂d`` (module docstring); ``d < 0`` (round-off)
    counts as 0, ``u <= 0`` gives ``M = 0``."""
    if not limited:
        return up, 1.0, 0.0
    if up <= 0.0:
        return 0.0, (1.0 if down <= 0.0 else 1.5), 0.0
    if down <= 0.0:
        return up, 1.0, 0.0
    if down <= up:  # M = u − d/2 + d²/(2u)
        r = down / up
        return up - 0.5 * down + 0.5 * down * r, 1.0 - 0.5 * r * r, r - 0.5
    r = up / down  # M = 3u/2 − u²/(2d)
    return up * (1.5 - 0.5 * r), 1.5 - r, 0.5 * r * r


@numba.njit(cache=True)
def _flux(rho_i: float, rho_j: float, phi_i: float, phi_j: float, tau: float,
          mobility: int) -> tuple[float, float, float, float]:
    """Flux from ``i`` to ``j`` and ``∂F/∂ρ_i``, ``∂F/∂ρ_j``, ``∂F/∂φ_i = −∂F/∂φ_j``
    (``mobility``: the index of the τ = 0 mobility in :data:`MOBILITIES`)."""
    if tau == 0:
        dphi = phi_i - phi_j
        limited = mobility == 0
        if dphi >= 0:
            m, d_up, d_down = _mobility(rho_i, rho_j, limited)
            return m * dphi, d_up * dphi, d_down * dphi, m
        m, d_up, d_down = _mobility(rho_j, rho_i, limited)
        return m * dphi, d_down * dphi, d_up * dphi, m
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
    rho_i: Array, rho_j: Array, phi_i: Array, phi_j: Array, tau: float, mobility: int
) -> tuple[Array, Array, Array, Array]:
    value, d_i, d_j, d_phi = np.empty_like(rho_i), np.empty_like(rho_i), np.empty_like(rho_i), np.empty_like(rho_i)
    for k in range(rho_i.size):
        value[k], d_i[k], d_j[k], d_phi[k] = _flux(rho_i[k], rho_j[k], phi_i[k], phi_j[k], tau, mobility)
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


def edge_flux(rho_i: Array, rho_j: Array, phi_i: Array, phi_j: Array, tau: float,
              flux: str = DEFAULT_FLUX) -> EdgeFlux:
    """Edge flux of ``∇·(ρ∇φ) + τΔρ`` from ``i`` to ``j`` (see module docstring)."""
    code = mobility_code(flux)
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (rho_i, rho_j, phi_i, phi_j)))
    shape = arrays[0].shape
    r_i, r_j, p_i, p_j = (np.ascontiguousarray(v).ravel() for v in arrays)
    return EdgeFlux(*(v.reshape(shape) for v in _flux_array(r_i, r_j, p_i, p_j, float(tau), code)))


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
    mobility: int,
) -> None:
    """One pass over the edges: adds ``Σ_j w_ij F_ij`` to ``residual`` (which holds the
    local part on entry), writes the Jacobian ``diag(base) + ∂/∂ρ Σ_j w_ij F_ij`` into the CSR
    ``data`` (value ``k`` of ``[diagonal, (i, j) entries, (j, i) entries]`` goes to
    ``data[slot[k]]``), and ``coupling = w ∂F/∂φ_i`` per edge.

    ``mobility`` is the index of the τ = 0 mobility in :data:`MOBILITIES`.
    ``slope`` is ``dφ_k/dρ_k`` where ``φ_k`` depends on ``ρ_k`` alone (0 when the
    dependence is non-local: that part of the Jacobian is then built from ``coupling``).
    """
    n, n_edges = rho.size, i.size
    diagonal = base.copy()
    for e in range(n_edges):
        a, b = i[e], j[e]
        value, d_rho_i, d_rho_j, d_phi = _flux(rho[a], rho[b], phi[a], phi[b], tau, mobility)
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


# -- the explicit right-hand side ---------------------------------------------------------------


class EdgeForm(NamedTuple):
    """The right-hand side ``dρ_i/dΞ = −(1/m_i) Σ_j w_ij F_ij`` of a flow whose potential is local
    and affine, ``φ = slope ρ + offset`` (the porous-medium flow): the data the compiled explicit
    stepper reads. ``weight`` is ``w_ij = 2 T_ij`` (the drift factor times the transmissibility)."""

    i: Index
    j: Index
    weight: Array
    inverse_mass: Array
    tau: float
    mobility: int
    slope: float
    offset: Array


@numba.njit(cache=True)
def _flux_value(rho_i: float, rho_j: float, phi_i: float, phi_j: float, tau: float, mobility: int) -> float:
    """The flux of :func:`_flux` alone, with one transcendental call (``expm1``) per edge."""
    if tau == 0:
        dphi = phi_i - phi_j
        if dphi >= 0:
            return _mobility(rho_i, rho_j, mobility == 0)[0] * dphi
        return _mobility(rho_j, rho_i, mobility == 0)[0] * dphi
    a = (phi_j - phi_i) / tau
    s = abs(a)
    if s < _SMALL:
        b = 1.0 - s / 2 + s**2 / 12 - s**4 / 720
    else:
        b = s / np.expm1(s)  # B(s); 0 once expm1 overflows
    if a >= 0:  # B(a) = b, B(−a) = b + s
        return tau * (b * rho_i - (b + s) * rho_j)
    return tau * ((b + s) * rho_i - b * rho_j)


@numba.njit(cache=True)
def rate(i: Index, j: Index, weight: Array, inverse_mass: Array, tau: float, mobility: int, slope: float,
         offset: Array, rho: Array, out: Array) -> None:
    """``out = dρ/dΞ = −(1/m) Σ_j w_ij F_ij`` at ``rho`` (:class:`EdgeForm`'s fields): one pass
    over the edges, each flux added to one node and taken from the other (so ``Σ m out = 0``
    to round-off)."""
    out[:] = 0.0
    for e in range(i.size):
        a, b = i[e], j[e]
        value = weight[e] * _flux_value(rho[a], rho[b], slope * rho[a] + offset[a], slope * rho[b] + offset[b],
                                        tau, mobility)
        out[a] -= value
        out[b] += value
    for k in range(rho.size):
        out[k] *= inverse_mass[k]


@numba.njit(cache=True)
def rate_and_bound(i: Index, j: Index, weight: Array, inverse_mass: Array, tau: float, mobility: int,
                   slope: float, offset: Array, rho: Array, out: Array, rows: Array) -> float:
    """:func:`rate` into ``out``, and a bound of the spectral radius of its Jacobian: Gershgorin's,
    ``max_k (1/m_k) Σ_{edges ∋ k} (|∂(wF)/∂ρ_k| + |∂(wF)/∂ρ_l|)`` (``rows``: work space of size n),
    which for the five-point Laplacian is its largest eigenvalue ``8/h²``."""
    out[:] = 0.0
    rows[:] = 0.0
    for e in range(i.size):
        a, b = i[e], j[e]
        value, d_rho_i, d_rho_j, d_phi = _flux(rho[a], rho[b], slope * rho[a] + offset[a],
                                               slope * rho[b] + offset[b], tau, mobility)
        w = weight[e]
        out[a] -= w * value
        out[b] += w * value
        row = w * (abs(d_rho_i + d_phi * slope) + abs(d_rho_j - d_phi * slope))
        rows[a] += row
        rows[b] += row
    bound = 0.0
    for k in range(rho.size):
        out[k] *= inverse_mass[k]
        bound = max(bound, rows[k] * inverse_mass[k])
    return bound
