"""P1 functions carried from one mesh to another: evaluated at any points of the domain.

:func:`p1_at` evaluates the P1 function with the given nodal values on a mesh
at points that need not be its nodes: the spatial estimate
(:mod:`fempde.solvers.accuracy`) reads the solution of a second mesh at the
nodes of the first, and a nodal ρ0 of the first at the nodes of the second.

Each point is located among the elements whose centroids are nearest to it,
by its barycentric coordinates; the element holding it (all coordinates ≥ 0)
gives the value, which is exact for the P1 function. A point just outside the
mesh — a node on a curved wall lies up to a sagitta ``O(h²)`` outside the
inscribed polygon of a finer mesh — takes the value of the nearest point of
the element it is closest to (coordinates clipped at 0): no extrapolation, so
a density stays non-negative. A point farther out than half an element's
size is refused (a mesh of another domain).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

__all__ = ["p1_at"]

Array = NDArray[np.float64]

_CANDIDATES = {1: 2, 2: 12, 3: 24}  # nearest element centroids tried per point
_OUTSIDE = 0.5  # farthest a point may lie outside the mesh, in sizes of its nearest element


def p1_at(mesh: Mesh, values: Array, points: Array) -> Array:
    """The P1 function with nodal ``values`` (shape ``(n,)``) on ``mesh`` at ``points``
    (shape ``(dim, m)``), shape ``(m,)`` (module docstring). Raises a ``ValueError``
    for a point outside the mesh by more than half the size of its nearest element."""
    p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t)
    points = np.asarray(points, dtype=np.float64).reshape(p.shape[0], -1)
    if p.shape[0] == 1:
        return _on_interval(p[0], values, points[0])
    element, weights = _located(p, t, points)
    return np.einsum("km,km->m", weights, values[t[:, element]])


def _on_interval(x: Array, values: Array, points: Array) -> Array:
    order = np.argsort(x)
    x, values = x[order], values[order]
    size = float(np.diff(x).max())
    if points.size and (points.min() < x[0] - _OUTSIDE * size or points.max() > x[-1] + _OUTSIDE * size):
        raise ValueError(f"points outside the interval [{x[0]:g}, {x[-1]:g}] of the mesh")
    return np.interp(points, x, values)  # constant beyond the ends, as clipped coordinates give


def _located(p: Array, t: NDArray[np.integer], points: Array) -> tuple[NDArray[np.int64], Array]:
    """For each point, its element and barycentric coordinates (shape ``(dim + 1, m)``)."""
    from scipy.spatial import cKDTree

    dim = p.shape[0]
    corners = p[:, t]  # (dim, dim + 1, nelems)
    inverse = np.linalg.inv((corners[:, 1:, :] - corners[:, :1, :]).transpose(2, 0, 1))  # (nelems, dim, dim)
    tree = cKDTree(corners.mean(axis=1).T)
    element = np.zeros(points.shape[1], dtype=np.int64)
    weights = np.full((points.shape[1], dim + 1), -np.inf)
    todo = np.arange(points.shape[1])
    for k in (_CANDIDATES[dim], 8 * _CANDIDATES[dim]):  # the few not found among the nearest: among more
        k = min(k, t.shape[1])
        _, candidates = tree.query(points[:, todo].T, k=k)
        candidates = np.asarray(candidates).reshape(todo.size, k)
        offset = points[:, todo].T[:, None, :] - corners[:, 0, candidates].transpose(1, 2, 0)  # (m, k, dim)
        tail = np.einsum("mkij,mkj->mki", inverse[candidates], offset)  # λ_1..λ_dim
        coordinates = np.concatenate([1.0 - tail.sum(axis=2, keepdims=True), tail], axis=2)  # (m, k, dim + 1)
        best = np.argmax(coordinates.min(axis=2), axis=1)
        rows = np.arange(todo.size)
        element[todo], weights[todo] = candidates[rows, best], coordinates[rows, best]
        todo = todo[weights[todo].min(axis=1) < -1e-12]
        if not todo.size:
            break
    outside = -weights.min(axis=1)
    if np.any(outside > _OUTSIDE):
        j = int(np.argmax(outside))
        raise ValueError(f"the point {points[:, j].tolist()} lies outside the mesh (by {outside[j]:.2g} of its "
                         "nearest element): the two meshes do not cover the same domain")
    weights = np.maximum(weights, 0.0)
    weights /= weights.sum(axis=1, keepdims=True)
    return element, weights.T
