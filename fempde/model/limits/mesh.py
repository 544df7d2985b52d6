"""Limits on a mesh, by :func:`fempde.solve`.

* ``"fem"``: the model's PDE (:meth:`~fempde.model.MeanFieldModel.problem`,
  distributional dynamics on the data rule of a level) on its θ-domain
  (D ≤ 3, any β);
* ``"porous-medium"``: the RBF network's finite-δ PDE, the integrals over Ω
  by the rule of degree "the data level" (the data law's own rule), with the
  δ → 0 flow solved beside it;
* ``"radial"`` with noise: :class:`fempde.RadialDD` on an interval mesh of
  ``[r_min, r_max]`` of a chosen size.

The time part of the error is the run's own estimate (``risk_time_error`` at
the output times, :mod:`fempde.solvers.stepping`); the space part is the
refined-mesh estimate of ``solve(..., estimate_space_error=True)`` on the
model's domain, and the change from ``h`` to ``h/2`` for the radial mesh.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import NDArray
from skfem import Mesh

import meshes

from ...fem.space import Space
from ...problems.finite_delta import FiniteDeltaPorousMedium
from ...problems.porous_medium import PorousMedium
from ...problems.radial import RadialDD
from ...solvers.record import Result
from ...solvers.run import initial_density, solve
from ..declaration import MeanFieldModel
from .flows import radial_start
from .refine import Trial
from .result import MeshLaw

__all__ = ["RADIAL_R_MIN", "at_times", "mesh_trial", "radial_mesh_trial", "risk_at"]

Array = NDArray[np.float64]

RADIAL_R_MIN = 1e-3
"""Where the noisy radial mesh starts (the density vanishes like ``r^(d−1)`` at 0)."""


def risk_at(result: Result, times: Array, column: str = "risk") -> Array:
    """The history's ``column`` at the output times (0 included: the start)."""
    t = result.history["t"]
    rows = []
    for time in times:
        hit = np.flatnonzero(t == time)
        if hit.size == 0:
            raise RuntimeError(f"the run did not land on the output time {time:g} (it stopped at {result.t:g}: "
                               f"{result.stop_reason})")
        rows.append(result.history[column][hit[0]])
    return np.asarray(rows, dtype=np.float64)


def at_times(result: Result, times: Array) -> Array:
    """ρ at the output times ``(T, n)``."""
    return np.array([result.snapshots[float(t)] for t in times])


def _l1(space: Any) -> Any:
    def distance(rho: Array, other: Array) -> Array:
        return np.asarray(np.abs(rho - other) @ space.m)

    return distance


START_MASS_TOL = 2e-2
"""How much of the initial law's mass the θ-mesh may miss (cut off by the domain, or lost to
interpolation) before the start is refused rather than rescaled to mass 1."""


def _start(mesh: Mesh, rho0: Any) -> tuple[Space, Array]:
    """The mesh's space and the start's nodal values, scaled to mass 1 with the lumped masses
    (the interpolation's mass error is a space error, estimated with it)."""
    space = Space(mesh)
    if not isinstance(rho0, str):
        mass = space.integrate(space.interpolate(rho0, "rho0"))
        if not mass >= 1.0 - START_MASS_TOL:
            raise ValueError(f"the initial law has mass {mass:.3g} on the θ-domain's mesh, not 1 (to "
                             f"{START_MASS_TOL:g}): the domain cuts off {1.0 - mass:.3g} of it; make the domain "
                             f"(the model's domain, or mesh=) cover the initial law")
    return space, initial_density(space, rho0, normalize=True)


def _solve(problem: Any, mesh: Any, rho0: Any, times: Array, rtol: float | None, space_error: bool) -> Result:
    space, rho0 = _start(mesh, rho0)
    landing = [float(t) for t in times if t > 0]
    stepping = {} if rtol is None else {"rtol": rtol}
    result = solve(problem, space, rho0, float(times[-1]), times=landing, estimate_space_error=space_error,
                   **stepping)  # type: ignore[arg-type]
    if result.stop_reason != "t_end":
        raise RuntimeError(f"the limit's PDE stopped at t = {result.t:g} ({result.stop_reason})")
    return result


def mesh_trial(model: MeanFieldModel, domain: Mesh, times: Array, levels: dict[str, Any], *,
               space_error: bool = False) -> Trial:
    """The model's PDE on ``domain`` at ``levels`` (``"data"``, ``"rtol"``); for the RBF network the
    data level is the degree of the rule of the integrals over Ω."""
    problem = model.problem(levels["data"])
    if isinstance(problem, FiniteDeltaPorousMedium):
        problem = dataclasses.replace(problem, intorder=int(levels["data"]))
    result = _solve(problem, domain, model.initial_density(), times, levels["rtol"], space_error)
    rho = at_times(result, times)
    law = MeshLaw(result.space, rho, model.unit.coordinates)
    return Trial(levels, risk_at(result, times), law, result, rho, _l1(result.space), judge_law=False)


def delta_to_zero(model: MeanFieldModel, domain: Mesh, times: Array, rtol: float | None) -> Array:
    """The risk curve of the δ → 0 porous-medium flow on the same mesh, from the same start."""
    problem = model.problem()
    limit = PorousMedium(problem.target, problem.tau, problem.schedule)
    return risk_at(_solve(limit, domain, model.initial_density(), times, rtol, False), times)


def radial_mesh_trial(model: MeanFieldModel, times: Array, levels: dict[str, Any]) -> Trial:
    """:class:`fempde.RadialDD` with noise on ``[RADIAL_R_MIN, r_max]`` at mesh size ``levels["h"]``."""
    problem = RadialDD(model.reduced(), model.lam, model.beta, model.schedule)
    mesh = meshes.interval(RADIAL_R_MIN, float(levels["r_max"]), float(levels["h"]))
    start = radial_start(model)
    result = _solve(problem, mesh, lambda x: start.pdf(x[0]), times, levels["rtol"], False)
    rho = at_times(result, times)
    return Trial(levels, risk_at(result, times), MeshLaw(result.space, rho, ("r",)), result, None, None)
