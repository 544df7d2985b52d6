"""Mesh validation: element orientation, convexity of the domain, and the sign
condition on the transmissibilities that the edge-flux scheme needs.

The transmissibilities are the P1 stiffness's (``T_ij = −K_ij``) where they are
all non-negative; on a Delaunay mesh where they are not (3-D wall layers), the
Voronoi dual's (:mod:`meshes.voronoi`), which are non-negative by construction.
:func:`check_and_transmissibilities` makes that choice, once, for
:func:`check` and for ``fempde.Space``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

from .simplices import MeshError, signed_volumes

__all__ = [
    "TRANSMISSIBILITIES",
    "Checked",
    "MeshError",
    "MeshReport",
    "boundary_nodes",
    "check",
    "check_and_transmissibilities",
    "p1_element",
    "signed_volumes",
    "transmissibilities",
]


TRANSMISSIBILITIES = ("auto", "p1", "voronoi")
"""The edge weights a mesh can give the scheme: ``"p1"``, the P1 stiffness's;
``"voronoi"``, the Voronoi dual's (a Delaunay mesh only); ``"auto"``, P1 where
all its ``T_ij >= 0``, else the Voronoi dual where the mesh is Delaunay, else
P1 with its negative ones (which ``fempde.Space`` refuses unless forced)."""


@dataclass(frozen=True)
class MeshReport:
    """What :func:`check` found.

    ``n_bad_edges`` counts the edges whose transmissibility is negative: on
    such an edge the two-point fluxes lose their monotonicity (positivity and
    the energy estimate), so the solver refuses the mesh unless asked to
    ``force`` it. ``transmissibility`` says whose they are (``"p1"``: the P1
    stiffness's ``T_ij = -K_ij``; ``"voronoi"``: the Voronoi dual's, never
    negative, with ``p1_bad_edges`` of the P1 stiffness's negative instead);
    ``delaunay`` whether the mesh passed the empty-sphere test (None: not
    tested, as where P1 needs no replacement).
    """

    dim: int
    n_nodes: int
    n_elements: int
    n_edges: int
    volume: float
    h_max: float
    n_bad_edges: int
    min_transmissibility: float
    transmissibility: str = "p1"
    p1_bad_edges: int | None = None
    delaunay: bool | None = None

    @property
    def admissible(self) -> bool:
        return self.n_bad_edges == 0

    def describe(self) -> str:
        status = (
            "all transmissibilities >= 0"
            if self.admissible
            else f"{self.n_bad_edges} of {self.n_edges} edges have negative transmissibility "
            f"(min {self.min_transmissibility:.3g})"
        )
        if self.transmissibility == "voronoi":
            status = (f"Voronoi-dual transmissibilities, all >= 0 (the P1 stiffness has {self.p1_bad_edges} "
                      "negative ones)")
        return (
            f"{self.dim}-D mesh, {self.n_nodes} nodes, {self.n_elements} elements, "
            f"volume {self.volume:.6g}, h_max {self.h_max:.3g}: {status}"
        )


_KEY_LIMIT = 2.0**62


def boundary_nodes(mesh: Mesh) -> NDArray[np.int64]:
    """Sorted indices of the nodes on the boundary: the nodes of the facets that
    belong to one cell only. A flat sort of one integer per facet (scikit-fem's
    ``boundary_facets`` builds the whole facet table first, 50x slower at 10^5 nodes)."""
    facets, _ = _one_cell_facets(np.asarray(mesh.t, dtype=np.int64), mesh.p.shape[1])
    return np.unique(facets)


def _one_cell_facets(t: NDArray[np.int64], n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The facets (shape ``(dim, n_facets)``) of the cells ``t`` over ``n`` nodes that
    belong to one cell only, and the vertex of that cell opposite each."""
    t = np.sort(t, axis=0)
    facets = np.concatenate([np.delete(t, k, axis=0) for k in range(t.shape[0])], axis=1)
    opposite = np.concatenate([t[k] for k in range(t.shape[0])])
    if float(n) ** facets.shape[0] < _KEY_LIMIT:  # each facet fits in one int64 key
        key = np.zeros(facets.shape[1], dtype=np.int64)
        for row in facets:
            key = key * n + row
        order = np.argsort(key)
        ranked = key[order]
        same = ranked[1:] == ranked[:-1]
    else:
        order = np.lexsort(facets[::-1])
        ranked_facets = facets[:, order]
        same = np.all(ranked_facets[:, 1:] == ranked_facets[:, :-1], axis=0)
    shared = np.zeros(order.size, dtype=bool)
    shared[1:] |= same
    shared[:-1] |= same
    alone = order[~shared]
    return facets[:, alone], opposite[alone]


def transmissibilities(mesh: Mesh) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Edges ``(2, n_edges)`` with ``i < j`` and their transmissibilities
    ``T_ij = -K_ij``, ``K`` the P1 stiffness matrix, in the order of its CSR entries;
    entries that add up to exactly 0 (the diagonals of right-triangle meshes) are left out.

    Element by element, ``K^e_ab = |K| ∇λ_a·∇λ_b`` with the barycentric gradients
    from the adjugate of the edge matrix, summed over the elements by a sort of one
    integer key per local edge: scikit-fem's assembly gives the same numbers (to
    round-off, tests/meshes/test_generators.py) at a third to a tenth of the time,
    which on a small run was more than its whole time stepping."""
    p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t, dtype=np.int64)
    gradients, volume = _barycentric_gradients(p, t)
    n = p.shape[1]
    pairs = [(a, b) for a in range(t.shape[0]) for b in range(a + 1, t.shape[0])]
    first = np.concatenate([t[a] for a, _ in pairs])
    second = np.concatenate([t[b] for _, b in pairs])
    local = np.concatenate([-volume * np.sum(gradients[a] * gradients[b], axis=0) for a, b in pairs])
    key = np.minimum(first, second) * n + np.maximum(first, second)
    keys, inverse = np.unique(key, return_inverse=True)
    trans = np.bincount(inverse.ravel(), weights=local, minlength=keys.size)
    keep = trans != 0.0
    keys = keys[keep]
    return np.vstack([keys // n, keys % n]).astype(np.int64), trans[keep]


def _barycentric_gradients(p: NDArray[np.float64], t: NDArray[np.int64]) -> tuple[NDArray[np.float64],
                                                                                     NDArray[np.float64]]:
    """``∇λ_a`` of each vertex ``a`` of each simplex, shape ``(dim + 1, dim, nelems)``, and the
    simplices' volumes ``(nelems,)``: the rows of the inverse edge matrix by its adjugate."""
    dim = p.shape[0]
    origin = p[:, t[0]]
    e = [p[:, t[k]] - origin for k in range(1, dim + 1)]  # (dim, nelems) each
    if dim == 1:
        rows = [1.0 / e[0]]
        det = e[0][0]
    elif dim == 2:
        det = e[0][0] * e[1][1] - e[0][1] * e[1][0]
        rows = [np.vstack([e[1][1], -e[1][0]]) / det, np.vstack([-e[0][1], e[0][0]]) / det]
    else:
        cross = [np.cross(e[(k + 1) % 3].T, e[(k + 2) % 3].T).T for k in range(3)]
        det = np.sum(e[0] * cross[0], axis=0)
        rows = [c / det for c in cross]
    gradients = np.stack([-sum(rows), *rows])
    return gradients, np.abs(det) / math.factorial(dim)


