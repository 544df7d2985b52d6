"""Meshes of compact convex domains with a target size ``h``.

Every generator returns a scikit-fem mesh with positively oriented simplices
and the whole boundary named ``"wall"``. The 2-D generators triangulate point
sets by Delaunay, which makes every transmissibility of the P1 stiffness
matrix non-negative (what the edge-flux scheme needs); :func:`meshes.check`
verifies it.

Every parameter is checked before any work: numbers must be real numbers
(``True`` and ``"1"`` are not), coordinates must have the domain's dimension,
and a mesh of more than :data:`MAX_NODES` nodes (estimated from the domain and
``h`` before any array is allocated) is refused unless ``allow_large=True``,
with the memory a run on it would take.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh, MeshLine1, MeshTet1, MeshTri1

from .recipes import recorded
from .simplices import MeshError, signed_volumes

__all__ = ["MAX_NODES", "ball", "box", "disk", "interval", "orient", "polygon", "rectangle"]

MAX_NODES = 2_000_000
"""The most nodes a generator makes without ``allow_large=True``."""
_BYTES_PER_NODE = {1: 1024.0, 2: 2.5 * 1024, 3: 10 * 1024}  # a run's peak memory (benchmarks/results/scaling_*.txt)
_INDEX_LIMIT = 2.0**31  # beyond, no generator can index its nodes (nor any machine hold them)


def _real(name: str, value: float) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise MeshError(f"{name} must be a number, got {value!r}", parameter=name)
    number = float(value)
    if not np.isfinite(number):
        raise MeshError(f"{name} must be a finite number, got {value!r}", parameter=name)
    return number


def _positive(name: str, value: float) -> float:
    number = _real(name, value)
    if number <= 0:
        raise MeshError(f"{name} must be a positive number, got {value!r}", parameter=name)
    return number


def _coordinates(name: str, value: ArrayLike, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """``value`` as a float array of ``shape`` (``-1``: any length), refusing booleans and strings."""
    try:
        array = np.asarray(value)
    except ValueError:  # ragged nesting
        array = np.asarray(None)
    if _has_bool(value):  # numpy turns [0, True] into [0, 1]
        array = np.asarray(None)
    if array.dtype.kind not in "iuf" or array.ndim != len(shape) or any(
            n not in (-1, m) for n, m in zip(shape, array.shape, strict=True)):
        what = f"{shape[0]} numbers" if len(shape) == 1 else "a list of [x, y] pairs"
        raise MeshError(f"{name} must be {what}, got {value!r}", parameter=name)
    if not np.all(np.isfinite(array)):
        raise MeshError(f"{name} must be finite numbers, got {value!r}", parameter=name)
    return array.astype(np.float64)


def _has_bool(value: object) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_has_bool(item) for item in value)
    return isinstance(value, (bool, np.bool_))


def _affordable(call: str, nodes: float, dim: int, allow_large: bool) -> None:
    """Refuse a mesh of more than :data:`MAX_NODES` nodes (estimated) unless ``allow_large``."""
    if not isinstance(allow_large, (bool, np.bool_)):
        raise MeshError(f"allow_large must be True or False, got {allow_large!r}", parameter="allow_large")
    if nodes <= MAX_NODES or (allow_large and nodes < _INDEX_LIMIT):
        return
    memory = _bytes(nodes * _BYTES_PER_NODE[dim])
    if nodes >= _INDEX_LIMIT:
        count = (f"about {nodes:.3g} nodes and need about {memory} of memory to run on" if np.isfinite(nodes)
                 else "more nodes than a float can count")
        raise MeshError(f"{call} would have {count}; no machine can mesh that: use a larger h or a smaller domain",
                        parameter="h")
    raise MeshError(f"{call} would have about {nodes:.3g} nodes, more than the limit of {MAX_NODES:,}: a run on it "
                    f"needs about {memory} of memory; use a larger h, or pass allow_large=True to mesh it anyway",
                    parameter="h")


def _bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.3g} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _cells(length: float, h: float) -> int:
    return max(1, int(np.ceil(length / h - 1e-9)))


def orient(mesh: Mesh) -> Mesh:
    """Return ``mesh`` with every negatively oriented simplex flipped (two vertices swapped)."""
    t = np.array(mesh.t, copy=True)
    flip = signed_volumes(np.asarray(mesh.p), t) < 0
    t[[0, 1]] = np.where(flip, t[[1, 0]], t[[0, 1]])
    return _named(type(mesh)(np.ascontiguousarray(mesh.p), np.ascontiguousarray(t), sort_t=False))


def _named(mesh: Mesh) -> Mesh:
    return mesh.with_boundaries({"wall": mesh.boundary_facets()})


@recorded("interval")
def interval(a: float = 0.0, b: float = 1.0, h: float = 0.01, allow_large: bool = False) -> MeshLine1:
    """Uniform mesh of ``[a, b]``."""
    a, b, h = _real("a", a), _real("b", b), _positive("h", h)
    if not b > a:
        raise MeshError(f"interval needs a < b, got a={a}, b={b}", parameter="b")
    _affordable(f"interval(a={a:g}, b={b:g}, h={h:g})", (b - a) / h + 1, 1, allow_large)
    n = _cells(b - a, h)
    t = np.vstack([np.arange(n), np.arange(1, n + 1)])
    return _named(MeshLine1(np.linspace(a, b, n + 1)[None, :], t))


@recorded("rectangle")
def rectangle(
    x0: float = 0.0, x1: float = 1.0, y0: float = 0.0, y1: float = 1.0, h: float = 0.05, allow_large: bool = False
) -> MeshTri1:
    """Structured right-triangle mesh of ``[x0, x1] x [y0, y1]``."""
    x0, x1, y0, y1 = (_real(name, v) for name, v in (("x0", x0), ("x1", x1), ("y0", y0), ("y1", y1)))
    h = _positive("h", h)
    if not (x1 > x0 and y1 > y0):
        raise MeshError(f"rectangle needs x0 < x1 and y0 < y1, got {(x0, x1, y0, y1)}",
                        parameter="x1" if not x1 > x0 else "y1")
    _affordable(f"rectangle({x0:g}, {x1:g}, {y0:g}, {y1:g}, h={h:g})",
                ((x1 - x0) / h + 1) * ((y1 - y0) / h + 1), 2, allow_large)
    x = np.linspace(x0, x1, _cells(x1 - x0, h) + 1)
    y = np.linspace(y0, y1, _cells(y1 - y0, h) + 1)
    return orient(MeshTri1.init_tensor(x, y))


@recorded("box")
def box(
    lower: Sequence[float] = (0.0, 0.0, 0.0),
    upper: Sequence[float] = (1.0, 1.0, 1.0),
    h: float = 0.1,
    allow_large: bool = False,
) -> MeshTet1:
    """Structured tetrahedral mesh of the box ``lower <= x <= upper``."""
    h = _positive("h", h)
    lo, hi = _coordinates("lower", lower, (3,)), _coordinates("upper", upper, (3,))
    if not np.all(hi > lo):
        raise MeshError(f"box needs 3 lower and 3 upper bounds with lower < upper, got {lower}, {upper}",
                        parameter="upper")
    _affordable(f"box({lo.tolist()}, {hi.tolist()}, h={h:g})", float(np.prod((hi - lo) / h + 1)), 3, allow_large)
    axes = [np.linspace(lo[k], hi[k], _cells(hi[k] - lo[k], h) + 1) for k in range(3)]
    return orient(MeshTet1.init_tensor(*axes))


def _delaunay(points: NDArray[np.float64]) -> Mesh:
    from scipy.spatial import Delaunay

    tri = Delaunay(points.T)
    t = tri.simplices.astype(np.int64)
    vol = signed_volumes(points, t.T)
    # qhull can return flat simplices on (nearly) co-spherical point sets.
    flat = np.abs(vol) <= 1e-12 * np.abs(vol).max()
    if flat.any() and points.shape[0] == 3:
        t, flat = _mend_flat(points, t, tri.neighbors.astype(np.int64), flat)
    mesh_type = {2: MeshTri1, 3: MeshTet1}[points.shape[0]]
    return orient(mesh_type(np.ascontiguousarray(points), np.ascontiguousarray(t[~flat].T), sort_t=False))


def _mend_flat(points: NDArray[np.float64], t: NDArray[np.int64], neighbours: NDArray[np.int64],
               flat: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Remove qhull's flat tetrahedra without leaving slits.

    Where four co-circular nodes bound two non-simplicial Delaunay cells (two
    pyramids on one square, say), qhull splits each cell on its own: the square
    is cut along one diagonal on one side and along the other on the other, and
    a flat tetrahedron on the four nodes glues the two. Dropping it alone would
    leave a slit (faces with one cell each: interior nodes on the "wall", a
    non-conforming P1 space). Instead the two tetrahedra on one side, which
    share their apex, are re-cut along the other side's diagonal, and the flat
    one is dropped. Flat tetrahedra in any other configuration are dropped as
    before; none occurs on the meshes this module makes (checked by the tests).
    """
    bad = np.flatnonzero(flat)
    cells = t[bad]  # (f, 4)
    across = neighbours[bad]  # across[:, k]: the neighbour opposite vertex k
    ok = np.all(across >= 0, axis=1)
    across_safe = np.where(across >= 0, across, 0)
    ok &= ~np.any(flat[across_safe], axis=1)
    # the neighbour's vertex off the shared face: its vertex sum minus the face's; on
    # the hull (no neighbour) the cell's own vertex stands in, in a row already refused
    apex = np.where(across >= 0, t[across_safe].sum(axis=2) - (cells.sum(axis=1, keepdims=True) - cells), cells)
    corners = points[:, cells]  # (3, f, 4)
    normals = np.stack([np.cross((corners[:, :, a] - corners[:, :, 0]).T, (corners[:, :, b] - corners[:, :, 0]).T)
                        for a, b in ((1, 2), (1, 3), (2, 3))])  # (3 choices, f, 3)
    normal = normals[np.argmax(np.linalg.norm(normals, axis=2), axis=0), np.arange(len(bad))]
    side = np.sign(np.einsum("dfk,fd->fk", points[:, apex] - corners[:, :, :1], normal))
    ok &= (side > 0).sum(axis=1) == 2
    ok &= (side < 0).sum(axis=1) == 2
    below = np.argsort(side, axis=1, kind="stable")  # the two below first, then the two above
    rows = np.arange(len(bad))[:, None]
    apex_below = apex[rows, below[:, :2]]
    ok &= apex_below[:, 0] == apex_below[:, 1]
    used, counts = np.unique(across[ok].ravel(), return_counts=True)
    ok &= ~np.isin(across, used[counts > 1]).any(axis=1)
    if not ok.any():
        return t, flat
    fix = bad[ok]
    above = below[ok][:, 2:]
    # the faces above (opposite the vertices whose neighbours lie above), each with the apex below
    faces = np.stack([np.where(np.arange(4)[None, :] == above[:, [j]], apex_below[ok][:, [0]], t[fix])
                      for j in range(2)], axis=1).reshape(-1, 4)
    removed = np.concatenate([fix, across[ok][np.arange(ok.sum())[:, None], below[ok][:, :2]].ravel()])
    before = np.abs(signed_volumes(points, t[removed].T)).sum()
    after = np.abs(signed_volumes(points, faces.T)).sum()
    if not np.isclose(before, after, rtol=1e-9, atol=0.0):  # not a re-cut of the same region: leave as it was
        return t, flat
    keep = np.ones(len(t), dtype=bool)
    keep[removed] = False
    return np.concatenate([t[keep], faces]), np.concatenate([flat[keep], np.zeros(len(faces), dtype=bool)])


