"""Generated meshes: valid, the right domain, and admissible for the edge-flux scheme."""

import math

import numpy as np
import pytest

import meshes


@pytest.mark.parametrize(
    ("mesh", "volume", "rtol"),
    [
        (meshes.interval(-1.0, 2.0, h=0.1), 3.0, 1e-14),
        (meshes.rectangle(0.0, 2.0, -1.0, 0.5, h=0.1), 3.0, 1e-14),
        (meshes.box((0, 0, 0), (1, 2, 0.5), h=0.25), 1.0, 1e-14),
        (meshes.polygon([[0, 0], [2, 0], [2.5, 1], [1, 2], [-0.3, 1]], h=0.1), 3.8, 1e-14),
        # inscribed polygon: area error ~ (2π/3)·R·(h²/... ) is O(h²)
        (meshes.disk(radius=1.0, h=0.05), math.pi, 2e-3),
        (meshes.ball(radius=1.0, h=0.2), 4 * math.pi / 3, 3e-2),
    ],
    ids=["interval", "rectangle", "box", "polygon", "disk", "ball"],
)
def test_generated_meshes_cover_the_domain(mesh, volume, rtol):
    report = meshes.check(mesh)
    assert report.volume == pytest.approx(volume, rel=rtol)
    assert np.all(meshes.signed_volumes(mesh.p, mesh.t) > 0)
    assert set(mesh.boundaries) == {"wall"}
    assert mesh.boundaries["wall"].size > 0


@pytest.mark.parametrize(
    "mesh",
    [
        meshes.interval(h=0.01),
        meshes.rectangle(h=0.05),
        meshes.box(h=0.2),
        meshes.disk(radius=2.0, h=0.1, center=(1.0, -1.0)),
        meshes.polygon([[0, 0], [1, 0], [0.2, 0.9]], h=0.03),  # acute corners
        meshes.polygon([[0, 0], [4, 0], [4, 0.5], [0, 0.5]], h=0.07),  # thin
    ],
    ids=["interval", "rectangle", "box", "disk", "triangle", "strip"],
)
def test_generated_meshes_have_nonnegative_transmissibilities(mesh):
    assert meshes.check(mesh).n_bad_edges == 0


def test_ball_bad_edges_are_few_and_only_at_the_wall():
    mesh = meshes.ball(radius=1.0, h=0.1)
    report = meshes.check(mesh)
    edges, trans = meshes.transmissibilities(mesh)
    bad = trans < -1e-12 * np.abs(trans).max()
    midpoint_radius = np.linalg.norm(0.5 * (mesh.p[:, edges[0]] + mesh.p[:, edges[1]]), axis=0)
    assert report.n_bad_edges == bad.sum()
    assert report.n_bad_edges / report.n_edges < 0.10
    assert midpoint_radius[bad].min() > 1.0 - 2 * 0.1


@pytest.mark.parametrize("h", [0.2, 0.1, 0.07])
def test_ball_is_conforming(h):
    """qhull's flat tetrahedra (co-circular nodes where the lattice meets the sphere)
    are re-cut, not just dropped: every face belongs to two cells except the
    sphere's, so the wall nodes are exactly the nodes on the sphere."""
    mesh = meshes.ball(radius=1.0, h=h)
    on_sphere = np.flatnonzero(np.abs(np.linalg.norm(mesh.p, axis=0) - 1.0) < 1e-12)
    np.testing.assert_array_equal(meshes.boundary_nodes(mesh), on_sphere)
    faces = np.sort(np.concatenate([np.delete(mesh.t, k, axis=0) for k in range(4)], axis=1), axis=0)
    _, cells_per_face = np.unique(faces, axis=1, return_counts=True)
    assert cells_per_face.max() == 2
    # the one-cell faces tile the sphere: a closed triangulated surface has faces = 2 (nodes − 2)
    assert (cells_per_face == 1).sum() == 2 * (on_sphere.size - 2)


def test_mesh_size_follows_h():
    coarse, fine = meshes.check(meshes.disk(h=0.1)), meshes.check(meshes.disk(h=0.05))
    assert fine.n_nodes / coarse.n_nodes == pytest.approx(4.0, rel=0.1)
    assert fine.h_max <= 1.5 * 0.05


def test_clockwise_polygon_is_accepted():
    ccw = [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert meshes.check(meshes.polygon(ccw[::-1], h=0.1)).volume == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: meshes.polygon([[0, 0], [2, 0], [1, 0.3], [1, 2]], h=0.1), "not convex"),
        (lambda: meshes.polygon([[0, 0], [1, 0], [2, 0], [1, 1]], h=0.1), "not convex"),
        (lambda: meshes.polygon([[0, 0], [1, 0]], h=0.1), "n >= 3"),
        (lambda: meshes.disk(radius=-1.0), "radius must be a positive"),
        (lambda: meshes.interval(1.0, 0.0), "a < b"),
        (lambda: meshes.rectangle(h=0.0), "h must be a positive"),
        (lambda: meshes.box((0, 0, 0), (1, -1, 1)), "lower < upper"),
    ],
)
def test_bad_domains_raise_clear_errors(call, message):
    with pytest.raises(meshes.MeshError, match=message):
        call()


@pytest.mark.parametrize("flat_keys", [True, False], ids=["integer-keys", "lexsort"])
@pytest.mark.parametrize(
    "mesh",
    [meshes.interval(h=0.1), meshes.rectangle(h=0.1), meshes.disk(h=0.1), meshes.box(h=0.25), meshes.ball(h=0.2)],
    ids=["interval", "rectangle", "disk", "box", "ball"],
)
def test_boundary_nodes_are_those_of_scikit_fems_boundary_facets(mesh, flat_keys, monkeypatch):
    if not flat_keys:  # the path for meshes too large to encode a facet in one int64
        monkeypatch.setattr(meshes.checks, "_KEY_LIMIT", 0.0)
    expected = np.unique(mesh.facets[:, mesh.boundary_facets()])
    np.testing.assert_array_equal(meshes.boundary_nodes(mesh), expected)
