"""Population risk of the RBF network by quadrature on a mesh (never a mini-batch):
``R_N(w) = (1/|Ω|) ∫_Ω (f − f̂)² dx`` with ``f̂ = (1/N) Σ K^δ(· − w_i)``, the bumps
restricted to Ω or reflected at its walls (:mod:`fempde.fem.kernels`), as in the SGD."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

from fempde.fem.convolution import kernel_matrix
from fempde.fem.kernels import BoxWalls, Kernel, check_boundary
from fempde.fem.space import quadrature

from .rbf import Target

__all__ = ["PopulationRisk"]


class PopulationRisk:
    """``R_N`` for centre sets on one mesh; quadrature points and ``f`` there are
    computed once (``intorder``: exact for polynomials of that degree per element).
    ``boundary``: ``"restricted"`` or ``"reflected"``, as given to the SGD.
    The label-noise variance is not included: the Bayes risk adds ``label_noise²``."""

    def __init__(self, mesh: Mesh, target: Target, kernel: Kernel, intorder: int = 6,
                 boundary: str = "restricted") -> None:
        self.points, self.weights = quadrature(mesh, intorder)
        self.volume = float(self.weights.sum())
        self.f = np.asarray(target(self.points.T), dtype=np.float64).reshape(-1)
        self.kernel = kernel
        self.walls = BoxWalls.from_mesh(mesh) if check_boundary(boundary) == "reflected" else None

    def prediction(self, centers: NDArray[np.float64]) -> NDArray[np.float64]:
        """``f̂`` at the quadrature points."""
        matrix = kernel_matrix(self.kernel, self.points, np.asarray(centers, dtype=np.float64), self.walls)
        return np.asarray(matrix.sum(axis=1)).ravel() / len(centers)

    def __call__(self, centers: NDArray[np.float64]) -> float:
        return float(self.weights @ (self.f - self.prediction(centers)) ** 2) / self.volume