def p1_element(mesh: Mesh):  # type: ignore[no-untyped-def]
    """The scikit-fem P1 element for the mesh's dimension."""
    from skfem import ElementLineP1, ElementTetP1, ElementTriP1

    return {1: ElementLineP1, 2: ElementTriP1, 3: ElementTetP1}[mesh.dim()]()


def check(mesh: Mesh, transmissibility: str = "auto") -> MeshReport:
    """Validate a simplicial mesh of a convex domain, and report on the
    transmissibilities the scheme would use (:data:`TRANSMISSIBILITIES`).

    Raises
    ------
    MeshError
        If a coordinate is not finite, a vertex belongs to no element, an
        element is degenerate or inverted, the domain is not convex, or
        ``transmissibility="voronoi"`` and the mesh is not Delaunay.
    """
    return check_and_transmissibilities(mesh, transmissibility).report


class Checked(NamedTuple):
    """A checked mesh's report, its edges ``(2, n_edges)`` and their transmissibilities, and
    the node masses that go with them (None: the lumped P1 masses, left to the caller)."""

    report: MeshReport
    edges: NDArray[np.int64]
    T: NDArray[np.float64]
    masses: NDArray[np.float64] | None


def check_and_transmissibilities(mesh: Mesh, transmissibility: str = "auto") -> Checked:
    """:func:`check`, also returning the transmissibilities (and masses) it chose."""
    if not isinstance(transmissibility, str) or transmissibility not in TRANSMISSIBILITIES:
        raise ValueError(f"unknown transmissibility {transmissibility!r}: choose 'auto' (P1 where all its T_ij >= 0, "
                         "else the Voronoi dual of a Delaunay mesh), 'p1' or 'voronoi'")
    report, edges, trans = _check_p1(mesh)
    if transmissibility == "p1" or (transmissibility == "auto" and report.admissible):
        return Checked(report, edges, trans, None)
    from .voronoi import check_delaunay, delaunay_violations, voronoi_dual

    if transmissibility == "auto" and delaunay_violations(mesh).any():
        return Checked(replace(report, delaunay=False), edges, trans, None)
    if transmissibility == "voronoi":
        check_delaunay(mesh)
    dual = voronoi_dual(mesh, check=False)
    report = replace(report, n_edges=dual.edges.shape[1], n_bad_edges=0, min_transmissibility=float(dual.T.min()),
                     transmissibility="voronoi", p1_bad_edges=report.n_bad_edges, delaunay=True)
    return Checked(report, dual.edges, dual.T, dual.masses)


