"""A mesh file that cannot be read is refused with its name."""

import pytest

import meshes


def test_unknown_mesh_format(tmp_path):
    path = tmp_path / "mesh.unknownformat"
    path.write_text("1 2 3\n")
    with pytest.raises(meshes.MeshError) as refused:
        meshes.load(path)
    assert str(path) in str(refused.value)
