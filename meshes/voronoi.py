"""Voronoi-dual transmissibilities and masses of a Delaunay mesh.

On a Delaunay mesh the Voronoi cells ``V_i`` of the nodes, clipped to the
meshed domain ``Ω`` (a convex polytope), are an admissible finite-volume mesh:
the face between two cells is orthogonal to the edge joining their nodes, so
the two-point flux ``T_ij (u_i − u_j)`` with

    ``T_ij = |V_i ∩ V_j ∩ Ω| / |x_i − x_j| ≥ 0``,   ``m_i = |V_i ∩ Ω|``

is consistent, and non-negative by construction (Eymard–Gallouët–Herbin,
*Finite volume methods*, 2000, §3.1). In 1-D and on the interior edges of a
2-D Delaunay mesh it is the P1 stiffness itself (the cotangent formula); in
3-D it is not, and a Delaunay mesh can have P1 transmissibilities ``T_ij < 0``
(wall layers with slivers, :func:`meshes.ball`) where the Voronoi ones are
``≥ 0``.

How it is computed: each simplex ``K`` is cut into its circumcentric flags,
one per ordering ``(a, b, c, d)`` of its vertices: the simplex of the
circumcentres of ``{a}``, ``{a, b}``, ``{a, b, c}``, ``K`` (a node, an edge
midpoint, a face circumcentre, the circumcentre), with the sign of the
ordering. The signed flags at node ``a`` add up to ``V_a`` as a chain, and
their faces opposite ``a`` to the Voronoi faces of ``a``'s edges, also where a
circumcentre lies in another simplex or outside ``Ω``; intersecting every
flag with ``Ω`` (:mod:`meshes.clipping`: the hull's planes that its vertices
violate cut it) gives the clipped cells and faces. Only flags near the wall
need clipping; the rest is closed-form and vectorised.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

from .clipping import clipped_measure
from .simplices import MeshError

__all__ = ["VoronoiDual", "check_delaunay", "delaunay_violations", "voronoi_dual"]

Array = NDArray[np.float64]
Index = NDArray[np.int64]

_DELAUNAY_TOL = 1e-9
"""Relative slack of the empty-sphere test (co-spherical nodes of a lattice pass it)."""


@dataclass(frozen=True)
class VoronoiDual:
    """The Voronoi cells of a Delaunay mesh's nodes, clipped to the mesh's domain.

    ``edges`` (shape ``(2, n_edges)``, ``i < j``, sorted) are the mesh's edges
    whose Voronoi face has a positive area,
    ``T`` their transmissibilities ``|V_i ∩ V_j ∩ Ω| / |x_i − x_j|`` and
    ``masses`` (shape ``(n,)``) the cell volumes ``|V_i ∩ Ω|``.
    """

    edges: Index
    T: Array
    masses: Array


def voronoi_dual(mesh: Mesh, *, check: bool = True) -> VoronoiDual:
    """The clipped Voronoi cells of ``mesh``'s nodes (module docstring); ``check=False``
    skips the Delaunay test, for a caller that has just made it.

    Raises
    ------
    MeshError
        If the mesh is not the Delaunay triangulation of its nodes
        (:func:`check_delaunay`): its edges are then not the cells' neighbours.
    """
    p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t, dtype=np.int64)
    if check:
        check_delaunay(mesh)
    dim = p.shape[0]
    edges = _edges(t, p.shape[1])
    if dim == 1:  # the cells are the half-intervals: P1 exactly
        length = np.abs(p[0, edges[1]] - p[0, edges[0]])
        masses = np.bincount(edges.ravel(), weights=np.tile(0.5 * length, 2), minlength=p.shape[1]).astype(np.float64)
        return VoronoiDual(edges=edges, T=1.0 / length, masses=masses)
    centres, ids = _flag_centres(p, t)
    planes = _hull_planes(p)
    ptr, violated = _violated_planes(centres, planes, p)
    area, masses = _flag_measures(p, t, edges, centres, ids, planes, ptr, violated)
    length = np.linalg.norm(p[:, edges[1]] - p[:, edges[0]], axis=0)
    T = area / length
    scale = float(np.max(np.abs(T)))
    if np.any(T < -1e-10 * scale):  # a Delaunay mesh cannot have one: the geometry broke down
        k = int(np.argmin(T))
        raise MeshError(f"the Voronoi face of edge {edges[:, k].tolist()} has a negative area {area[k]:.3g}; "
                        "the mesh is not Delaunay to round-off: remesh the domain")
    # Co-spherical nodes (a lattice, a cube's corners) make Delaunay edges whose Voronoi
    # face is a point or a segment: area 0 up to round-off. No flux crosses them; like
    # the P1 stiffness's zero entries, they are left out of the graph.
    keep = T > 1e-12 * scale
    return VoronoiDual(edges=edges[:, keep], T=T[keep], masses=masses)


def delaunay_violations(mesh: Mesh) -> NDArray[np.bool_]:
    """Which interior facets of ``mesh`` fail the empty-sphere test (the vertex across
    lies inside the circumsphere of the simplex on this side, by more than a relative
    ``1e-9`` of its radius squared), in the order of :func:`_facet_pairs`."""
    p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t, dtype=np.int64)
    if p.shape[0] == 1:
        return np.zeros(0, dtype=bool)
    left, _, across = _facet_pairs(t, p.shape[1])
    centre = _circumcentres(p.T[t.T])[left]  # (pairs, dim)
    radius2 = np.sum((p[:, t[0, left]].T - centre) ** 2, axis=1)
    return np.asarray(radius2 - np.sum((p[:, across].T - centre) ** 2, axis=1) > _DELAUNAY_TOL * radius2)


def check_delaunay(mesh: Mesh) -> None:
    """Raise a :class:`MeshError` unless ``mesh`` is the Delaunay triangulation of its
    nodes (:func:`delaunay_violations` finds none)."""
    bad = delaunay_violations(mesh)
    if np.any(bad):
        p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t, dtype=np.int64)
        left, _, across = _facet_pairs(t, p.shape[1])
        k = int(np.flatnonzero(bad)[0])
        raise MeshError(
            f"the mesh is not the Delaunay triangulation of its nodes: {int(bad.sum())} interior facets fail "
            f"the empty-sphere test, first node {int(across[k])} at x = {np.round(p[:, across[k]], 6).tolist()} "
            f"inside the circumsphere of element {int(left[k])}; the Voronoi transmissibilities need the "
            "Delaunay edges as the cells' neighbours: triangulate the nodes with scipy.spatial.Delaunay "
            "(meshes.disk, polygon and ball do), or use transmissibility='p1'"
        )


def _edges(t: Index, n: int) -> Index:
    """The edges ``(2, n_edges)`` of the simplices ``t``, ``i < j``, sorted by ``(i, j)``."""
    pairs = np.concatenate([np.sort(t[[a, b]], axis=0) for a, b in itertools.combinations(range(t.shape[0]), 2)],
                           axis=1)
    key = np.sort(pairs[0] * n + pairs[1])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # np.unique, without its hash table
    return np.vstack([key // n, key % n])


def _facet_pairs(t: Index, n: int) -> tuple[Index, Index, Index]:
    """For each interior facet: the simplices on either side and the vertex of the
    second opposite the facet."""
    cells = np.arange(t.shape[1])
    facets = np.concatenate([np.sort(np.delete(t, k, axis=0), axis=0) for k in range(t.shape[0])], axis=1)
    owner = np.tile(cells, t.shape[0])
    opposite = t.ravel()  # row k of t, then row k + 1: the vertex each facet omits
    if float(n) ** facets.shape[0] < 2.0**62:  # one int64 key per facet: a flat sort
        key = np.zeros(facets.shape[1], dtype=np.int64)
        for row in facets:
            key = key * n + row
        order = np.argsort(key)
        same = np.flatnonzero(key[order][1:] == key[order][:-1])
    else:
        order = np.lexsort(facets[::-1])
        ranked = facets[:, order]
        same = np.flatnonzero(np.all(ranked[:, 1:] == ranked[:, :-1], axis=0))
    first, second = order[same], order[same + 1]
    return owner[first], owner[second], opposite[second]


def _circumcentres(corners: Array) -> Array:
    """Circumcentres (in their affine hull) of the triangles, or tetrahedra in 3-D,
    ``corners`` (shape ``(..., k, dim)``, ``k`` = 3 or 4), in closed form."""
    a = corners[..., 0, :]
    u, v = corners[..., 1, :] - a, corners[..., 2, :] - a
    uu, vv = np.sum(u * u, axis=-1), np.sum(v * v, axis=-1)
    if corners.shape[-2] == 3:  # the point a + s u + r v equidistant from the three corners
        uv = np.sum(u * v, axis=-1)
        twice = 2.0 * (uu * vv - uv * uv)
        return np.asarray(a + (vv * (uu - uv) / twice)[..., None] * u + (uu * (vv - uv) / twice)[..., None] * v)
    w = corners[..., 3, :] - a
    vw, wu, uv = np.cross(v, w), np.cross(w, u), np.cross(u, v)
    twice = 2.0 * np.sum(u * vw, axis=-1)
    return np.asarray(a + (uu[..., None] * vw + vv[..., None] * wu + np.sum(w * w, axis=-1)[..., None] * uv)
                      / twice[..., None])


def _flag_centres(p: Array, t: Index) -> tuple[Array, dict[tuple[int, ...], int]]:
    """The circumcentres of every face of at least three vertices of every simplex
    (shape ``(n_faces, nelems, dim)``), and each face's (sorted local vertices) row."""
    dim = p.shape[0]
    corners = np.moveaxis(p[:, t], 0, -1)  # (dim + 1, nelems, dim)
    faces = [f for k in range(3, dim + 2) for f in itertools.combinations(range(dim + 1), k)]
    centres = np.stack([_circumcentres(np.moveaxis(corners[list(f)], 0, 1)) for f in faces])
    return centres, {f: row for row, f in enumerate(faces)}