def _check_p1(mesh: Mesh) -> tuple[MeshReport, NDArray[np.int64], NDArray[np.float64]]:
    """The validation, and the report on the P1 :func:`transmissibilities`."""
    p, t = np.asarray(mesh.p, dtype=np.float64), np.asarray(mesh.t)
    dim = p.shape[0]
    if t.shape[0] != dim + 1:
        raise MeshError(
            f"expected simplices (intervals, triangles or tetrahedra) with {dim + 1} vertices, "
            f"got elements with {t.shape[0]}; convert the mesh to simplices first"
        )
    if not np.all(np.isfinite(p)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(p), axis=0))[0])
        raise MeshError(f"vertex {bad} has a non-finite coordinate {p[:, bad]}")
    unused = np.flatnonzero(np.bincount(np.asarray(t, dtype=np.int64).ravel(), minlength=p.shape[1]) == 0)
    if unused.size:
        raise MeshError(
            f"{unused.size} vertices belong to no element (first: {int(unused[0])}); "
            "remove unused vertices before solving"
        )
    vol = signed_volumes(p, t)
    scale = float(np.max(np.ptp(p, axis=1))) ** dim
    degenerate = np.abs(vol) <= 1e-14 * scale
    if np.any(degenerate):
        k = int(np.flatnonzero(degenerate)[0])
        raise MeshError(
            f"{int(degenerate.sum())} degenerate (zero-volume) elements, first is element {k} "
            f"with vertices {t[:, k].tolist()}; remesh the domain"
        )
    if np.any(vol < 0):
        k = int(np.flatnonzero(vol < 0)[0])
        raise MeshError(
            f"{int((vol < 0).sum())} inverted (negatively oriented) elements, first is element {k} "
            f"with vertices {t[:, k].tolist()}; swap two vertices of each, e.g. with meshes.orient(mesh)"
        )
    volume = float(vol.sum())
    _check_convex_and_conforming(p, t, volume)
    edges, trans = transmissibilities(mesh)
    tol = 1e-12 * float(np.max(np.abs(trans)))
    lengths = np.linalg.norm(p[:, edges[0]] - p[:, edges[1]], axis=0)
    report = MeshReport(
        dim=dim,
        n_nodes=p.shape[1],
        n_elements=t.shape[1],
        n_edges=edges.shape[1],
        volume=volume,
        h_max=float(lengths.max()),
        n_bad_edges=int(np.count_nonzero(trans < -tol)),
        min_transmissibility=float(trans.min()),
    )
    return report, edges, trans