@recorded("disk")
def disk(radius: float = 1.0, h: float = 0.05, center: ArrayLike = (0.0, 0.0), allow_large: bool = False) -> MeshTri1:
    """Delaunay mesh of a disk from concentric rings of nodes spaced about ``h``."""
    radius, h = _positive("radius", radius), _positive("h", h)
    c = _coordinates("center", center, (2,)).reshape(2, 1)
    # ring k of R/h holds 2πR k/(R/h)/h nodes: π R (R/h + 1)/h in all
    _affordable(f"disk(radius={radius:g}, h={h:g})", 1 + np.pi * radius * (radius / h + 1) / h, 2, allow_large)
    rings = _cells(radius, h)
    pts = [np.zeros((2, 1))]
    for k in range(1, rings + 1):
        r = radius * k / rings
        n = max(6, int(round(2 * np.pi * r / h)))
        phi = 2 * np.pi * (np.arange(n) + 0.5 * (k % 2)) / n
        pts.append(r * np.vstack([np.cos(phi), np.sin(phi)]))
    return _delaunay(np.hstack(pts) + c)


@recorded("ball")
def ball(radius: float = 1.0, h: float = 0.1, center: ArrayLike = (0.0, 0.0, 0.0),
         allow_large: bool = False) -> MeshTet1:
    """Delaunay mesh of a ball: a body-centred cubic lattice of spacing ``h``
    inside, nodes on a Fibonacci spiral on the sphere.

    The BCC lattice tetrahedra have no obtuse dihedral angle, so every interior
    P1 transmissibility is non-negative; in the layer next to the sphere a few
    are not (about 7 % of the edges at ``h = 0.1``, all within ``2h`` of the
    wall): 3-D has no Delaunay guarantee for P1. The mesh is Delaunay, so
    ``fempde.Space`` takes the Voronoi-dual transmissibilities instead
    (:mod:`meshes.voronoi`, non-negative by construction; ``meshes.check(mesh,
    transmissibility="p1")`` still counts the P1 ones). The layer also holds slivers,
    which get flatter as ``h`` falls (the worst tetrahedron has 7.5e-3, 5.0e-3
    and 1.1e-3 of a regular one's volume at 1.6e4, 1.3e5 and 5e5 nodes), and
    the largest negative transmissibility grows with them, from 20 to 31 and
    141 times the median one.

    The ball's linear systems get harder than the box's as ``h`` falls, and the
    slowest error of a multigrid cycle sits at the sphere, but the negative
    transmissibilities are not the cause: dropping them leaves the iteration
    counts as they are (``benchmarks/ball_layer.py``).

    The mesh is conforming: where co-circular nodes make qhull glue two cells
    with a flat tetrahedron, the cells are re-cut instead (see ``_mend_flat``).
    """
    radius, h = _positive("radius", radius), _positive("h", h)
    c = _coordinates("center", center, (3,)).reshape(3, 1)
    # two lattice nodes per h^3 inside r < radius - 0.7 h, one per 0.87 h^2 on the sphere
    nodes = 8 * np.pi / 3 * max(radius / h - 0.7, 0.0) ** 3 + 4 * np.pi / 0.87 * (radius / h) ** 2
    _affordable(f"ball(radius={radius:g}, h={h:g})", nodes, 3, allow_large)
    g = np.arange(-radius, radius + h, h)
    corners = np.array(np.meshgrid(g, g, g, indexing="ij")).reshape(3, -1) - g.mean()
    lattice = np.hstack([corners, corners + h / 2])
    lattice = lattice[:, np.linalg.norm(lattice, axis=0) < radius - 0.7 * h]
    n = max(12, int(round(4 * np.pi * radius**2 / (0.87 * h**2))))
    z = 1 - (2 * np.arange(n) + 1) / n
    s = np.sqrt(1 - z**2)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * np.arange(n)
    sphere = radius * np.vstack([s * np.cos(phi), s * np.sin(phi), z])
    return _delaunay(np.hstack([lattice, sphere]) + c)


