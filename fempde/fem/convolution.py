"""Sparse evaluation of a compactly supported kernel between two point sets,
cut off at the walls or completed by its mirror images there
(:mod:`fempde.fem.kernels`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .kernels import BoxWalls, Kernel

__all__ = ["kernel_matrix"]


def kernel_matrix(kernel: Kernel, points: NDArray[np.float64], centers: NDArray[np.float64],
                  walls: BoxWalls | None = None) -> sp.csr_matrix:
    """``A_qi = K^δ(points_q − centers_i)`` as a sparse matrix ``(n_points, n_centers)``;
    both point sets have shape ``(n, dim)``. Only pairs closer than δ are stored.

    With ``walls``, the reflected kernel ``A_qi = Σ_g K^δ(g points_q − centers_i)``
    over the mirror images of each point (:func:`fempde.fem.kernels.mirror_images`):
    its columns integrate to 1 over the box, wherever the centre is."""
    source: NDArray[np.int64] | None = None
    images = points
    if walls is not None:
        images, source = walls.images(points, kernel.delta)
    pairs = cKDTree(images).sparse_distance_matrix(cKDTree(centers), kernel.delta, output_type="ndarray")
    q, i = pairs["i"], pairs["j"]
    values = kernel((images[q] - centers[i]).T)
    rows = q if source is None else source[q]
    return sp.csr_matrix((values, (rows, i)), shape=(points.shape[0], centers.shape[0]))  # duplicates add up
