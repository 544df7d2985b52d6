"""Reading and writing meshes in any format meshio knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skfem import Mesh, MeshLine1, MeshTet1, MeshTri1

from .checks import MeshError, check
from .generators import _named

__all__ = ["load", "save"]

_CELL_TYPES = {"line": (1, MeshLine1), "triangle": (2, MeshTri1), "tetra": (3, MeshTet1)}


def load(path: str | Path) -> Mesh:
    """Read a simplicial mesh (any meshio format), keep its highest-dimensional
    cells, name its boundary ``"wall"`` and validate it with :func:`meshes.check`.

    Raises
    ------
    MeshError
        If the file cannot be read, holds no simplices, or fails the checks.
    """
    import meshio

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file {path} does not exist")
    try:
        data = meshio.read(path)
    except (Exception, SystemExit) as err:  # meshio raises many types (even SystemExit) on corrupt files
        raise MeshError(f"could not read mesh file {path}: {type(err).__name__}: {err}") from err
    blocks = [b for b in data.cells if b.type in _CELL_TYPES]
    if not blocks:
        found = sorted({b.type for b in data.cells})
        raise MeshError(f"{path} holds no line, triangle or tetra cells (found {found})")
    dim, mesh_type = max(_CELL_TYPES[b.type] for b in blocks)
    cells = np.vstack([b.data for b in blocks if _CELL_TYPES[b.type][0] == dim])
    points = np.asarray(data.points, dtype=float)
    if points.shape[1] > dim and np.ptp(points[:, dim:], axis=0).max(initial=0.0) > 0:
        raise MeshError(
            f"{path}: a {dim}-D mesh must lie in the first {dim} coordinates; "
            f"its extra coordinates vary"
        )
    used = np.unique(cells)
    renumber = np.full(points.shape[0], -1)
    renumber[used] = np.arange(used.size)
    mesh = _named(mesh_type(points[used, :dim].T.copy(), renumber[cells].T.copy(), sort_t=False))
    check(mesh)
    return mesh


def save(mesh: Mesh, path: str | Path) -> None:
    """Write ``mesh`` in the format given by the file extension (meshio)."""
    import meshio

    cell_type = {1: "line", 2: "triangle", 3: "tetra"}[mesh.dim()]
    points = np.zeros((mesh.p.shape[1], 3))  # most formats want 3-D points
    points[:, : mesh.dim()] = np.asarray(mesh.p).T
    path = Path(path)
    file_format = "gmsh" if path.suffix == ".msh" else None  # not ANSYS, meshio's first guess
    meshio.write(path, meshio.Mesh(points, [(cell_type, np.asarray(mesh.t).T)]), file_format=file_format)
