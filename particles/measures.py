"""Comparing a particle cloud with a density on the mesh: conservative
deposition on the P1 space and Wasserstein distances."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fempde.fem.space import Space

__all__ = ["deposit", "l1_gap", "wasserstein"]

Array = NDArray[np.float64]


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


def wasserstein(space: Space, points: Array, rho: Array) -> float:
    """Wasserstein distance between the particles (weights ``1/N``) and the
    measure ``Σ_i m_i ρ_i δ_{x_i}`` on the nodes: W1 by the quantile formula in
    1-D (scipy), W2 by exact optimal transport (POT) in 2-D and 3-D."""
    points = np.asarray(points, dtype=np.float64)
    weights = np.clip(space.m * rho, 0.0, None)
    weights /= weights.sum()
    if space.dim == 1:
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(points[:, 0], space.x[0], v_weights=weights))
    import ot

    keep = weights > 0
    cost = ot.dist(points, space.x[:, keep].T)  # squared Euclidean
    uniform = np.full(len(points), 1.0 / len(points))
    return float(np.sqrt(ot.emd2(uniform, weights[keep] / weights[keep].sum(), cost, numItermax=10**7)))
