"""P1 functions read at the points of another mesh (:func:`fempde.fem.transfer.p1_at`)."""

import numpy as np
import pytest
from skfem import Basis, ElementTetP1, ElementTriP1

import meshes
from fempde.fem.transfer import p1_at


@pytest.mark.parametrize(
    ("mesh", "element"),
    [(meshes.disk(h=0.1), ElementTriP1()), (meshes.polygon([[0, 0], [2, 0], [1, 1.5]], h=0.1), ElementTriP1()),
     (meshes.ball(h=0.3), ElementTetP1()), (meshes.box(h=0.25), ElementTetP1())],
    ids=["disk", "polygon", "ball", "box"],
)
def test_p1_at_is_scikit_fems_interpolation(mesh, element, rng):
    values = np.sin(3 * mesh.p[0]) + mesh.p[1] ** 2
    points = mesh.p[:, rng.integers(0, mesh.p.shape[1], 300)] * 0.9 + 0.05  # inside: the domains are convex
    expected = Basis(mesh, element).interpolator(values)(points)
    np.testing.assert_allclose(p1_at(mesh, values, points), expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(p1_at(mesh, values, mesh.p), values, rtol=0, atol=1e-14)  # the nodes themselves


def test_p1_at_on_an_interval_and_just_outside_a_curved_wall():
    line = meshes.interval(0, 1, h=0.1)
    np.testing.assert_allclose(p1_at(line, line.p[0] ** 2, np.array([[0.05, 0.5, 1.0]])), [0.005, 0.25, 1.0],
                               rtol=1e-14)
    coarse, fine = meshes.disk(h=0.1), meshes.disk(h=0.045)  # rings that do not nest
    # the coarse wall nodes lie up to a sagitta outside the finer inscribed polygon: clipped, not extrapolated
    read = p1_at(fine, np.ones(fine.p.shape[1]), coarse.p)
    np.testing.assert_allclose(read, 1.0, rtol=1e-15)
    linear = p1_at(fine, fine.p[0], coarse.p)
    assert 0 < np.abs(linear - coarse.p[0]).max() <= 0.045**2  # within a sagitta (measured 2.7e-4)


def test_a_point_far_outside_is_refused():
    with pytest.raises(ValueError, match="lies outside the mesh"):
        p1_at(meshes.disk(h=0.2), np.zeros(meshes.disk(h=0.2).p.shape[1]), np.array([[2.0], [0.0]]))
    with pytest.raises(ValueError, match="outside the interval"):
        p1_at(meshes.interval(0, 1, 0.1), np.zeros(11), np.array([[1.5]]))
