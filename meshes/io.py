"""Reading and writing meshes in any format meshio knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from skfem import Mesh, MeshLine1, MeshTet1, MeshTri1

from .checks import MeshError, check
from .generators import _named

__all__ = ["load", "save"]

_CELL_TYPES = {"line": (1, MeshLine1), "triangle": (2, MeshTri1), "tetra": (3, MeshTet1)}
_SIMPLEX = {1: "line", 2: "triangle", 3: "tetra"}
_PREFIXES = (("vertex", 0), ("line", 1), ("triangle", 2), ("quad", 2), ("polygon", 2), ("tetra", 3),
             ("hexahedron", 3), ("wedge", 3), ("pyramid", 3))


def _topological_dimension(cell_type: str) -> int:
    """The dimension of a meshio cell type (``"quad9"``: 2); an unknown one counts as 3,
    so that it is refused rather than silently dropped."""
    import meshio

    known: dict[str, int] = getattr(getattr(meshio, "_mesh", None), "topological_dimension", {})
    if cell_type in known:
        return known[cell_type]
    return next((dim for prefix, dim in _PREFIXES if cell_type.lower().startswith(prefix)), 3)


def load(path: str | Path) -> Mesh:
    """Read a simplicial mesh (any meshio format), keep its highest-dimensional
    cells, name its boundary ``"wall"`` and validate it with :func:`meshes.check`.

    Cells of lower dimension (a gmsh file's boundary lines, say) are dropped;
    cells of the top dimension must all be simplices.

    Raises
    ------
    MeshError
        If the file cannot be read, holds no simplices, mixes simplices with
        other cells of their dimension, refers to nodes it does not have, or
        fails the checks.
    """
    import meshio

    path = Path(path)
    if path.is_dir():
        raise MeshError(f"mesh file {path} is a directory, not a mesh file")
    if not path.is_file():
        raise MeshError(f"mesh file {path} does not exist")
    try:
        data = meshio.read(path)
    except (Exception, SystemExit) as err:  # meshio raises many types (even SystemExit) on corrupt files
        raise MeshError(f"could not read mesh file {path}: {type(err).__name__}: {err}") from err
    counts: dict[str, int] = {}
    for block in data.cells:
        counts[block.type] = counts.get(block.type, 0) + len(block.data)
    dims = {name: _topological_dimension(name) for name in counts}
    top = max(dims.values(), default=-1)
    if top < 1:
        raise MeshError(f"{path} holds no line, triangle or tetra cells (found {sorted(counts)})")
    found = {name: n for name, n in counts.items() if dims[name] == top}
    if set(found) != {_SIMPLEX[top]}:
        listed = ", ".join(f"{n} {name}" for name, n in sorted(found.items()))
        raise MeshError(
            f"{path} holds {top}-D cells of other types than {_SIMPLEX[top]} ({listed}); fempde needs a mesh of "
            f"{_SIMPLEX[top]} cells only: split the other cells into simplices (with gmsh, say) "
            "before loading"
        )
    dim, mesh_type = _CELL_TYPES[_SIMPLEX[top]]
    cells = np.vstack([b.data for b in data.cells if b.type == _SIMPLEX[top]]).astype(np.int64)
    points = np.asarray(data.points, dtype=float)
    if points.ndim != 2 or points.shape[1] < dim:
        raise MeshError(f"{path}: a {dim}-D mesh needs points with {dim} coordinates, got shape {points.shape}")
    bad = (cells < 0) | (cells >= points.shape[0])
    if bad.any():
        k = int(np.flatnonzero(bad.any(axis=1))[0])
        raise MeshError(
            f"{path}: {_SIMPLEX[top]} cell {k} refers to node {int(cells[k][bad[k]][0])}, but the file has "
            f"{points.shape[0]} nodes (numbered from 0)"
        )
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