@recorded("polygon")
def polygon(vertices: ArrayLike, h: float = 0.05, allow_large: bool = False) -> MeshTri1:
    """Delaunay mesh of the convex polygon with the given vertices (shape ``(n, 2)``)."""
    h = _positive("h", h)
    v = _coordinates("vertices", vertices, (-1, 2))
    if v.shape[0] < 3:
        raise MeshError(f"polygon needs an (n, 2) array of n >= 3 vertices, got shape {v.shape}",
                        parameter="vertices")
    # one node per h on the boundary, an equilateral lattice 0.7 h away from it inside
    area = 0.5 * abs(float(np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])))
    perimeter = float(np.sum(np.hypot(*(np.roll(v, -1, axis=0) - v).T)))
    nodes = max(area - 0.7 * h * perimeter, 0.0) / (h**2 * np.sqrt(3) / 2) + perimeter / h
    _affordable(f"polygon({len(v)} vertices, h={h:g})", nodes, 2, allow_large)
    edges = np.roll(v, -1, axis=0) - v
    cross = edges[:, 0] * np.roll(edges, -1, axis=0)[:, 1] - edges[:, 1] * np.roll(edges, -1, axis=0)[:, 0]
    if np.all(cross <= 0):  # clockwise: reverse so that the interior is on the left
        v, edges = v[::-1], (np.roll(v[::-1], -1, axis=0) - v[::-1])
        cross = -cross[::-1]
    if np.any(cross <= 1e-12 * np.max(np.abs(cross))):
        k = int(np.flatnonzero(cross <= 1e-12 * np.max(np.abs(cross)))[0])
        raise MeshError(
            f"polygon is not convex: the turn at vertex {(k + 1) % len(v)} "
            f"({v[(k + 1) % len(v)].tolist()}) is reflex or straight; fempde needs a convex domain "
            "listed without repeated or collinear vertices", parameter="vertices"
        )
    boundary = []
    for a, e in zip(v, edges, strict=True):
        n = _cells(float(np.hypot(*e)), h)
        boundary.append(a[:, None] + e[:, None] * (np.arange(n) / n))
    # Interior nodes on an equilateral lattice, kept away from the walls so that
    # no boundary edge faces an obtuse angle.
    normals = np.vstack([edges[:, 1], -edges[:, 0]]) / np.hypot(edges[:, 0], edges[:, 1])
    offsets = np.sum(normals.T * v, axis=1)
    lo, hi = v.min(axis=0), v.max(axis=0)
    ys = np.arange(lo[1], hi[1] + h, h * np.sqrt(3) / 2)
    rows = [_lattice_row(lo[0] + 0.5 * h * (i % 2), hi[0] + h, h, y, normals, offsets, 0.7 * h)
            for i, y in enumerate(ys)]
    return _delaunay(np.hstack(boundary + rows))


