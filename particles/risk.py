"""Population risk of the RBF network by quadrature on a mesh (never a mini-batch):
``R_N(w) = (1/|Ω|) ∫_Ω (f − f̂)² dx`` with ``f̂ = (1/N) Σ K^δ(· − w_i)``, by
:func:`fempde.model.risk.rule_moments` (the RBF network's method of
:func:`fempde.model.risk.population_risk`, which also states its error).

With ``boundary="reflected"`` the bumps are reflected at the walls of a box
(:mod:`fempde.fem.kernels`), as in the SGD, and the risk takes the same
quadrature rule through :func:`~fempde.fem.convolution.kernel_matrix` with the walls."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

from fempde.fem.convolution import kernel_matrix
from fempde.fem.kernels import BoxWalls, Kernel, check_boundary
from fempde.fem.space import quadrature
from fempde.model import Bump
from fempde.model.risk import rule_moments
from fempde.problems.distributional import DataLaw

__all__ = ["PopulationRisk"]

Target = Callable[[NDArray[np.float64]], ArrayLike]
"""``f(x)`` with ``x`` of shape ``(dim, n)``: the function the network learns."""


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
        self._unit = Bump(kernel.name, kernel.dim, kernel.delta)
        normalised = self.weights / self.volume
        self._rule = DataLaw(self.points, normalised, self.f, float(normalised @ self.f**2))

    def prediction(self, centers: NDArray[np.float64]) -> NDArray[np.float64]:
        """``f̂`` at the quadrature points."""
        matrix = kernel_matrix(self.kernel, self.points, np.asarray(centers, dtype=np.float64), self.walls)
        return np.asarray(matrix.sum(axis=1)).ravel() / len(centers)

    def __call__(self, centers: NDArray[np.float64]) -> float:
        centers = np.asarray(centers, dtype=np.float64)
        if self.walls is not None:
            return float(self.weights @ (self.f - self.prediction(centers)) ** 2) / self.volume
        second, linear, _, quadratic = rule_moments(self._unit, self._rule, centers, np.full(len(centers),
                                                                                               1.0 / len(centers)))
        return second - 2 * float(linear.sum()) / len(centers) + quadratic
