"""What every mesh module builds on: the error a mesh that cannot be used raises,
and the signed volumes of simplices (orientation and measure). Below
:mod:`meshes.checks`, :mod:`meshes.generators` and :mod:`meshes.voronoi`, which all use them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["MeshError", "signed_volumes"]


class MeshError(ValueError):
    """A mesh that fempde cannot use; the message says what is wrong and how to fix it.

    ``parameter`` names the generator's argument whose value was refused (``"h"``
    for a mesh of too many nodes), where one is to blame; ``None`` otherwise.
    """

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


def signed_volumes(p: NDArray[np.float64], t: NDArray[np.integer]) -> NDArray[np.float64]:
    """Signed volumes of the simplices ``t`` (shape ``(dim + 1, nelems)``) over
    the points ``p`` (shape ``(dim, nverts)``); positive means positively oriented.
    Written out per dimension (the determinant, then the cross product): numpy's
    batched ``det`` costs ten times as much on small meshes, where this runs in
    every setup."""
    p = np.asarray(p, dtype=np.float64)
    dim = p.shape[0]
    origin = p[:, t[0]]
    e = [p[:, t[k]] - origin for k in range(1, dim + 1)]  # each (dim, nelems)
    if dim == 1:
        return np.asarray(e[0][0])
    if dim == 2:
        return 0.5 * (e[0][0] * e[1][1] - e[0][1] * e[1][0])
    if dim == 3:
        cross = np.cross(e[1].T, e[2].T).T
        return np.sum(e[0] * cross, axis=0) / 6.0
    edges = np.stack(e, axis=-1)  # (dim, nelems, dim)
    return np.linalg.det(np.moveaxis(edges, 1, 0)) / float(np.prod(np.arange(1, dim + 1)))