def _hull_planes(p: Array) -> Array:
    """The planes ``n·x + b ≤ 0`` (rows ``(n, b)``, unit ``n``) of the convex hull of ``p``, each once."""
    from scipy.spatial import ConvexHull

    planes = np.asarray(ConvexHull(p.T).equations)
    scale = max(1.0, float(np.max(np.abs(p))))
    key = np.round(np.hstack([planes[:, :-1], planes[:, -1:] / scale]), 9)  # coplanar facets: one plane
    _, keep = np.unique(key, axis=0, return_index=True)
    return planes[np.sort(keep)]


def _violated_planes(centres: Array, planes: Array, p: Array) -> tuple[Index, Index]:
    """For each centre (flattened ``centres``), the hull planes it lies outside of, as CSR.

    Ω contains the ball of radius ``inner`` about the nodes' mean ``o``, so a point
    ``x`` can only be outside a plane ``n·x + b ≤ 0`` whose normal is within
    ``arccos(inner / |x − o|)`` of ``x − o``: a cKDTree of the normals finds those,
    and only they are tested (a curved wall has thousands of planes, each point
    sees a few)."""
    from scipy.spatial import cKDTree

    points = centres.reshape(-1, centres.shape[-1])
    tol = 1e-12 * float(np.max(np.ptp(p, axis=1)))
    middle = p.mean(axis=1)
    inner = float(np.min(-(planes[:, :-1] @ middle + planes[:, -1])))
    offset = points - middle
    distance = np.linalg.norm(offset, axis=1)
    far = np.flatnonzero(distance > inner - tol)
    cosine = np.clip((inner - tol) / distance[far], -1.0, 1.0)
    chord = np.sqrt(2.0 - 2.0 * cosine) * (1 + 1e-9) + 1e-12  # |n − u| for unit n, u at that angle
    near = cKDTree(planes[:, :-1]).query_ball_point(offset[far] / distance[far, None], chord)
    counts = np.fromiter((len(c) for c in near), dtype=np.int64, count=far.size)
    row = np.repeat(far, counts)
    col = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=int(counts.sum()))
    out = np.einsum("kd,kd->k", points[row], planes[col, :-1]) + planes[col, -1] > tol
    row, col = row[out], col[out]
    ptr = np.zeros(points.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=points.shape[0]), out=ptr[1:])
    return ptr, col[np.argsort(row, kind="stable")]


