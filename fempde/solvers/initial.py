"""The start of a run: ρ0 as the nodal values of a probability density, and the system it starts on.

:func:`initial_density` turns what a user gives as ρ0 (a callable, nodal
values, a number, ``"uniform"``) into nodal values of mass 1, refusing a
negative, empty or non-finite one; :func:`discretised` makes a problem's
system on a space and checks that ρ0's free energy is finite there. Both run
before the loop, and the spatial estimate (:mod:`fempde.solvers.accuracy`)
calls them again on its second mesh.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..fem.space import NodalFunction, Space
from .system import GradientFlowSystem, Problem

__all__ = ["discretised", "initial_density"]

Array = NDArray[np.float64]


def initial_density(space: Space, rho0: NodalFunction | ArrayLike | str, *, mass_tol: float = 2e-2,
                    normalize: bool = False) -> Array:
    """Nodal values of a probability density ``ρ0``: a callable of ``x``, an
    array of nodal values, a number, or ``"uniform"``.

    A density whose discrete mass is within ``mass_tol`` of 1 (interpolation
    error) is rescaled to mass 1 exactly; anything else raises, unless
    ``normalize`` asks for any positive mass to be rescaled.
    """
    if isinstance(rho0, str):
        if rho0 != "uniform":
            raise ValueError(f"rho0 must be a callable, an array, a number or 'uniform', got {rho0!r}")
        rho0 = 1.0 / space.volume
    rho = space.interpolate(rho0, "rho0")
    if np.any(rho < 0):
        k = int(np.argmin(rho))
        raise ValueError(
            f"rho0 is negative at {int((rho < 0).sum())} nodes (min {rho[k]:.3g} at x = {space.x[:, k].tolist()}); "
            "a density must be >= 0"
        )
    mass = space.integrate(rho)
    if mass == 0:
        raise ValueError("rho0 has zero mass (it vanishes at every node); a probability density needs mass 1")
    if not (normalize or abs(mass - 1.0) <= mass_tol):
        raise ValueError(
            f"rho0 has mass {mass:.6g} but must be a probability density (mass 1): "
            f"divide it by {mass:.6g} (for a uniform start use rho0='uniform')"
        )
    return rho / mass


def discretised(problem: Problem, space: Space, rho0: NodalFunction | ArrayLike | str,
                flux: str) -> tuple[GradientFlowSystem, Array]:
    """``problem``'s system on ``space`` (``flux``: the τ = 0 mobility) and ρ0's nodal
    values; a free energy of ρ0 that overflows is refused here, before any step."""
    system = problem.discretise(space, flux=flux)
    rho = initial_density(space, rho0)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, not warned about
        energy = system.free_energy(rho)
    if not np.isfinite(energy):
        raise ValueError(f"the free energy of rho0 is {energy}: the problem's data overflow in double precision "
                         f"(a target, potential or initial density too large); rescale them")
    return system, rho
