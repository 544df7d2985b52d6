"""What the solvers need from a problem: its discretised system, and a problem that makes one.

The solvers know the problems only through these protocols, so
:mod:`fempde.solvers` imports nothing from :mod:`fempde.problems`: a new
problem is a class with ``discretise`` whose system has these methods (every
:class:`~fempde.problems.base.EdgeFluxSystem` has them), and nothing in the
solvers changes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ..fem.flux import EdgeForm
from ..fem.jacobian import MatrixFreeJacobian
from ..fem.space import Space
from ..meanfield import Schedule

__all__ = ["GradientFlowSystem", "Problem"]

Array = NDArray[np.float64]


class GradientFlowSystem(Protocol):
    """What the stepper needs from a discretised problem."""

    space: Space
    has_source: bool
    @property
    def edge_form(self) -> EdgeForm | None:
        """The explicit right-hand side as data for :mod:`fempde.solvers.rkc` (None: only implicit steps)."""
        ...

    @property
    def schedule(self) -> Schedule: ...

    def linearise(
        self, rho: Array, rho_old: Array, t_old: float, t_new: float, *, rescaled: float | None = None
    ) -> tuple[Array, sp.csr_matrix | MatrixFreeJacobian]:
        """The implicit-Euler residual from ``rho_old`` at ``rho`` and its Jacobian."""
        ...

    def free_energy(self, rho: Array) -> float: ...

    def risk(self, rho: Array) -> float: ...

    def source(self, t: float) -> Array | None: ...

    def point_fields(self, rho: Array) -> dict[str, Array]: ...

    def cell_fields(self, rho: Array, t: float) -> dict[str, Array]: ...


class Problem(Protocol):
    """A problem's physics: it makes the discretised system on a space."""

    def discretise(self, space: Space, *, flux: str = ...) -> GradientFlowSystem: ...
