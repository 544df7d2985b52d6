"""How far a run is from the PDE's solution in space: a second solve on the refined mesh.

The time error is estimated step by step inside the stepper
(:mod:`fempde.solvers.milne`, :mod:`fempde.solvers.propagation`). The spatial error needs a second
discretisation: :func:`space_error` solves the same problem, from the same
ρ0, with the same step options, on the uniformly refined mesh (every edge
halved, so its nodes include the run's own), and compares at the output times
and at the run's last state (a run stopped at a steady state is estimated there)

* the risk: ``|R_h − R_{h/2}|``, which for a scheme of order ``p`` is
  ``(1 − 2^{−p})`` times the error of ``R_h`` — the estimate of ``R_h``'s
  error, a little low for ``p = 1`` (factor 2) and close for ``p = 2`` (4/3);
* the density: ``Σ m_i |ρ_h − ρ_{h/2}|`` over the run's nodes (the refined
  solution read at the nodes the two meshes share).

It sits above the run loop (:mod:`fempde.solvers.loop`), which it calls for
the refined run; :func:`fempde.solve` calls it between the run and its
observers' last files. The refined run costs about ``2^dim`` (1-D: 2, 2-D: 4, 3-D: 8) times the
nodes of the run, and more steps where the error control asks for them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

import meshes

from ..fem.space import NodalFunction, Space
from .initial import discretised
from .loop import run
from .options import StepOptions
from .result import Result, SpaceError
from .system import Problem

__all__ = ["SpaceError", "check_estimable", "space_error"]

Array = NDArray[np.float64]


def _at_midpoints(space: Space, fine: Space, values: Array) -> Array:
    """A P1 function on ``space`` at the nodes of its uniform refinement: the old
    nodes keep their values, each new one (an edge midpoint) takes its edge's mean."""
    from scipy.spatial import cKDTree

    i, j = space.edges
    midpoints = 0.5 * (space.x[:, i] + space.x[:, j])
    distance, edge = cKDTree(midpoints.T).query(fine.x[:, space.n:].T)
    if distance.size and distance.max() > 1e-9 * max(1.0, float(np.abs(space.x).max())):
        raise RuntimeError("the refined mesh has nodes that are not edge midpoints; cannot carry ρ0 over")
    return np.concatenate([values, 0.5 * (values[i[edge]] + values[j[edge]])])


def check_estimable(space: Space) -> None:
    """Raise a ValueError, before any run, where :func:`space_error` cannot be made: on a
    space with the Voronoi-dual transmissibilities (the refined mesh is not Delaunay, so
    the second solve would need the P1 ones, which are negative on such meshes, and
    would not be the same scheme)."""
    if space.transmissibility != "p1":
        raise ValueError(
            f"estimate_space_error: this mesh uses the Voronoi-dual transmissibilities (its P1 ones are negative "
            f"on {space.report.p1_bad_edges} edges), and its uniform refinement is not a Delaunay mesh, so the "
            "same scheme cannot be solved on it; estimate the spatial error by solving again on a mesh from the "
            "same generator at h/2 (say meshes.ball(h=h/2)) and comparing the risks")


def space_error(problem: Problem, space: Space, rho0: NodalFunction | ArrayLike | str, result: Result, *,
                options: StepOptions, flux: str) -> SpaceError:
    """Solve ``problem`` again on the refined mesh and compare with ``result`` (module docstring)."""
    check_estimable(space)
    fine_mesh = meshes.orient(space.mesh.refined())  # scikit-fem's refinement may flip simplices
    n = space.n
    if not np.allclose(np.asarray(fine_mesh.p)[:, :n], space.x):
        raise RuntimeError("the refined mesh does not keep the run's nodes first; cannot compare the solutions")
    fine = Space(fine_mesh, force=True, transmissibility="p1")
    if isinstance(rho0, np.ndarray) or (isinstance(rho0, (list, tuple))):
        values = np.asarray(rho0, dtype=np.float64)
        if values.shape == (n,):  # nodal values: the P1 function itself, read at the refined nodes
            rho0 = _at_midpoints(space, fine, values)
    times = np.array(sorted(set(result.snapshots) | {result.t}), dtype=np.float64)
    times = times[(times > 0) & (times <= result.t)]  # the output times reached, and the last state
    system, rho = discretised(problem, fine, rho0, flux)
    refined = run(system, rho, float(times[-1]), times=tuple(times), options=options)
    coarse_t, fine_t = result.history["t"], refined.history["t"]
    risk = np.array([result.history["risk"][np.flatnonzero(coarse_t == t)[0]] for t in times])
    risk_fine = np.array([refined.history["risk"][np.flatnonzero(fine_t == t)[0]] for t in times])
    coarse_rho = {**result.snapshots, result.t: result.rho}
    fine_rho = {**refined.snapshots, refined.t: refined.rho}
    rho_l1 = np.array([float(space.m @ np.abs(coarse_rho[t] - fine_rho[t][:n])) for t in times])
    return SpaceError(times=times, risk=risk, risk_refined=risk_fine, rho_l1=rho_l1, nodes_refined=fine.n)
