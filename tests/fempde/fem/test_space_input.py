"""What the P1 space refuses: meshes with negative transmissibilities (unless forced), a non-boolean force."""

import numpy as np
import pytest
from skfem import MeshTri1

import fempde
import meshes


def test_mesh_with_negative_transmissibilities_is_refused_unless_forced():
    p = np.array([[0.0, 1.0, 0.5, 0.5], [0.0, 0.0, 0.1, -0.1]])
    mesh = MeshTri1(p, np.array([[0, 1, 2], [1, 0, 3]]).T, sort_t=False)
    with pytest.raises(meshes.MeshError) as refused:
        fempde.Space(mesh)
    assert "1 of 5 mesh edges" in str(refused.value) and "force=True" in str(refused.value)
    with pytest.warns(UserWarning, match="force=True"):
        assert fempde.Space(mesh, force=True).n == 4


def test_space_force_must_be_a_bool():
    with pytest.raises(TypeError) as refused:
        fempde.Space(meshes.interval(h=0.5), force="no")
    assert "force" in str(refused.value) and "'no'" in str(refused.value)
