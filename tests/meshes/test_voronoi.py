"""Voronoi-dual transmissibilities and masses (meshes.voronoi) against an independent
reference, and the properties the scheme relies on: T_ij >= 0, Σ m_i = |Ω|, and the
P1 stiffness recovered where the two coincide."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull, HalfspaceIntersection
from skfem import MeshTri1

import fempde
import meshes
from meshes.generators import _delaunay


def _random_cloud() -> object:
    return _delaunay(np.random.default_rng(7).random((3, 60)))


def clipped_voronoi(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each node's cell as scipy's intersection of half-spaces (the bisectors with its
    mesh neighbours and the hull's facets); face areas from the cell's vertices on
    each bisector. Edges with a face of positive area, their T, and the masses."""
    p, t = np.asarray(mesh.p), np.asarray(mesh.t)
    dim, n = p.shape
    pairs = {tuple(sorted((int(a), int(b)))) for cell in t.T for a in cell for b in cell if a != b}
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for a, b in pairs:
        neighbours[a].append(b)
        neighbours[b].append(a)
    hull = ConvexHull(p.T).equations
    masses, faces = np.zeros(n), {}
    for i in range(n):
        normals = (p[:, neighbours[i]] - p[:, [i]]).T
        offsets = -np.sum(normals * 0.5 * (p[:, neighbours[i]] + p[:, [i]]).T, axis=1)
        inside = p[:, i] + 0.01 * (p[:, neighbours[i]].mean(axis=1) - p[:, i])
        corners = HalfspaceIntersection(np.vstack([hull, np.column_stack([normals, offsets])]), inside).intersections
        masses[i] = ConvexHull(corners).volume
        for j, normal, offset in zip(neighbours[i], normals, offsets, strict=True):
            length = np.linalg.norm(normal)
            on = np.abs(corners @ normal + offset) <= 1e-10 * length
            face = corners[on]
            if dim == 2:
                area = np.ptp(face @ np.array([-normal[1], normal[0]]) / length) if on.sum() >= 2 else 0.0
            else:
                u = np.linalg.svd(face - face.mean(axis=0))[2][:2] if on.sum() >= 3 else None
                area = ConvexHull((face - face.mean(axis=0)) @ u.T).volume if u is not None and on.sum() >= 3 else 0.0
            faces[(min(i, j), max(i, j))] = area / length
    edges = np.array(sorted(faces)).T
    T = np.array([faces[e] for e in sorted(faces)])
    keep = T > 1e-12 * T.max()
    return edges[:, keep], T[keep], masses


@pytest.mark.parametrize(
    "mesh", [meshes.disk(h=0.3), meshes.polygon([[0, 0], [2, 0], [1.5, 1], [0.2, 0.8]], h=0.4),
             meshes.ball(h=0.4), meshes.box(h=0.34), _random_cloud()],
    ids=["disk", "polygon", "ball", "box", "random-3d"])
def test_matches_an_independent_clipped_voronoi_diagram(mesh):
    # the random cloud: slivers everywhere, circumcentres far outside the hull
    dual = meshes.voronoi_dual(mesh)
    edges, T, masses = clipped_voronoi(mesh)
    np.testing.assert_array_equal(dual.edges, edges)
    assert np.abs(dual.T - T).max() <= 1e-12 * T.max()  # measured 1.4e-15
    assert np.abs(dual.masses - masses).max() <= 1e-12 * masses.max()  # measured 3.5e-14


@pytest.mark.parametrize("h", [0.25, 0.14])
def test_ball_cells_are_nonnegative_and_tile_the_domain(h):
    mesh = meshes.ball(h=h)
    p1 = meshes.check(mesh, transmissibility="p1")
    report = meshes.check(mesh)
    dual = meshes.voronoi_dual(mesh)
    assert p1.n_bad_edges > 0.05 * p1.n_edges  # the reason: measured 19 % (h = 0.25), 9 % (h = 0.14)
    assert report.transmissibility == "voronoi" and report.admissible and report.p1_bad_edges == p1.n_bad_edges
    assert dual.T.min() > 0 and dual.masses.min() > 0
    assert dual.masses.sum() == pytest.approx(p1.volume, rel=1e-13)


def test_interior_edges_of_a_2d_delaunay_mesh_have_the_p1_weights():
    """In 2-D the cotangent formula is the circumcentric dual: the two differ only on
    wall edges whose circumcentre lies outside (there the clipped face is shorter)."""
    mesh = meshes.disk(h=0.1)
    p1_edges, p1_T = meshes.transmissibilities(mesh)
    dual = meshes.voronoi_dual(mesh)
    wall = np.zeros(mesh.p.shape[1], dtype=bool)
    wall[meshes.boundary_nodes(mesh)] = True
    key = dual.edges[0] * mesh.p.shape[1] + dual.edges[1]
    at = np.searchsorted(p1_edges[0] * mesh.p.shape[1] + p1_edges[1], key)
    interior = ~(wall[dual.edges[0]] & wall[dual.edges[1]])
    assert np.abs(dual.T[interior] - p1_T[at[interior]]).max() <= 1e-12 * p1_T.max()


