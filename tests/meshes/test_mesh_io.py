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


def test_mixed_cell_types_are_refused(tmp_path):
    import meshio

    # a unit square of two triangles with a quad glued on: the quad must not vanish silently
    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0], [2, 1, 0]], float)
    path = tmp_path / "mixed.vtu"
    meshio.write(path, meshio.Mesh(points, [("quad", np.array([[1, 4, 5, 2]])),
                                            ("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]))
    with pytest.raises(meshes.MeshError, match=r"mixed.vtu holds 2-D cells of other types than triangle "
                                               r"\(1 quad, 2 triangle\)"):
        meshes.load(path)


def test_quad_mesh_is_refused(tmp_path):
    path = _write(tmp_path, [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], [[0, 1, 2, 3]], cell_type="quad")
    with pytest.raises(meshes.MeshError, match=r"other types than triangle \(1 quad\)"):
        meshes.load(path)


def test_boundary_lines_of_a_triangle_mesh_are_dropped(tmp_path):
    import meshio

    points = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float)
    path = tmp_path / "m.vtu"
    meshio.write(path, meshio.Mesh(points, [("line", np.array([[0, 1], [1, 2]])),
                                            ("triangle", np.array([[0, 1, 2], [0, 2, 3]]))]))
    assert meshes.load(path).t.shape == (3, 2)


def test_cell_index_out_of_range_is_reported(tmp_path):
    path = _write(tmp_path, [[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2], [0, 2, 7]])
    with pytest.raises(meshes.MeshError, match="triangle cell 1 refers to node 7, but the file has 3 nodes"):
        meshes.load(path)


def test_directory_is_reported_as_a_directory(tmp_path):
    with pytest.raises(meshes.MeshError, match=f"mesh file {tmp_path} is a directory"):
        meshes.load(tmp_path)


@pytest.mark.parametrize(
    ("points", "cells", "where"),
    [
        # 1-D: [0, 1/2] and [1/2, 1] with node 1/2 doubled
        ([[0, 0, 0], [0.5, 0, 0], [0.5, 0, 0], [1, 0, 0]], [[0, 1], [2, 3]], r"interior point\), first with "
                                                                           r"vertices \[1\] at x = \[0.5\]"),
        # 2-D: the unit square cut along its diagonal, corner 0 doubled
        ([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]], [[0, 1, 2], [4, 2, 3]],
         r"interior line\), first with vertices \[0, 2\] at x = \[0.5, 0.5\]"),
    ],
    ids=["1d", "2d"],
)
def test_slit_is_refused(tmp_path, points, cells, where):
    cell_type = "line" if len(cells[0]) == 2 else "triangle"
    with pytest.raises(meshes.MeshError, match="2 facets inside the domain belong to one element only .*" + where):
        meshes.load(_write(tmp_path, points, cells, cell_type))


def test_slit_along_an_interior_line_is_refused():
    """The nodes inside the unit square on the line y = 1/2 doubled, the cells above
    using the copies: the volume is that of the convex hull, so only the
    one-element edges inside give it away."""
    mesh = meshes.rectangle(h=0.25)
    p, t = np.array(mesh.p), np.array(mesh.t)
    on_line = np.flatnonzero((p[1] == 0.5) & (p[0] > 0) & (p[0] < 1))
    above = p[1, t].mean(axis=0) > 0.5
    renumber = np.arange(p.shape[1])
    renumber[on_line] = p.shape[1] + np.arange(on_line.size)
    t[:, above] = renumber[t[:, above]]
    slit = MeshTri1(np.hstack([p, p[:, on_line]]), t, sort_t=False)
    with pytest.raises(meshes.MeshError, match=r"8 facets inside the domain belong to one element only \(a slit"):
        meshes.check(slit)


def test_overlapping_elements_are_named_as_such():
    p = np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    mesh = MeshTri1(p, np.array([[0, 1, 2], [0, 2, 3], [0, 1, 3]]).T, sort_t=False)
    with pytest.raises(meshes.MeshError, match="elements overlap: their volumes add up to 1.5, more than the "
                                               "volume 1 of the domain"):
        meshes.check(mesh)
