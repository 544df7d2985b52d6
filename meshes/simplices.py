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
    the points ``p`` (shape ``(dim, nverts)``); positive means positively oriented."""
    dim = p.shape[0]
    edges = np.stack([p[:, t[k]] - p[:, t[0]] for k in range(1, dim + 1)], axis=-1)
    # edges has shape (dim, nelems, dim): move elements to the front for det.
    det = np.linalg.det(np.moveaxis(edges, 1, 0))
    return det / float(np.prod(np.arange(1, dim + 1)))
