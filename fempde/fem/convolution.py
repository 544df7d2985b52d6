"""Sparse evaluation of a compactly supported kernel between two point sets."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from .kernels import Kernel

__all__ = ["kernel_matrix"]


def kernel_matrix(kernel: Kernel, points: NDArray[np.float64], centers: NDArray[np.float64]) -> sp.csr_matrix:
    """``A_qi = K^δ(points_q − centers_i)`` as a sparse matrix ``(n_points, n_centers)``;
    both point sets have shape ``(n, dim)``. Only pairs closer than δ are stored."""
    pairs = cKDTree(points).sparse_distance_matrix(cKDTree(centers), kernel.delta, output_type="ndarray")
    q, i = pairs["i"], pairs["j"]
    values = kernel((points[q] - centers[i]).T)
    return sp.csr_matrix((values, (q, i)), shape=(points.shape[0], centers.shape[0]))
