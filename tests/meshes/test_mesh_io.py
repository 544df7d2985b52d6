"""Loading and saving meshes, and the checks on what is loaded."""

import numpy as np
import pytest
from skfem import MeshTri1

import meshes


@pytest.mark.parametrize("suffix", [".vtu", ".msh", ".vtk"])
@pytest.mark.parametrize(
    "mesh", [meshes.interval(h=0.1), meshes.disk(h=0.2), meshes.ball(h=0.5)], ids=["1d", "2d", "3d"]
)
def test_round_trip(tmp_path, mesh, suffix):
    path = tmp_path / f"mesh{suffix}"
    meshes.save(mesh, path)
    loaded = meshes.load(path)
    assert loaded.dim() == mesh.dim()
    np.testing.assert_allclose(loaded.p, mesh.p, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(loaded.t, mesh.t)
    assert set(loaded.boundaries) == {"wall"}


def _write(tmp_path, points, cells, cell_type="triangle"):
    import meshio

    path = tmp_path / "m.vtu"
    meshio.write(path, meshio.Mesh(np.asarray(points, float), [(cell_type, np.asarray(cells))]))
    return path


def test_inverted_element_is_reported(tmp_path):
    path = _write(tmp_path, [[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], [[0, 1, 2], [1, 2, 3]])
    with pytest.raises(meshes.MeshError, match="1 inverted .* element 1"):
        meshes.load(path)


def test_degenerate_element_is_reported(tmp_path):
    path = _write(tmp_path, [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0]], [[0, 1, 3], [0, 1, 2]])
    with pytest.raises(meshes.MeshError, match="degenerate"):
        meshes.load(path)


def test_nonconvex_mesh_is_reported(tmp_path):
    # an L-shape: three unit squares
    pts = [[0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0], [2, 1, 0], [0, 2, 0], [1, 2, 0]]
    tri = [[0, 1, 4], [0, 4, 3], [1, 2, 5], [1, 5, 4], [3, 4, 7], [3, 7, 6]]
    with pytest.raises(meshes.MeshError, match="not convex"):
        meshes.load(_write(tmp_path, pts, tri))


def test_corrupt_file_is_reported(tmp_path):
    path = tmp_path / "broken.vtu"
    path.write_text("<VTKFile><UnstructuredGrid><Piece NumberOfPoints='3'")
    with pytest.raises(meshes.MeshError, match="could not read mesh file"):
        meshes.load(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(meshes.MeshError, match="does not exist"):
        meshes.load(tmp_path / "nope.msh")


def test_obtuse_mesh_counts_bad_edges():
    # two triangles sharing an edge whose opposite angles sum to more than π
    p = np.array([[0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.1, -0.1]])
    mesh = MeshTri1(p, np.array([[0, 1, 2], [1, 0, 3]]).T, sort_t=False)
    report = meshes.check(mesh)
    edges, trans = meshes.transmissibilities(mesh)
    # cotangent formula: T_01 = (cot θ_2 + cot θ_3)/2 with θ = 2·atan(0.5/0.1)
    theta = 2 * np.arctan(0.5 / 0.1)
    k = np.flatnonzero((edges[0] == 0) & (edges[1] == 1))[0]
    assert trans[k] == pytest.approx(1 / np.tan(theta), rel=1e-12)
    assert report.n_bad_edges == 1
    assert not report.admissible
