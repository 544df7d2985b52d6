"""A Jacobian with a dense non-local part, kept matrix-free.

Problems whose potential couples every node to every other (distributional
dynamics through the data, the radial problem through its tabulated ``u_d``)
have a Jacobian ``J = local + non-local``: the sparse edge-flux part at frozen
``φ``, and ``Cᵀ diag(coupling) C ∂φ/∂ρ``, applied as an operator. The linear
solvers (:mod:`fempde.solvers.linalg`) run GMRES on it, preconditioned by the
local part.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import NDArray

__all__ = ["MatrixFreeJacobian"]


class MatrixFreeJacobian(spla.LinearOperator):  # type: ignore[misc]
    """``J = local + nonlocal``: a sparse local part (fluxes at frozen ``φ``) and a
    matrix-free non-local part; solved by GMRES preconditioned with the local part."""

    def __init__(self, local: sp.csr_matrix, nonlocal_part: spla.LinearOperator) -> None:
        super().__init__(dtype=np.float64, shape=local.shape)
        self.local = local
        self.nonlocal_part = nonlocal_part

    def _matvec(self, v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(self.local @ v + self.nonlocal_part.matvec(v)).ravel()