def test_one_dimension_is_p1():
    mesh = meshes.interval(0.0, 1.0, h=0.1)
    space, voronoi = fempde.Space(mesh, masses="lumped"), fempde.Space(mesh, transmissibility="voronoi")
    np.testing.assert_array_equal(voronoi.edges, space.edges)
    assert np.abs(voronoi.T - space.T).max() <= 1e-12 * space.T.max()
    assert np.abs(voronoi.m - space.m).max() <= 1e-15


def test_every_generator_but_the_ball_keeps_p1_and_the_ball_gets_voronoi():
    for mesh in (meshes.interval(h=0.1), meshes.rectangle(h=0.1), meshes.disk(h=0.1), meshes.box(h=0.25),
                 meshes.polygon([[0, 0], [1, 0], [0, 1]], h=0.1)):
        assert fempde.Space(mesh).transmissibility == "p1"
        meshes.check_delaunay(mesh)  # and each is Delaunay: transmissibility="voronoi" would be accepted
    space = fempde.Space(meshes.ball(h=0.25))  # no force, no warning
    assert space.transmissibility == "voronoi"
    assert "Voronoi-dual transmissibilities, all >= 0 (the P1 stiffness has 519 negative ones)" in repr(space)


def _kite() -> MeshTri1:
    """Two triangles with obtuse angles facing one edge: not Delaunay, T_01 < 0 under P1."""
    p = np.array([[0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.1, -0.1]])
    return MeshTri1(p, np.array([[0, 1, 2], [1, 0, 3]]).T, sort_t=False)


def test_voronoi_on_a_mesh_that_is_not_delaunay_is_refused():
    with pytest.raises(meshes.MeshError, match=r"not the Delaunay triangulation of its nodes: 1 interior facets "
                       r"fail the empty-sphere test.*triangulate the nodes with scipy.spatial.Delaunay"):
        fempde.Space(_kite(), transmissibility="voronoi")
    with pytest.raises(meshes.MeshError, match="the mesh is not Delaunay, so the Voronoi-dual transmissibilities"):
        fempde.Space(_kite())  # auto: P1 has a negative one and Voronoi cannot replace it


def test_p1_asked_for_on_the_ball_is_refused_with_the_way_out():
    with pytest.raises(meshes.MeshError, match=r"519 of 2767 mesh edges have a negative transmissibility.*"
                       r"pass transmissibility='auto' \(the Voronoi dual's\), or pass force=True"):
        fempde.Space(meshes.ball(h=0.25), transmissibility="p1")


@pytest.mark.parametrize("value", ["cotangent", "P1", None, 1])
def test_unknown_transmissibility_is_named(value):
    with pytest.raises(ValueError, match=f"unknown transmissibility {value!r}: choose 'auto'.*'p1' or 'voronoi'"):
        fempde.Space(meshes.interval(h=0.5), transmissibility=value)


@pytest.mark.parametrize(
    ("simplex", "planes", "exact"),
    [
        # the unit tetrahedron less its corners x > 1/2 and y > 1/2: 1/6 − 2/48
        (np.eye(4, 3, -1), [[1, 0, 0, -0.5], [0, 1, 0, -0.5]], 1 / 8),
        (np.eye(4, 3, -1)[[0, 2, 1, 3]], [[1, 0, 0, -0.5]], 7 / 48),  # negatively oriented
        (np.eye(4, 3, -1), [[-1, -1, -1, 2.0]], 0.0),  # x + y + z >= 2: nothing
        (np.eye(3, 2, -1), [[1, 0, -0.5]], 3 / 8),  # the unit triangle, x <= 1/2
        (np.eye(4, 3, -1)[1:], [[0, 0, 1, -0.5]], np.sqrt(3) / 2 * 3 / 4),  # a 3-D triangle, z <= 1/2
        (np.array([[0.0, 0.0], [2.0, 0.0]]), [[1, 0, -1.5], [-1, 0, 0.5]], 1.0),  # a segment, 1/2 <= x <= 3/2
    ],
    ids=["tetrahedron", "inverted", "empty", "triangle", "triangle-3d", "segment"])
def test_clipped_measures_are_exact(simplex, planes, exact):
    from meshes.clipping import clipped_measure

    planes = np.array(planes, dtype=float)
    planes /= np.linalg.norm(planes[:, :-1], axis=1, keepdims=True)
    assert clipped_measure(np.asarray(simplex, dtype=float), planes, 1e-12) == pytest.approx(exact, abs=1e-15)
