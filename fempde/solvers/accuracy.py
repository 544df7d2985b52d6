"""How far a run is from the PDE's solution in space: a second solve on a mesh about twice as fine.

The time error is estimated step by step inside the stepper
(:mod:`fempde.solvers.milne`, :mod:`fempde.solvers.propagation`). The spatial
error needs a second discretisation: :func:`space_error` solves the same
problem, from the same ρ0, with the same step options, on a second mesh
(:func:`second_mesh`, chosen and checked before the run), and compares at the
output times and at the run's last state (a run stopped at a steady state is
estimated there). The second mesh is, in this order of preference:

* **refined**: the run's mesh uniformly refined (every edge halved), where
  that keeps every P1 transmissibility ``T_ij ≥ 0`` — not after an obtuse
  triangle, whose red refinement puts two copies of the obtuse angle opposite
  one new edge (``T < 0``), nor on a Voronoi-dual space (the refined ball is not
  Delaunay). Its nodes include the run's own;
* **remeshed**: the same generator with the same arguments at ``h/2``
  (:func:`meshes.recipe`: every mesh from :mod:`meshes` carries how it was
  made), with the same transmissibilities as the run (P1, or the Voronoi dual);
* **given**: a mesh of the same domain at about ``h/2`` that the caller passes
  (``estimate_space_error=fine_mesh``): a loaded mesh has no recipe.

Where none applies the estimate is refused before the run, with a
``ValueError`` saying how to give a second mesh. The two solutions are compared

* in the risk, ``|R_h − R_fine|``;
* in ρ, ``Σ m_i |ρ_h(x_i) − ρ_fine(x_i)|`` over the run's nodes, the second
  solution read at them as a P1 function (:func:`fempde.fem.transfer.p1_at`:
  exact where the nodes are shared, as after refinement);

each times ``1/(1 − r^{−p})``, which for a scheme of order ``p = 2``
(:data:`ORDER`: the τ = 0 flux where ρ is smooth and positive, and
Scharfetter–Gummel) turns the difference into the estimate of the run's own
error; ``r`` is the ratio of the mesh sizes, ``(n_fine/n)^{1/dim}`` (``r = 2``:
4/3). Measured against runs on meshes 4 to 8 times finer
(tests/fempde/solvers/test_space_estimate.py, which lists the figures) the
estimate is 0.8–1.2 times the true error on the interval, the rectangle, a
polygon (also at a τ = 0 front), the disk (h = 0.1 and 0.03), the ball and a
loaded mesh.

It sits above the run loop (:mod:`fempde.solvers.loop`), which it calls for
the second run; :func:`fempde.solve` calls :func:`second_mesh` before its run
and :func:`space_error` between the run and its observers' last files. The
second run costs about ``2^dim`` (1-D: 2, 2-D: 4, 3-D: 8) times the nodes of
the run, and more steps where the error control asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skfem import Mesh

import meshes

from ..fem.space import NodalFunction, Space
from ..fem.transfer import p1_at
from .initial import discretised, initial_density
from .loop import run
from .options import StepOptions
from .result import Result, SpaceError
from .system import Problem

__all__ = ["ORDER", "SecondMesh", "SpaceError", "second_mesh", "space_error"]

Array = NDArray[np.float64]

ORDER = 2
"""The spatial order the estimate assumes (module docstring)."""
_MIN_RATIO = 1.4  # a second mesh closer to the run's than this gives a difference too small to scale up
_VOLUME_TOL = 0.1  # relative difference of the two meshes' volumes beyond which they are other domains


@dataclass(frozen=True)
class SecondMesh:
    """The space the spatial estimate solves again on: ``kind`` is ``"refined"``,
    ``"remeshed"`` or ``"given"`` (module docstring), ``ratio`` the ratio of the mesh
    sizes, ``how`` the mesh in words."""

    space: Space
    kind: str
    ratio: float
    how: str

    @property
    def factor(self) -> float:
        """``1/(1 − r^{−p})``: the error of the run from its difference with the second."""
        return 1.0 / (1.0 - self.ratio ** -ORDER)


def second_mesh(space: Space, estimate: bool | Mesh | Space = True) -> SecondMesh:
    """The second mesh of the spatial estimate of a run on ``space``: ``estimate`` a
    mesh (or space) of the same domain at about ``h/2``, or ``True`` for the refined or
    remeshed one (module docstring). A ``ValueError`` says why none can be made, and how
    to give one."""
    if not isinstance(estimate, bool):
        return _given(space, estimate)
    refined, why = _refined(space)
    if refined is not None:
        return SecondMesh(refined, "refined", 2.0, "the uniformly refined mesh")
    recipe = meshes.recipe(space.mesh)
    if recipe is None:
        raise ValueError(
            f"estimate_space_error: {why}, and the mesh carries no recipe to be made again at h/2 (it was not made by "
            "a meshes generator, or was changed since); give a mesh of the same domain at about h/2: "
            "fempde.solve(..., estimate_space_error=fine_mesh), or in a scenario [mesh] fine_file = 'fine.msh'")
    try:
        fine_mesh = recipe.finer(2.0)
    except meshes.MeshError as err:
        raise ValueError(f"estimate_space_error: {why}, and the mesh at h/2 cannot be made: {err}") from None
    return _checked(space, fine_mesh, "remeshed", recipe.describe().replace(f"h={recipe.h!r}", f"h={recipe.h / 2!r}"))


def _refined(space: Space) -> tuple[Space | None, str]:
    """The uniformly refined space, where it keeps the scheme's ``T_ij ≥ 0`` and the run's
    nodes first; else ``None`` and why not."""
    if space.transmissibility != "p1":
        return None, (f"this mesh uses the Voronoi-dual transmissibilities (its P1 ones are negative on "
                      f"{space.report.p1_bad_edges} edges), and its uniform refinement is not a Delaunay mesh")
    fine_mesh = meshes.orient(space.mesh.refined())  # scikit-fem's refinement may flip simplices
    if not np.array_equal(np.asarray(fine_mesh.p)[:, :space.n], space.x):
        return None, "its uniform refinement does not keep its nodes first"
    forced = not space.report.admissible
    try:
        return Space(fine_mesh, transmissibility="p1", force=forced), ""
    except meshes.MeshError:
        report = meshes.check(fine_mesh, transmissibility="p1")
        return None, (f"its uniform refinement has {report.n_bad_edges} edges with a negative transmissibility "
                      "(the red refinement of an obtuse triangle puts two copies of the obtuse angle opposite "
                      "one new edge)")


def _given(space: Space, estimate: Mesh | Space) -> SecondMesh:
    if isinstance(estimate, Space):
        fine = estimate
        if fine.dim != space.dim:
            raise ValueError(f"estimate_space_error: the second mesh is {fine.dim}-D, the run's {space.dim}-D")
        return _compared(space, fine, "given", "the second mesh given")
    if not isinstance(estimate, Mesh):
        raise TypeError(f"estimate_space_error must be True, False, or a mesh of the same domain at about h/2 "
                        f"(a skfem Mesh or a fempde.Space), got {type(estimate).__name__}")
    return _checked(space, estimate, "given", "the second mesh given")


def _checked(space: Space, fine_mesh: Mesh, kind: str, how: str) -> SecondMesh:
    """``fine_mesh`` as the second mesh, with the run's transmissibilities (P1 or the Voronoi dual)."""
    if fine_mesh.dim() != space.dim:
        raise ValueError(f"estimate_space_error: the second mesh is {fine_mesh.dim()}-D, the run's {space.dim}-D")
    try:
        fine = Space(fine_mesh, transmissibility=space.transmissibility, force=not space.report.admissible)
    except meshes.MeshError as err:
        raise ValueError(f"estimate_space_error: {how} cannot carry the run's scheme "
                         f"({space.transmissibility} transmissibilities): {err}") from None
    return _compared(space, fine, kind, how)