def _lattice_row(start: float, stop: float, h: float, y: float, normals: NDArray[np.float64],
                 offsets: NDArray[np.float64], margin: float) -> NDArray[np.float64]:
    """The points of the lattice row ``np.arange(start, stop, h)`` at height ``y`` whose
    distance to every edge line (``normals @ x <= offsets``) is at least ``margin``:
    only the row's span inside the polygon is built, so the memory is that of the
    nodes, not of the bounding box (a thin diagonal polygon's box is mostly empty)."""
    count = max(int(np.ceil((stop - start) / h)), 0)
    reach = offsets - normals[1] * y - margin  # normals[0] x <= reach for every edge
    lower, upper = -np.inf, np.inf
    for nx, r in zip(normals[0], reach, strict=True):
        if nx > 0:
            upper = min(upper, r / nx)
        elif nx < 0:
            lower = max(lower, r / nx)
        elif r < 0:
            return np.empty((2, 0))
    if not lower <= upper:
        return np.empty((2, 0))
    first = max(int(np.floor((lower - start) / h)) - 1, 0)
    last = min(int(np.ceil((upper - start) / h)) + 2, count)
    delta = (start + h) - start  # numpy's arange steps by this
    xs = start + np.arange(first, max(last, first)) * delta
    points = np.vstack([xs, np.full_like(xs, y)])
    dist = -(normals.T @ points - offsets[:, None])  # signed distance to each edge line, positive inside
    return points[:, np.all(dist >= margin, axis=0)]
