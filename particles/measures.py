"""Comparing a particle cloud with a law: conservative deposition on the P1
space, the L1 distance on the mesh, and Wasserstein distances to weighted points.

A limit's law is a density on a mesh (its nodal masses are weighted points) or
weighted points; :func:`cloud_distance` measures a cloud of equal-weight
particles against either: W1 by the quantile formula in one variable (scipy),
W2 by exact optimal transport (POT) in more.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fempde.fem.space import Space

__all__ = ["cloud_distance", "deposit", "distance_name", "l1_gap", "transport", "wasserstein"]

Array = NDArray[np.float64]

MASS_FLOOR = 1e-15
"""Weighted points lighter than this fraction of the total are left out of a transport
(their mass moves a W2 distance by at most ``diam · sqrt(2 · MASS_FLOOR · count)``)."""


def deposit(space: Space, points: Array) -> Array:
    """Nodal density of the empirical measure ``(1/N) Σ δ_{w_i}`` (points ``(N, dim)``):
    each particle's mass goes to the vertices of its element in proportion to its
    barycentric coordinates, then divided by the lumped masses. Conservative:
    ``Σ m_i ρ_i = 1`` exactly."""
    points = np.asarray(points, dtype=np.float64)
    mesh = space.mesh
    finder = mesh.element_finder()
    elements = finder(*points.T)
    reference = space.basis.mapping.invF(points.T[:, :, None], tind=elements)[:, :, 0]  # (dim, N)
    barycentric = np.vstack([1.0 - reference.sum(axis=0), reference])
    barycentric = np.clip(barycentric, 0.0, None)  # round-off on element faces
    barycentric /= barycentric.sum(axis=0)
    vertices = np.asarray(mesh.t)[:, elements]
    mass = np.bincount(vertices.ravel(), barycentric.ravel(), space.n) / len(points)
    return mass / space.m


def l1_gap(space: Space, points: Array, rho: Array) -> float:
    """``Σ_i m_i |ρ̂_i − ρ_i|``: the L1 distance on the mesh between the deposited
    particles and ``ρ`` (at most 2)."""
    return float(space.m @ np.abs(deposit(space, points) - rho))


def distance_name(dim: int) -> str:
    """``"w1"`` for laws of one variable, ``"w2"`` beyond: what :func:`cloud_distance` measures."""
    return "w1" if dim == 1 else "w2"


def cloud_distance(cloud: ArrayLike, points: ArrayLike, weights: ArrayLike) -> float:
    """The Wasserstein distance between the particles ``cloud`` ``(N, k)`` (weights ``1/N``)
    and the weighted points ``points`` ``(P, k)``, ``weights`` ``(P,)`` (:func:`transport`)."""
    x = np.asarray(cloud, dtype=np.float64)
    return transport(x, np.full(len(x), 1.0 / max(len(x), 1)), points, weights)


def transport(points_a: ArrayLike, weights_a: ArrayLike, points_b: ArrayLike, weights_b: ArrayLike) -> float:
    """The Wasserstein distance between two weighted point sets ``(P, k)``, ``(P,)`` and
    ``(Q, k)``, ``(Q,)`` (weights >= 0, normalised here): W1 by the quantile formula for
    ``k = 1`` (scipy), exact W2 (POT's network simplex) beyond (module docstring)."""
    pa, wa = _weighted(points_a, weights_a, "a")
    pb, wb = _weighted(points_b, weights_b, "b")
    if pa.shape[1] != pb.shape[1]:
        raise ValueError(f"the two point sets must have one dimension, got {pa.shape[1]} and {pb.shape[1]}")
    if pa.shape[1] == 1:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(pa[:, 0], pb[:, 0], u_weights=wa, v_weights=wb))
    import ot

    cost = ot.dist(pa, pb)  # squared Euclidean
    return float(np.sqrt(max(ot.emd2(wa, wb, cost, numItermax=10**7), 0.0)))


def _weighted(points: ArrayLike, weights: ArrayLike, name: str) -> tuple[Array, Array]:
    p = np.asarray(points, dtype=np.float64)
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if p.ndim != 2 or w.shape != (len(p),) or not w.sum() > 0:
        raise ValueError(f"points_{name} (P, k) and weights_{name} (P,) must agree, with positive mass, got "
                         f"{p.shape} and {w.shape}")
    keep = w > MASS_FLOOR * w.sum()
    return p[keep], w[keep] / w[keep].sum()


def wasserstein(space: Space, points: Array, rho: Array) -> float:
    """Wasserstein distance between the particles (weights ``1/N``) and the
    measure ``Σ_i m_i ρ_i δ_{x_i}`` on the nodes (:func:`cloud_distance`)."""
    return cloud_distance(points, space.x.T, space.m * rho)
