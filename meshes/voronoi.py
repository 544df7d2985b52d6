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
flag with ``Ω`` (its vertices outside are clipped by the hull's planes, a flag
split into simplices at each plane) gives the clipped cells and faces. Only
flags near the wall need clipping; the rest is closed-form and vectorised.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

from .checks import MeshError

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
    face, cell = _flag_measures(p, t, centres, ids, planes, ptr, violated)
    flags = np.array(list(itertools.permutations(range(dim + 1))), dtype=np.int64)
    a, b = t[flags[:, 0]], t[flags[:, 1]]  # (n_flags, nelems)
    lower = flags[:, 0] < flags[:, 1]  # each edge's faces once
    key = np.minimum(a[lower], b[lower]) * p.shape[1] + np.maximum(a[lower], b[lower])
    edge_of = np.searchsorted(edges[0] * p.shape[1] + edges[1], key.ravel())
    area = np.bincount(edge_of, weights=face[lower].ravel(), minlength=edges.shape[1])
    masses = np.bincount(a.ravel(), weights=cell.ravel(), minlength=p.shape[1]).astype(np.float64)
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
    centre = _circumcentres(p.T[t[:, left].T])  # (pairs, dim)
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
    key = np.unique(pairs[0] * n + pairs[1])
    return np.vstack([key // n, key % n])


def _facet_pairs(t: Index, n: int) -> tuple[Index, Index, Index]:
    """For each interior facet: the simplices on either side and the vertex of the
    second opposite the facet."""
    cells = np.arange(t.shape[1])
    facets = np.concatenate([np.sort(np.delete(t, k, axis=0), axis=0) for k in range(t.shape[0])], axis=1)
    owner = np.tile(cells, t.shape[0])
    opposite = t.ravel()  # row k of t, then row k + 1: the vertex each facet omits
    order = np.lexsort(facets[::-1])
    ranked = facets[:, order]
    same = np.flatnonzero(np.all(ranked[:, 1:] == ranked[:, :-1], axis=0))
    first, second = order[same], order[same + 1]
    return owner[first], owner[second], opposite[second]


def _circumcentres(corners: Array) -> Array:
    """Circumcentres (in their affine hull) of the simplices ``corners`` (shape ``(..., k, dim)``)."""
    base = corners[..., :1, :]
    span = corners[..., 1:, :] - base  # (..., k - 1, dim)
    gram = np.einsum("...id,...jd->...ij", span, span)
    weights = np.linalg.solve(gram, 0.5 * np.einsum("...ii->...i", gram)[..., None])[..., 0]
    return np.asarray(base[..., 0, :] + np.einsum("...i,...id->...d", weights, span))


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


def _flag_measures(p: Array, t: Index, centres: Array, ids: dict[tuple[int, ...], int], planes: Array,
                   ptr: Index, violated: Index) -> tuple[Array, Array]:
    """Signed measures of every flag's face part (shape ``(n_flags, nelems)``; the
    Voronoi face of edge ``ab`` in the simplex) and cell part (the piece of ``V_a``),
    each intersected with Ω."""
    from .checks import signed_volumes

    dim, nelems = p.shape[0], t.shape[1]
    orientation = np.sign(signed_volumes(p, t))
    tol = 1e-12 * float(np.max(np.ptp(p, axis=1)))
    face = np.empty((math.factorial(dim + 1), nelems))
    cell = np.empty_like(face)
    for row, flag in enumerate(itertools.permutations(range(dim + 1))):
        parity = _parity(flag)
        chain = [p[:, t[flag[0]]].T, 0.5 * (p[:, t[flag[0]]] + p[:, t[flag[1]]]).T]
        rows = [ids[tuple(sorted(flag[:k]))] for k in range(3, dim + 2)]
        chain += [centres[r] for r in rows]
        vertices = np.stack(chain, axis=1)  # (nelems, dim + 1, dim)
        edge = (vertices[:, 1] - vertices[:, 0]) / np.linalg.norm(vertices[:, 1] - vertices[:, 0], axis=1)[:, None]
        face_signed = _det(np.concatenate([edge[:, None], vertices[:, 2:] - vertices[:, 1:2]], axis=1))
        face_signed /= math.factorial(dim - 1)
        cell_signed = _det(vertices[:, 1:] - vertices[:, :1]) / math.factorial(dim)
        centre_ids = np.stack([r * nelems + np.arange(nelems) for r in rows], axis=1)  # (nelems, dim - 1)
        clip = np.flatnonzero(np.any(ptr[centre_ids + 1] > ptr[centre_ids], axis=1))
        if clip.size:
            ids_clip = centre_ids[clip]
            for signed, simplices in ((face_signed, vertices[clip, 1:]), (cell_signed, vertices[clip])):
                start, plane_ids = _clip_order(simplices, ids_clip, ptr, violated, planes)
                signed[clip] = np.sign(signed[clip]) * _clipped_measures(
                    np.ascontiguousarray(simplices), start, plane_ids, planes, tol)
        face[row], cell[row] = parity * orientation * face_signed, parity * orientation * cell_signed
    return face, cell


def _det(rows: Array) -> Array:
    """Determinants of a stack of 2×2 or 3×3 matrices (shape ``(n, dim, dim)``), by formula:
    ``np.linalg.det`` pays an LU per matrix."""
    if rows.shape[-1] == 2:
        return np.asarray(rows[:, 0, 0] * rows[:, 1, 1] - rows[:, 0, 1] * rows[:, 1, 0])
    return np.einsum("kd,kd->k", rows[:, 0], np.cross(rows[:, 1], rows[:, 2]))


def _parity(order: tuple[int, ...]) -> float:
    inversions = sum(1 for i, j in itertools.combinations(range(len(order)), 2) if order[i] > order[j])
    return -1.0 if inversions % 2 else 1.0


# Clipping: a simplex cut by a plane is a union of at most three simplices of the
# same dimension, so a flag clipped by its planes one after the other stays a list
# of simplices, whose measures add up.


@numba.njit(cache=True)
def _measure(s: Array) -> float:
    """The k-volume of the simplex ``s`` (shape ``(k + 1, dim)``, ``k = dim`` or ``dim − 1``)."""
    k, dim = s.shape[0] - 1, s.shape[1]
    if k == 1:
        return float(np.sqrt(np.sum((s[1] - s[0]) ** 2)))
    u, v = s[1] - s[0], s[2] - s[0]
    if dim == 2:
        return 0.5 * abs(u[0] * v[1] - u[1] * v[0])
    c0, c1, c2 = u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]
    if k == 2:
        return 0.5 * float(np.sqrt(c0 * c0 + c1 * c1 + c2 * c2))
    w = s[3] - s[0]
    return abs(c0 * w[0] + c1 * w[1] + c2 * w[2]) / 6.0


@numba.njit(cache=True)
def _cut(s: Array, dist: Array, a: int, b: int, out: Array) -> None:
    """``out`` = the point where the plane crosses the edge ``ab`` of ``s`` (``dist[a] ≤ 0 < dist[b]``)."""
    w = dist[a] / (dist[a] - dist[b])
    out[:] = s[a] + w * (s[b] - s[a])


@numba.njit(cache=True)
def _split(s: Array, dist: Array, out: Array, count: int, order: Index) -> int:
    """Append the simplices of ``s ∩ {dist ≤ 0}`` (``dist`` at its vertices) to ``out``
    from row ``count`` on; return the new count. ``order`` is scratch space."""
    corners = s.shape[0]
    n_in = 0
    for v in range(corners):  # the vertices inside first, then those outside
        if dist[v] <= 0.0:
            order[n_in] = v
            n_in += 1
    n_out = 0
    for v in range(corners):
        if dist[v] > 0.0:
            order[n_in + n_out] = v
            n_out += 1
    if n_out == 0:
        out[count] = s
        return count + 1
    if n_in == 0:
        return count
    if n_in == 1:  # one corner kept: a smaller simplex of the same kind
        a = order[0]
        out[count, 0] = s[a]
        for r in range(1, corners):
            _cut(s, dist, a, order[r], out[count, r])
        return count + 1
    if corners == 3:  # a triangle with one corner cut off: a quadrilateral, two triangles
        a, b, o = order[0], order[1], order[2]
        out[count, 0], out[count, 1] = s[a], s[b]
        _cut(s, dist, b, o, out[count, 2])
        out[count + 1, 0], out[count + 1, 1] = s[a], out[count, 2]
        _cut(s, dist, a, o, out[count + 1, 2])
        return count + 2
    # a tetrahedron with one or two corners cut off: a prism between a top and a bottom
    # triangle, joined corner to corner; three tetrahedra, written in rows count .. count + 2
    top, bottom = out[count + 1, 1:], out[count + 2, 1:]  # rows 1..3 of the last two: scratch
    if n_in == 3:
        o = order[3]
        for r in range(3):
            top[r] = s[order[r]]
            _cut(s, dist, order[r], o, bottom[r])
    else:
        a, b, c, d = order[0], order[1], order[2], order[3]
        top[0], bottom[0] = s[a], s[b]
        _cut(s, dist, a, c, top[1])
        _cut(s, dist, a, d, top[2])
        _cut(s, dist, b, c, bottom[1])
        _cut(s, dist, b, d, bottom[2])
    # (t0 t1 t2 b0), (t1 t2 b0 b1), (t2 b0 b1 b2): written so that no scratch row is read after it is overwritten
    out[count, 0], out[count, 1], out[count, 2], out[count, 3] = top[0], top[1], top[2], bottom[0]
    t1, t2 = top[1].copy(), top[2].copy()
    b0, b1, b2 = bottom[0].copy(), bottom[1].copy(), bottom[2].copy()
    out[count + 1, 0], out[count + 1, 1], out[count + 1, 2], out[count + 1, 3] = t1, t2, b0, b1
    out[count + 2, 0], out[count + 2, 1], out[count + 2, 2], out[count + 2, 3] = t2, b0, b1, b2
    return count + 3


def _clip_order(simplices: Array, centre_ids: Index, ptr: Index, violated: Index,
                planes: Array) -> tuple[Index, Index]:
    """For each simplex, the planes that one of its centres violates, each once and the
    most violated first (a flag far outside Ω is then mostly cut away by the first), as CSR."""
    counts = ptr[centre_ids + 1] - ptr[centre_ids]  # (n, n_centres)
    owner = np.repeat(np.arange(simplices.shape[0]), counts.sum(axis=1))
    starts = np.repeat(ptr[centre_ids].ravel(), counts.ravel())
    within = np.arange(starts.size) - np.repeat(np.cumsum(counts.ravel()) - counts.ravel(), counts.ravel())
    plane = violated[starts + within]
    pairs = np.unique(owner * planes.shape[0] + plane)
    owner, plane = pairs // planes.shape[0], pairs % planes.shape[0]
    depth = np.max(np.einsum("kvd,kd->kv", simplices[owner], planes[plane, :-1]), axis=1) + planes[plane, -1]
    order = np.lexsort((-depth, owner))
    start = np.zeros(simplices.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(owner, minlength=simplices.shape[0]), out=start[1:])
    return start, plane[order]


@numba.njit(cache=True)
def _clipped_measures(simplices: Array, start: Index, plane_ids: Index, planes: Array, tol: float) -> Array:
    """The measure of each simplex (``simplices[q]``, shape ``(k + 1, dim)``) inside its
    planes ``plane_ids[start[q]:start[q + 1]]``, cut by one after the other; points within
    ``tol`` of a plane count as on it, and a plane that no piece crosses is skipped."""
    n, corners, dim = simplices.shape
    result = np.empty(n)
    work = np.empty((64, corners, dim))
    spare = np.empty((64, corners, dim))
    dist = np.empty(corners)
    order = np.empty(corners, dtype=np.int64)
    for q in range(n):
        work[0] = simplices[q]
        count = 1
        for r in range(start[q], start[q + 1]):
            plane = planes[plane_ids[r]]
            if spare.shape[0] < 3 * count:
                spare = np.empty((3 * count, corners, dim))
            crossed = False
            fresh = 0
            for m in range(count):
                for v in range(corners):
                    dist[v] = plane[dim]
                    for x in range(dim):
                        dist[v] += work[m, v, x] * plane[x]
                    if dist[v] <= tol:
                        dist[v] = min(dist[v], 0.0)
                    else:
                        crossed = True
                fresh = _split(work[m], dist, spare, fresh, order)
            if crossed:
                work, spare = spare, work
                count = fresh
            if count == 0:
                break
        total = 0.0
        for m in range(count):
            total += _measure(work[m])
        result[q] = total
    return result
