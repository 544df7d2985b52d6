"""The compiled part of :mod:`meshes.voronoi`: each simplex's circumcentric flags,
their signed measures, and their intersection with the domain.

A flag with a vertex outside Ω is cut by the hull's planes that vertex
violates, one after the other. A simplex cut by a plane is a union of at most
three simplices of the same dimension (a triangle with a corner cut off is two
triangles; a tetrahedron with one or two corners cut off is a prism, three
tetrahedra), so a clipped flag stays a list of simplices whose measures add
up; no polytope bookkeeping is needed. Kept in its own module so that numba's
cache of it survives edits to the geometry around it.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["flag_kernel"]

Array = NDArray[np.float64]
Index = NDArray[np.int64]


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
def _cut(s: Array, dist: Array, a: int, b: int, out: Array, row: int, slot: int) -> None:
    """``out[row, slot]`` = the point where the plane crosses the edge ``ab`` of ``s``
    (``dist[a] ≤ 0 < dist[b]``)."""
    w = dist[a] / (dist[a] - dist[b])
    for x in range(s.shape[1]):
        out[row, slot, x] = s[a, x] + w * (s[b, x] - s[a, x])


@numba.njit(cache=True)
def _copy(src: Array, out: Array, row: int, slot: int) -> None:
    """``out[row, slot]`` = the point ``src``."""
    for x in range(src.shape[0]):
        out[row, slot, x] = src[x]


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
        for v in range(corners):
            _copy(s[v], out, count, v)
        return count + 1
    if n_in == 0:
        return count
    if n_in == 1:  # one corner kept: a smaller simplex of the same kind
        _copy(s[order[0]], out, count, 0)
        for r in range(1, corners):
            _cut(s, dist, order[0], order[r], out, count, r)
        return count + 1
    if corners == 3:  # a triangle with one corner cut off: a quadrilateral, two triangles
        a, b, o = order[0], order[1], order[2]
        _copy(s[a], out, count, 0)
        _copy(s[b], out, count, 1)
        _cut(s, dist, b, o, out, count, 2)
        _copy(s[a], out, count + 1, 0)
        _cut(s, dist, b, o, out, count + 1, 1)
        _cut(s, dist, a, o, out, count + 1, 2)
        return count + 2
    # A tetrahedron with one or two corners cut off: a prism between a top triangle
    # (t0 t1 t2) and a bottom one (b0 b1 b2), joined corner to corner, which is the
    # three tetrahedra (t0 t1 t2 b0), (t1 t2 b0 b1), (t2 b0 b1 b2). The prism's six
    # corners are written where each tetrahedron needs them.
    prism = np.empty((6, s.shape[1]))  # t0 t1 t2 b0 b1 b2
    if n_in == 3:
        for r in range(3):
            for x in range(s.shape[1]):
                prism[r, x] = s[order[r], x]
            _cut(s, dist, order[r], order[3], prism.reshape(1, 6, s.shape[1]), 0, 3 + r)
    else:
        a, b, c, d = order[0], order[1], order[2], order[3]
        for x in range(s.shape[1]):
            prism[0, x], prism[3, x] = s[a, x], s[b, x]
        view = prism.reshape(1, 6, s.shape[1])
        _cut(s, dist, a, c, view, 0, 1)
        _cut(s, dist, a, d, view, 0, 2)
        _cut(s, dist, b, c, view, 0, 4)
        _cut(s, dist, b, d, view, 0, 5)
    for k in range(3):
        for slot in range(4):
            _copy(prism[k + slot], out, count + k, slot)
    return count + 3


@numba.njit(cache=True)
def _clipped(simplex: Array, own: Index, planes: Array, tol: float, work: Array,
             spare: Array) -> tuple[float, Array, Array]:
    """The measure of ``simplex`` (shape ``(k + 1, dim)``) inside the planes ``own``, cut by
    one after the other; points within ``tol`` of a plane count as on it, and a plane
    that no piece crosses is skipped. ``work`` and ``spare`` are scratch space, returned
    (grown where the pieces outgrew them)."""
    corners, dim = simplex.shape
    dist = np.empty(corners)
    order = np.empty(corners, dtype=np.int64)
    work[0] = simplex
    count = 1
    for plane_id in own:
        plane = planes[plane_id]
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
    return total, work, spare


@numba.njit(cache=True)
def _planes_of(simplex: Array, centres: Index, ptr: Index, violated: Index, planes: Array) -> Index:
    """The planes that one of ``centres`` violates, each once, the deepest under a vertex of
    ``simplex`` first (a flag far outside Ω is then mostly cut away by the first)."""
    size = 0
    for c in centres:
        size += ptr[c + 1] - ptr[c]
    own = np.empty(size, dtype=np.int64)
    depth = np.empty(size)
    kept = 0
    dim = simplex.shape[1]
    for c in centres:
        for r in range(ptr[c], ptr[c + 1]):
            plane_id = violated[r]
            if plane_id in own[:kept]:
                continue
            deepest = -np.inf
            for v in range(simplex.shape[0]):
                value = planes[plane_id, dim]
                for x in range(dim):
                    value += simplex[v, x] * planes[plane_id, x]
                deepest = max(deepest, value)
            # insertion, deepest first
            at = kept
            while at > 0 and depth[at - 1] < deepest:
                own[at], depth[at] = own[at - 1], depth[at - 1]
                at -= 1
            own[at], depth[at] = plane_id, deepest
            kept += 1
    return own[:kept]


@numba.njit(cache=True)
def flag_kernel(points: Array, cells: Index, centres: Array, flags: Index, rows: Index, parity: Array,
                 pair_of_flag: Index, edge_id: Index, orientation: Array, ptr: Index, violated: Index,
                 planes: Array, tol: float, n_edges: int) -> tuple[Array, Array]:
    """Each simplex's flags (vertices: node, edge midpoint, ``centres[rows[f]]``), their
    signed measures (clipped where a centre lies outside Ω) added to the face areas of
    their edges and the volumes of their nodes."""
    nelems, corners = cells.shape
    dim = points.shape[1]
    nelems_centres = centres.shape[1]
    area = np.zeros(n_edges)
    masses = np.zeros(points.shape[0])
    flag = np.empty((corners, dim))
    work = np.empty((64, corners, dim))
    spare = np.empty((64, corners, dim))
    face_work = np.empty((64, corners - 1, dim))
    face_spare = np.empty((64, corners - 1, dim))
    centre_ids = np.empty(rows.shape[1], dtype=np.int64)
    for e in range(nelems):
        for f in range(flags.shape[0]):
            a, b = cells[e, flags[f, 0]], cells[e, flags[f, 1]]
            outside = False
            for x in range(dim):
                flag[0, x] = points[a, x]
                flag[1, x] = 0.5 * (points[a, x] + points[b, x])
            for r in range(rows.shape[1]):
                flag[2 + r] = centres[rows[f, r], e]
                centre_ids[r] = rows[f, r] * nelems_centres + e
                outside |= ptr[centre_ids[r] + 1] > ptr[centre_ids[r]]
            # cell part: det(flag[1:] − flag[0]) / d!; face part: det(ê, flag[2:] − flag[1]) / (d − 1)!,
            # ê the unit edge; since flag[1] − flag[0] = |ab|/2 ê, cell = face |ab| / (2d) before clipping
            half = 0.0
            for x in range(dim):
                half += (flag[1, x] - flag[0, x]) ** 2
            half = np.sqrt(half)
            if dim == 2:
                face = ((flag[1, 0] - flag[0, 0]) * (flag[2, 1] - flag[1, 1])
                        - (flag[1, 1] - flag[0, 1]) * (flag[2, 0] - flag[1, 0])) / half
            else:
                u0, u1, u2 = flag[2, 0] - flag[1, 0], flag[2, 1] - flag[1, 1], flag[2, 2] - flag[1, 2]
                v0, v1, v2 = flag[3, 0] - flag[1, 0], flag[3, 1] - flag[1, 1], flag[3, 2] - flag[1, 2]
                face = ((flag[1, 0] - flag[0, 0]) * (u1 * v2 - u2 * v1)
                        + (flag[1, 1] - flag[0, 1]) * (u2 * v0 - u0 * v2)
                        + (flag[1, 2] - flag[0, 2]) * (u0 * v1 - u1 * v0)) / (2.0 * half)
            cell = face * half / dim
            if outside:
                own = _planes_of(flag, centre_ids, ptr, violated, planes)
                measure, work, spare = _clipped(flag, own, planes, tol, work, spare)
                cell = np.sign(cell) * measure
                measure, face_work, face_spare = _clipped(flag[1:].copy(), own, planes, tol, face_work, face_spare)
                face = np.sign(face) * measure
            sign = parity[f] * orientation[e]
            masses[a] += sign * cell
            if flags[f, 0] < flags[f, 1]:  # each edge's faces once
                area[edge_id[e, pair_of_flag[f]]] += sign * face
    return area, masses