def _check_convex_and_conforming(p: NDArray[np.float64], t: NDArray[np.integer], volume: float) -> None:
    """A mesh covers a convex domain exactly when its volume equals that of the
    convex hull of its vertices (holes and dents make it smaller, overlapping
    elements larger), and it is conforming when, besides, every facet of one
    element only lies on the hull's boundary: one inside is a slit (nodes
    duplicated along an interior line or surface), which no mass crosses."""
    dim = p.shape[0]
    centre = p.mean(axis=1, keepdims=True)
    p = p - centre  # planes through the mesh's own centre are well conditioned
    if dim == 1:
        hull = float(np.ptp(p))
        planes = np.array([[-1.0, float(p.min())], [1.0, -float(p.max())]])
    else:
        from scipy.spatial import ConvexHull

        convex_hull = ConvexHull(p.T)
        hull, planes = float(convex_hull.volume), np.asarray(convex_hull.equations)
    if volume > hull * (1 + 1e-8):
        raise MeshError(
            f"elements overlap: their volumes add up to {volume:.10g}, more than the volume {hull:.10g} "
            "of the domain (the convex hull of the vertices); remove the duplicated or overlapping elements"
        )
    if volume < hull * (1 - 1e-8):
        raise MeshError(
            f"the domain is not convex (or has holes): its volume {volume:.10g} is smaller than "
            f"the volume {hull:.10g} of its convex hull; fempde's theory needs a convex domain"
        )
    facets, opposite = _one_cell_facets(np.asarray(t, dtype=np.int64), p.shape[1])
    diameter = float(np.max(np.ptp(p, axis=1)))
    inside = ~_on_a_plane(_outward_planes(p, facets, opposite), planes, diameter)
    if np.any(inside):
        k = int(np.flatnonzero(inside)[0])
        where = (p[:, facets[:, k]].mean(axis=1) + centre[:, 0]).tolist()
        raise MeshError(
            f"{int(inside.sum())} facets inside the domain belong to one element only (a slit: nodes "
            f"duplicated along an interior {('point', 'line', 'surface')[dim - 1]}), first with vertices "
            f"{facets[:, k].tolist()} at x = {[round(c, 6) for c in where]}; merge the duplicated nodes so that "
            "the elements on both sides share them"
        )


def _outward_planes(p: NDArray[np.float64], facets: NDArray[np.int64],
                    opposite: NDArray[np.int64]) -> NDArray[np.float64]:
    """The planes ``n . x + b = 0`` (rows ``(n, b)``, unit ``n`` pointing away from the
    facet's element) of the facets ``(dim, n_facets)``."""
    dim = p.shape[0]
    base = p[:, facets[0]]
    if dim == 1:
        normal = np.ones((1, facets.shape[1]))
    elif dim == 2:
        edge = p[:, facets[1]] - base
        normal = np.vstack([edge[1], -edge[0]])
    else:
        normal = np.cross((p[:, facets[1]] - base).T, (p[:, facets[2]] - base).T).T
    normal = normal / np.linalg.norm(normal, axis=0)
    normal *= -np.sign(np.sum(normal * (p[:, opposite] - base), axis=0))
    return np.vstack([normal, -np.sum(normal * base, axis=0)]).T


def _on_a_plane(facets: NDArray[np.float64], planes: NDArray[np.float64], diameter: float) -> NDArray[np.bool_]:
    """Whether each facet plane (row ``(n, b)``) is one of the hull's ``planes``
    (the same outward normal and offset, to a relative ``1e-8``)."""
    from scipy.spatial import cKDTree

    scale = np.ones(planes.shape[1])
    scale[-1] = 1.0 / diameter
    distance, _ = cKDTree(planes * scale).query(facets * scale)
    return np.asarray(distance <= 1e-8)