def _compared(space: Space, fine: Space, kind: str, how: str) -> SecondMesh:
    """The second mesh, once it covers the run's domain and is fine enough to scale its difference up."""
    ratio = (fine.n / space.n) ** (1.0 / space.dim)
    if ratio < _MIN_RATIO:
        raise ValueError(f"estimate_space_error: {how} has {fine.n} nodes, {fine.n / space.n:.3g} times the run's "
                         f"{space.n}; give one at about h/2 ({2**space.dim} times the nodes)")
    if abs(fine.volume - space.volume) > _VOLUME_TOL * space.volume:
        raise ValueError(f"estimate_space_error: {how} has volume {fine.volume:.6g}, the run's mesh "
                         f"{space.volume:.6g}: a mesh of the same domain is needed")
    try:
        p1_at(fine.mesh, np.zeros(fine.n), space.x)
    except ValueError as err:
        raise ValueError(f"estimate_space_error: {how} does not cover the run's mesh: {err}") from None
    return SecondMesh(fine, kind, ratio, how)


def space_error(problem: Problem, second: SecondMesh, space: Space, rho0: NodalFunction | ArrayLike | str,
                result: Result, *, options: StepOptions, flux: str) -> SpaceError:
    """Solve ``problem`` again on ``second`` and compare with ``result``, the run on
    ``space`` (module docstring)."""
    fine = second.space
    if isinstance(rho0, np.ndarray | list | tuple) and np.shape(rho0) == (space.n,):
        # nodal values: the P1 function itself, read at the second mesh's nodes
        rho0 = p1_at(space.mesh, np.asarray(rho0, dtype=np.float64), fine.x)
    # the run accepted ρ0 as a density of mass 1 on its mesh: on the second, the same
    # function has mass 1 up to its quadrature error, and is rescaled to it
    rho0 = initial_density(fine, rho0, normalize=True)
    times = np.array(sorted(set(result.snapshots) | {result.t}), dtype=np.float64)
    times = times[(times > 0) & (times <= result.t)]  # the output times reached, and the last state
    system, rho = discretised(problem, fine, rho0, flux)
    again = run(system, rho, float(times[-1]), times=tuple(times), options=options)
    risk = _at(result, times)
    risk_fine = _at(again, times)
    coarse_rho = {**result.snapshots, result.t: result.rho}
    fine_rho = {**again.snapshots, again.t: again.rho}
    difference = np.array([float(space.m @ np.abs(coarse_rho[t] - p1_at(fine.mesh, fine_rho[t], space.x)))
                           for t in times])
    return SpaceError(times=times, risk=risk, risk_refined=risk_fine, rho_l1=second.factor * difference,
                      nodes_refined=fine.n, kind=second.kind, factor=second.factor)


def _at(result: Result, times: Array) -> Array:
    t = result.history["t"]
    return np.array([result.history["risk"][np.flatnonzero(t == s)[0]] for s in times])
