"""The limit's law in the variables it lives in, and the particles mapped there.

A :class:`fempde.model.Limit` gives its law as densities on a mesh
(:class:`~fempde.model.limits.MeshLaw`), weighted points
(:class:`~fempde.model.limits.PointLaw`) or, for the lazy scaling, the initial
law's points with the outputs' Gaussian law (:class:`~fempde.model.limits.KernelLaw`).
Its variables are θ's coordinates, or those of a declared symmetry's reduction:
``r = ‖w‖`` (radial) or Fig. 3's ``(a, b, ‖P_V w‖, ‖P_V⊥ w‖)`` (anisotropic).
:class:`LawView` maps the particles ``θ`` ``(N, D)`` into those variables and
gives the law at an output time as weighted points, so that every distance of
the cross-check is taken between two measures on one space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fempde.model import Limit, MeanFieldModel, Ridge
from fempde.model.limits import KernelLaw, MeshLaw, PointLaw

from ..reduced import reduced_variables

__all__ = ["REDUCTIONS", "LawView"]

Array = NDArray[np.float64]

REDUCTIONS = {"radial": "r = ‖w‖", "reduced": "(a, b, r1 = ‖P_V w‖, r2 = ‖P_V⊥ w‖)"}
"""The limit methods whose law lives in reduced variables, and those variables."""


class LawView:
    """``model``'s ``limit`` as weighted points in its own variables (module docstring).

    ``variables``: the names of the law's coordinates; ``reduced``: whether they are a
    symmetry's reduction of θ; ``space``: the mesh's :class:`~fempde.fem.space.Space`
    for a density, else None."""

    def __init__(self, model: MeanFieldModel, limit: Limit) -> None:
        self.model, self.limit = model, limit
        law = limit.law
        self.reduced = limit.method in REDUCTIONS
        if isinstance(law, MeshLaw | PointLaw):
            self.variables = tuple(law.coordinates)
        else:
            self.variables = tuple(model.unit.coordinates)
        self.space = law.space if isinstance(law, MeshLaw) else None
        if self.space is not None:
            x = self.space.x
            centre = 0.5 * (x.min(axis=1) + x.max(axis=1))
            self.radius = float(np.max(np.linalg.norm(x - centre[:, None], axis=0)))
        if limit.method == "reduced":
            self._s0 = int(model.reduced().s0)

    @property
    def dim(self) -> int:
        """The number of the law's variables."""
        return len(self.variables)

    @property
    def kind(self) -> str:
        """``"mesh"``, ``"points"`` or ``"kernel"``."""
        law = self.limit.law
        return "mesh" if isinstance(law, MeshLaw) else "points" if isinstance(law, PointLaw) else "kernel"

    def reduce(self, theta: Array) -> Array:
        """The particles ``theta`` ``(N, D)`` in the law's variables ``(N, k)``; on a mesh, moved
        onto it where round-off (or the radial mesh's ``r_min``) leaves them outside."""
        units = np.asarray(theta, dtype=np.float64)
        if self.limit.method == "radial":
            assert isinstance(self.model.unit, Ridge)
            w, _, _ = self.model.unit.split(units)
            cloud = np.linalg.norm(w, axis=1)[:, None]
        elif self.limit.method == "reduced":
            assert isinstance(self.model.unit, Ridge)
            w, a, b = self.model.unit.split(units)
            cloud = reduced_variables(w, a, b, self._s0)
        else:
            cloud = units
        if self.space is not None and self.space.dim == 1:  # an interval: clip into it
            x = self.space.x[0]
            cloud = np.clip(cloud, x.min(), x.max())
        return np.ascontiguousarray(cloud)

    def weighted(self, k: int) -> tuple[Array, Array]:
        """The law at output time ``k`` as weighted points ``(P, k)``, ``(P,)`` (weights summing to 1;
        a density's nodal masses ``m_i ρ_i``, negative round-off cleared)."""
        law: Any = self.limit.law
        if isinstance(law, MeshLaw):
            mass = np.clip(law.space.m * law.rho[k], 0.0, None)
            return law.space.x.T, mass / mass.sum()
        if isinstance(law, PointLaw):
            return law.points[k], law.weights / law.weights.sum()
        assert isinstance(law, KernelLaw)
        return law.points, law.weights / law.weights.sum()

    def density(self, k: int) -> Array:
        """The nodal density at output time ``k`` (a mesh law only)."""
        law = self.limit.law
        if not isinstance(law, MeshLaw):
            raise ValueError(f"the limit's law is {self.kind} points, not a density on a mesh")
        return np.asarray(law.rho[k])
