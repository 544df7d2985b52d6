"""The units' numpy forms against independent evaluations: a reflected bump against
the PDE's sparse kernel matrix with walls, and its θ-gradient against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import meshes
from fempde.checks import ParameterError
from fempde.fem.convolution import kernel_matrix
from fempde.fem.kernels import BoxWalls
from fempde.model import Bump, jmm_rbf


@pytest.mark.parametrize("mesh", [meshes.interval(0.0, 1.0, 0.05), meshes.rectangle(0.0, 1.0, 0.0, 0.5, h=0.1)])
def test_reflected_bump_is_the_kernel_matrix_with_walls(mesh, rng):
    dim = mesh.p.shape[0]
    unit = Bump("triweight", dim, 0.2, "reflected", BoxWalls.from_mesh(mesh))
    x = rng.uniform(size=(40, dim)) * (mesh.p.max(axis=1) - mesh.p.min(axis=1)) + mesh.p.min(axis=1)
    theta = rng.uniform(size=(7, dim)) * (mesh.p.max(axis=1) - mesh.p.min(axis=1)) + mesh.p.min(axis=1)
    theta[0] = mesh.p.min(axis=1)  # a centre on the corner: four images in 2-D
    expected = kernel_matrix(unit.bump, x, theta, walls=unit.walls).toarray()
    np.testing.assert_allclose(unit(x, theta), expected, rtol=1e-13, atol=1e-13)
    step = 1e-6
    numeric = np.stack([(unit(x, theta + step * e) - unit(x, theta - step * e)) / (2 * step)
                        for e in np.eye(dim)], axis=2)
    np.testing.assert_allclose(unit.gradient(x, theta), numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


def test_reflected_bumps_need_a_box_and_a_narrow_kernel():
    with pytest.raises(ParameterError) as error:
        jmm_rbf(meshes.disk(1.0, h=0.3), 1.0, 0.1, boundary="reflected")
    assert error.value.name.startswith("boundary")
    with pytest.raises(ParameterError) as error:
        jmm_rbf(meshes.interval(0.0, 1.0, 0.05), 1.0, 0.6, boundary="reflected")
    assert error.value.name.startswith("delta")
    with pytest.raises(ValueError, match="walls"):
        Bump("triweight", 1, 0.1, "reflected")
