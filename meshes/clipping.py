"""The measure of a simplex intersected with half-spaces, in plain numpy.

:mod:`meshes.voronoi` needs it for the few circumcentric flags with a vertex
outside the domain (tens of tetrahedra on a ball of 10⁵ nodes), each cut by the
hull planes that vertex violates. A segment is cut as an interval, a triangle
as a polygon (Sutherland–Hodgman), a tetrahedron as a convex polyhedron kept as
its list of faces: each plane cuts every face, and the points on the plane
close the cut with a new face. The work grows with the number of planes, not
exponentially as splitting into simplices would on a domain with many facets
near one point.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["clipped_measure"]

Array = NDArray[np.float64]

_TETRAHEDRON_FACES = ((1, 2, 3), (0, 3, 2), (0, 1, 3), (0, 2, 1))
"""Faces of a positively oriented tetrahedron, each counter-clockwise seen from outside."""


def clipped_measure(simplex: Array, planes: Array, tol: float) -> float:
    """The measure of ``simplex ∩ {n·x + b ≤ 0 for each row (n, b) of planes}``.

    ``simplex`` has shape ``(k + 1, dim)``, ``k = dim`` or ``dim − 1``: a segment or
    triangle in 2-D, a triangle or tetrahedron in 3-D. Points within ``tol`` of a
    plane count as on it.
    """
    k, dim = simplex.shape[0] - 1, simplex.shape[1]
    if k == 1:
        return _segment(simplex, planes, tol)
    if k == 2:
        polygon = simplex
        while len(polygon) >= 3:
            plane, planes = _deepest(polygon, planes, tol)
            if plane is None:
                return _polygon_area(polygon if dim == 3 else np.column_stack([polygon, np.zeros(len(polygon))]))
            polygon, _ = _cut_polygon(polygon, plane, tol)
        return 0.0
    if np.linalg.det(simplex[1:] - simplex[0]) < 0:
        simplex = simplex[[0, 2, 1, 3]]
    faces = [simplex[list(face)] for face in _TETRAHEDRON_FACES]
    while faces:
        plane, planes = _deepest(np.vstack(faces), planes, tol)
        if plane is None:
            break
        faces = _cut_polyhedron(faces, plane, tol)
    if not faces:
        return 0.0
    # the cones from a reference point over the outward faces, each face a fan of triangles
    fans = np.array([(face[0], face[j], face[j + 1]) for face in faces for j in range(1, len(face) - 1)])
    fans = fans - faces[0][0]
    return float(np.sum(fans[:, 0] * np.cross(fans[:, 1], fans[:, 2]))) / 6.0


def _deepest(points: Array, planes: Array, tol: float) -> tuple[Array | None, Array]:
    """The plane that ``points`` violate most (None if none is violated beyond ``tol``),
    and the other planes that some point violates: a plane the cut region lies
    inside of is never looked at again."""
    excess = np.max(points @ planes[:, :-1].T + planes[:, -1], axis=0) if len(planes) else np.empty(0)
    violated = np.flatnonzero(excess > tol)
    if violated.size == 0:
        return None, planes[:0]
    deepest = violated[np.argmax(excess[violated])]
    return planes[deepest], planes[violated[violated != deepest]]


def _segment(segment: Array, planes: Array, tol: float) -> float:
    lo, hi = 0.0, 1.0
    start, step = segment[0], segment[1] - segment[0]
    for plane in planes:
        at_start, rate = float(plane[:-1] @ start + plane[-1]), float(plane[:-1] @ step)
        # at_start + s rate <= 0 on the kept part
        if abs(rate) <= tol:
            if at_start > tol:
                return 0.0
        elif rate > 0:
            hi = min(hi, -at_start / rate)
        else:
            lo = max(lo, -at_start / rate)
    return max(hi - lo, 0.0) * float(np.linalg.norm(step))


def _cut_polygon(polygon: Array, plane: Array, tol: float) -> tuple[Array, list[Array]]:
    """The part of the convex ``polygon`` (vertices in order) with ``n·x + b ≤ 0``, and
    its points on the plane (Sutherland–Hodgman)."""
    dist = polygon @ plane[:-1] + plane[-1]
    dist = np.where(dist <= tol, np.minimum(dist, 0.0), dist)
    kept, on = [], []
    for j in range(len(polygon)):
        p, q, dp, dq = polygon[j], polygon[(j + 1) % len(polygon)], dist[j], dist[(j + 1) % len(polygon)]
        if dp <= 0:
            kept.append(p)
            if dp == 0:
                on.append(p)
        if (dp < 0 < dq) or (dq < 0 < dp):
            point = p + dp / (dp - dq) * (q - p)
            kept.append(point)
            on.append(point)
    return (np.array(kept) if kept else np.empty((0, polygon.shape[1]))), on


def _cut_polyhedron(faces: list[Array], plane: Array, tol: float) -> list[Array]:
    """The convex polyhedron of outward ``faces`` cut by the plane: each face cut, and the
    points on the plane, ordered counter-clockwise about its normal, as the new face."""
    kept, on = [], []
    for face in faces:
        cut, points = _cut_polygon(face, plane, tol)
        if len(cut) >= 3:
            kept.append(cut)
        on += points
    if len(on) >= 3:
        cap = np.array(on)
        normal = plane[:-1]
        centre = cap.mean(axis=0)
        u = cap[np.argmax(np.linalg.norm(cap - centre, axis=1))] - centre
        if np.linalg.norm(u) > 0:
            u /= np.linalg.norm(u)
            v = np.cross(normal, u)
            angle = np.arctan2((cap - centre) @ v, (cap - centre) @ u)
            kept.append(cap[np.argsort(angle)])
    return kept


def _polygon_area(polygon: Array) -> float:
    """Area of a planar polygon in 3-D (vertices in order)."""
    spokes = polygon[1:] - polygon[0]
    return 0.5 * float(np.linalg.norm(np.cross(spokes[:-1], spokes[1:]).sum(axis=0)))
