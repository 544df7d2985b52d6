"""The meshed convex domain as the particles see it: half-spaces for
reflection and projection, and uniform sampling by element volume."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

import meshes

__all__ = ["ConvexDomain", "confine", "confine_inplace", "first_crossing", "sample_density"]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ConvexDomain:
    """``Ω = {x : n_j · x <= b_j}`` from the boundary facets of a convex mesh.

    Attributes
    ----------
    normals, offsets
        Outward unit normals ``(n_faces, dim)`` and offsets ``(n_faces,)``
        (coplanar boundary facets merged into one face).
    center, inradius
        The largest ball inside Ω (points in it skip the face tests).
    """

    mesh: Mesh
    normals: Array
    offsets: Array
    center: Array
    inradius: float
    volumes: Array

    @classmethod
    def from_mesh(cls, mesh: Mesh) -> ConvexDomain:
        meshes.check(mesh)
        p, dim = np.asarray(mesh.p, dtype=np.float64), mesh.dim()
        facets = np.asarray(mesh.facets[:, mesh.boundary_facets()])
        if dim == 1:
            normals = np.sign(p[0, facets[0]] - p[0].mean())[:, None]
        elif dim == 2:
            tangent = p[:, facets[1]] - p[:, facets[0]]
            normals = np.vstack([tangent[1], -tangent[0]]).T
        else:
            normals = np.cross((p[:, facets[1]] - p[:, facets[0]]).T, (p[:, facets[2]] - p[:, facets[0]]).T)
        normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        offsets = np.einsum("ij,ji->i", normals, p[:, facets[0]])
        outward = np.sign(offsets - normals @ p.mean(axis=1))
        normals, offsets = normals * outward[:, None], offsets * outward
        # merge coplanar facets (a rectangle has four faces, not 4/h)
        key = np.round(np.column_stack([normals, offsets]) * 1e9).astype(np.int64)
        _, first = np.unique(key, axis=0, return_index=True)
        normals, offsets = normals[np.sort(first)], offsets[np.sort(first)]
        center, inradius = _chebyshev_ball(normals, offsets)
        volumes = np.abs(meshes.signed_volumes(p, np.asarray(mesh.t)))
        return cls(mesh, np.ascontiguousarray(normals), offsets, center, inradius, volumes)

    @property
    def dim(self) -> int:
        return self.normals.shape[1]

    def contains(self, x: Array, tol: float = 1e-12) -> NDArray[np.bool_]:
        """Which points ``x`` (shape ``(n, dim)``) lie in Ω."""
        return np.all(x @ self.normals.T <= self.offsets + tol, axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> Array:
        """``n`` points uniform in Ω, shape ``(n, dim)``: an element by volume,
        then uniform barycentric coordinates (normalised exponentials)."""
        t = np.asarray(self.mesh.t)
        elements = rng.choice(t.shape[1], size=n, p=self.volumes / self.volumes.sum())
        weights = rng.exponential(size=(n, self.dim + 1))
        weights /= weights.sum(axis=1, keepdims=True)
        vertices = np.asarray(self.mesh.p)[:, t[:, elements]]  # (dim, dim+1, n)
        return np.einsum("dkn,nk->nd", vertices, weights)


def sample_density(domain: ConvexDomain, values: Array, n: int, rng: np.random.Generator) -> Array:
    """``n`` i.i.d. points ``(n, dim)`` from the P1 density with nodal ``values``
    on ``domain.mesh``: an element by its mass, then a uniform point in it kept
    with probability ``ρ(x) / max_vertices ρ`` (rejection)."""
    values = np.asarray(values, dtype=np.float64)
    t = np.asarray(domain.mesh.t)
    if values.shape != (domain.mesh.p.shape[1],) or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("the density must be finite, >= 0 and given at every mesh node")
    element_mass = domain.volumes * values[t].mean(axis=0)
    if element_mass.sum() <= 0:
        raise ValueError("the density has zero mass")
    top = values[t].max(axis=0)
    out = np.empty((0, domain.dim))
    while len(out) < n:
        want = 2 * (n - len(out)) + 16
        elements = rng.choice(t.shape[1], size=want, p=element_mass / element_mass.sum())
        weights = rng.exponential(size=(want, domain.dim + 1))
        weights /= weights.sum(axis=1, keepdims=True)
        density = np.einsum("kn,nk->n", values[t[:, elements]], weights)
        keep = rng.uniform(size=want) * top[elements] < density
        points = np.einsum("dkn,nk->nd", np.asarray(domain.mesh.p)[:, t[:, elements]], weights)
        out = np.vstack([out, points[keep]])
    return out[:n]


def _chebyshev_ball(normals: Array, offsets: Array) -> tuple[Array, float]:
    from scipy.optimize import linprog

    dim = normals.shape[1]
    cost = np.zeros(dim + 1)
    cost[-1] = -1.0
    solution = linprog(cost, A_ub=np.column_stack([normals, np.ones(len(offsets))]), b_ub=offsets,
                       bounds=[(None, None)] * dim + [(0, None)])
    if not solution.success:
        raise meshes.MeshError(f"could not find a point inside the domain: {solution.message}")
    return solution.x[:dim], float(solution.x[dim]) * (1 - 1e-9)


@numba.njit(inline="always")  # inlined where it is used: the SGD loops test every move
def first_crossing(point: Array, rest: Array, normals: Array, offsets: Array, center: Array,
                   inradius: float) -> tuple[int, float]:  # pragma: no cover - compiled
    """The first face that the move from ``point`` (inside Ω) by ``rest`` crosses,
    and the fraction of the move before it; ``(-1, 1.0)`` when it crosses none
    (decided without the faces when the move ends in the inscribed ball)."""
    dim = point.shape[0]
    distance2 = 0.0
    for d in range(dim):
        distance2 += (point[d] + rest[d] - center[d]) ** 2
    hit, first = -1, 1.0
    if distance2 <= inradius * inradius:  # inside the inscribed ball: no face can be in the way
        return hit, first
    for j in range(normals.shape[0]):
        rate = 0.0
        height = offsets[j]
        for d in range(dim):
            rate += normals[j, d] * rest[d]
            height -= normals[j, d] * point[d]
        if rate > 0.0 and height < first * rate:
            first = max(height, 0.0) / rate
            hit = j
    return hit, first


@numba.njit(cache=True)
def confine_inplace(point: Array, rest: Array, normals: Array, offsets: Array, center: Array, inradius: float,
                    reflect: bool) -> None:  # pragma: no cover - compiled
    """Move ``point`` (inside Ω) by ``rest``, in place; ``rest`` is used as scratch.

    ``reflect=True``: billiard reflection, the path is followed and mirrored
    at each face it meets (:func:`first_crossing`), so any step, even longer
    than Ω, ends inside. ``reflect=False``: the point stops where the path
    first meets a face (projection onto Ω along the move).
    """
    dim = point.shape[0]
    for _ in range(10_000):
        hit, first = first_crossing(point, rest, normals, offsets, center, inradius)
        if hit < 0:
            for d in range(dim):
                point[d] += rest[d]
            return
        for d in range(dim):
            point[d] += first * rest[d]
            rest[d] *= 1.0 - first
        if not reflect:
            return
        along = 0.0
        for d in range(dim):
            along += normals[hit, d] * rest[d]
        for d in range(dim):
            rest[d] -= 2.0 * along * normals[hit, d]


@numba.njit(cache=True)
def confine(start: Array, move: Array, normals: Array, offsets: Array, center: Array, inradius: float,
            reflect: bool) -> Array:  # pragma: no cover - compiled
    """Where a move by ``move`` from ``start`` (inside Ω) ends; see :func:`confine_inplace`."""
    point = start.copy()
    confine_inplace(point, move.copy(), normals, offsets, center, inradius, reflect)
    return point