def _flag_measures(p: Array, t: Index, edges: Index, centres: Array, ids: dict[tuple[int, ...], int],
                   planes: Array, ptr: Index, violated: Index) -> tuple[Array, Array]:
    """The Voronoi faces' areas (shape ``(n_edges,)``) and the cells' volumes (``(n,)``),
    each the sum of its signed flags intersected with Ω (module docstring).

    The flags ``(a, b, …)`` and ``(b, a, …)`` share their face part, the piece of the
    face of edge ``ab`` (vertices: the edge midpoint and the later centres), and their
    cell parts, cones over it from ``x_a`` and ``x_b``, have the same signed volume,
    ``face · |ab| / (2 dim)``: one face per edge and tail, vectorised over the simplices.
    The few whose centres lie outside Ω are clipped one by one."""
    from .simplices import signed_volumes

    dim, n = p.shape
    corners = np.moveaxis(p[:, t], 0, -1)  # (dim + 1, nelems, dim)
    orientation = np.sign(signed_volumes(p, t))
    outside = (ptr[1:] > ptr[:-1]).reshape(centres.shape[:2])  # (n_faces, nelems)
    key = edges[0] * n + edges[1]
    tol = 1e-12 * float(np.max(np.ptp(p, axis=1)))
    area, masses = np.zeros(edges.shape[1]), np.zeros(n)
    for a, b in itertools.combinations(range(dim + 1), 2):
        edge_id = np.searchsorted(key, np.minimum(t[a], t[b]) * n + np.maximum(t[a], t[b]))
        mid = 0.5 * (corners[a] + corners[b])
        along = mid - corners[a]  # |ab|/2 along the edge
        half = np.sqrt(np.sum(along * along, axis=1))
        for tail in itertools.permutations([k for k in range(dim + 1) if k not in (a, b)]):
            flag = (a, b, *tail)
            rows = [ids[tuple(sorted(flag[:k]))] for k in range(3, dim + 2)]
            later = [centres[r] - mid for r in rows]  # the face part's other vertices, from the midpoint
            if dim == 2:
                face = (along[:, 0] * later[0][:, 1] - along[:, 1] * later[0][:, 0]) / half
            else:
                face = np.sum(along * np.cross(later[0], later[1]), axis=1) / (2.0 * half)
            sign = _parity(flag) * orientation
            cell_a = cell_b = face * half / dim
            clip = np.flatnonzero(np.any(outside[rows], axis=0))
            if clip.size:
                face, cell_a, cell_b = face.copy(), cell_a.copy(), cell_b.copy()
            for e in clip:
                own = np.unique(np.concatenate([violated[ptr[r * t.shape[1] + e]:ptr[r * t.shape[1] + e + 1]]
                                                for r in rows]))
                part = np.array([mid[e]] + [centres[r, e] for r in rows])
                direction = np.sign(face[e])
                face[e] = direction * clipped_measure(part, planes[own], tol)
                cell_a[e] = direction * clipped_measure(np.vstack([corners[a, e], part]), planes[own], tol)
                cell_b[e] = direction * clipped_measure(np.vstack([corners[b, e], part]), planes[own], tol)
            area += np.bincount(edge_id, weights=sign * face, minlength=edges.shape[1])
            masses += np.bincount(t[a], weights=sign * cell_a, minlength=n)
            masses += np.bincount(t[b], weights=sign * cell_b, minlength=n)
    return area, masses


def _parity(order: tuple[int, ...]) -> float:
    inversions = sum(1 for i, j in itertools.combinations(range(len(order)), 2) if order[i] > order[j])
    return -1.0 if inversions % 2 else 1.0
