"""The spatial estimate on every kind of mesh, against the true error from a much finer mesh.

``estimate_space_error=True`` solves again on a second mesh about twice as fine
(:mod:`fempde.solvers.accuracy`): the uniformly refined one where that keeps
``T_ij >= 0`` (the interval, the rectangle with its ``T = 0`` diagonals), the
same generator's at ``h/2`` where it does not (a polygon's and the disk's
obtuse triangles; the ball's Voronoi dual), or one the caller gives (a loaded
mesh). The estimate is ``4/3`` of the difference (second order); the true error
is the difference with a run on a mesh 4 times (default suite) or 8 times
(``slow``) finer, read at the run's nodes as a P1 function.

Measured (estimate / true error, risk and ρ in L1, at t = 0.02 ... 0.1; the
references 8 times finer): rectangle 1.02, 1.01-1.02; polygon 1.06-1.07,
1.09; disk (h = 0.1) 1.03-1.04, 1.05-1.08; disk at h = 0.03 (the shipped
scenario's mesh; reference h/4) 1.07, 1.14-1.18; ball (h = 0.4, reference
h/4) 0.94-0.97, 0.81-0.97; ball (h = 0.25, reference h/4) 1.13-1.16, 0.90-1.13; a loaded polygon with its h/2 mesh given
1.06-1.07, 1.09; a τ = 0 free boundary on the polygon 1.03-1.04, 1.06; the
interval's τ = 0 front 1.02, 1.01. The tests allow 0.5-2.
"""

import numpy as np
import pytest

import fempde
import meshes
from fempde.fem.transfer import p1_at

OPTIONS = fempde.StepOptions(rtol=1e-6)  # the time error well below the spatial one
TIMES = (0.02,)
SMOOTH_2D = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.3) ** 2 - (x[1] - 0.2) ** 2), tau=0.05)
SMOOTH_3D = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.2) ** 2 - x[1] ** 2 - x[2] ** 2), tau=0.05)
QUADRILATERAL = [[0, 0], [1, 0], [1.2, 0.8], [0.2, 1]]


def estimate_and_truth(problem, mesh, reference, times=TIMES, estimate=True):
    """The run's :class:`SpaceError` and its true errors (risk, ρ in L1) against ``reference``."""
    result = fempde.solve(problem, mesh, "uniform", times[-1], times=times, options=OPTIONS,
                          estimate_space_error=estimate)
    fine = fempde.solve(problem, reference, "uniform", times[-1], times=times, options=OPTIONS)
    assert result.ok and fine.ok
    found = result.space_error
    assert found.times.tolist() == list(times)
    risk = np.array([fine.history["risk"][np.flatnonzero(fine.history["t"] == t)[0]] for t in times])
    rho = np.array([result.space.m @ np.abs(result.snapshots[t] - p1_at(fine.space.mesh, fine.snapshots[t],
                                                                          result.space.x)) for t in times])
    return found, np.abs(found.risk - risk), rho


def assert_estimates(found, risk, rho, kind):
    assert found.kind == kind
    np.testing.assert_array_less(0.5 * risk, found.risk_error)
    np.testing.assert_array_less(found.risk_error, 2.0 * risk)
    np.testing.assert_array_less(0.5 * rho, found.rho_l1)
    np.testing.assert_array_less(found.rho_l1, 2.0 * rho)


@pytest.mark.parametrize(
    ("mesh", "reference", "kind"),
    [
        (meshes.rectangle(h=0.1), meshes.rectangle(h=0.025), "refined"),  # T = 0 on the diagonals
        (meshes.polygon(QUADRILATERAL, h=0.1), meshes.polygon(QUADRILATERAL, h=0.025), "remeshed"),  # obtuse
        (meshes.disk(h=0.1), meshes.disk(h=0.025), "remeshed"),  # obtuse next to the wall
    ],
    ids=["rectangle", "polygon", "disk"],
)
def test_the_estimate_is_the_error_on_2d_meshes(mesh, reference, kind):
    assert_estimates(*estimate_and_truth(SMOOTH_2D, mesh, reference), kind)


def test_the_estimate_is_the_error_on_the_ball():
    """The Voronoi-dual space: its refinement is not Delaunay, the generator's h/2 mesh is."""
    found, risk, rho = estimate_and_truth(SMOOTH_3D, meshes.ball(h=0.4), meshes.ball(h=0.1))
    assert_estimates(found, risk, rho, "remeshed")
    assert found.nodes_refined == fempde.Space(meshes.ball(h=0.2)).n


def test_a_loaded_mesh_is_estimated_on_the_mesh_given_and_refused_without(tmp_path):
    meshes.save(meshes.polygon(QUADRILATERAL, h=0.1), tmp_path / "coarse.msh")
    meshes.save(meshes.polygon(QUADRILATERAL, h=0.05), tmp_path / "fine.msh")
    coarse, fine = meshes.load(tmp_path / "coarse.msh"), meshes.load(tmp_path / "fine.msh")
    with pytest.raises(ValueError, match=r"refinement has \d+ edges with a negative transmissibility.*no recipe.*"
                                         r"estimate_space_error=fine_mesh.*fine_file"):
        fempde.solve(SMOOTH_2D, coarse, "uniform", 1e6, estimate_space_error=True)  # refused before a long run
    found, risk, rho = estimate_and_truth(SMOOTH_2D, coarse, meshes.polygon(QUADRILATERAL, h=0.025), estimate=fine)
    assert_estimates(found, risk, rho, "given")
    assert found.factor == pytest.approx(1 / (1 - (fine.p.shape[1] / coarse.p.shape[1]) ** -1.0), rel=1e-12)


@pytest.mark.parametrize(
    ("estimate", "message"),
    [
        (meshes.polygon(QUADRILATERAL, h=0.09), r"has \d+ nodes, 1.\d+ times the run's \d+; give one at about h/2"),
        (meshes.polygon(np.array(QUADRILATERAL) + 0.3, h=0.05), "does not cover the run's mesh"),
        (meshes.polygon([[0, 0], [3, 0], [3, 3], [0, 3]], h=0.05), "volume 9, the run's mesh 0.92"),
        (meshes.interval(h=0.01), "the second mesh is 1-D, the run's 2-D"),
        ("fine", "must be True, False, or a mesh"),
    ],
)
def test_a_second_mesh_that_does_not_fit_is_refused_before_the_run(estimate, message):
    with pytest.raises((ValueError, TypeError), match=message):
        fempde.solve(SMOOTH_2D, meshes.polygon(QUADRILATERAL, h=0.1), "uniform", 1e6, estimate_space_error=estimate)


def test_a_second_mesh_too_large_to_make_is_refused_before_the_run(monkeypatch):
    monkeypatch.setattr(meshes.generators, "MAX_NODES", 200)
    mesh = meshes.polygon(QUADRILATERAL, h=0.1)  # 120 nodes; at h/2, 448
    with pytest.raises(ValueError, match="the mesh at h/2 cannot be made: .* more than the limit of 200"):
        fempde.solve(SMOOTH_2D, mesh, "uniform", 1e6, estimate_space_error=True)


def test_nodal_rho0_is_carried_to_the_second_mesh_as_a_p1_function():
    mesh = meshes.polygon(QUADRILATERAL, h=0.1)
    space = fempde.Space(mesh)
    rho0 = fempde.initial_density(space, lambda x: 1 + x[0], normalize=True)
    by_values = fempde.solve(SMOOTH_2D, space, rho0, 0.02, options=OPTIONS, estimate_space_error=True)
    by_function = fempde.solve(SMOOTH_2D, space, lambda x: (1 + x[0]) / space.integrate(1 + space.x[0]), 0.02,
                               options=OPTIONS, estimate_space_error=True)
    # the function is exactly P1: the same start on the second mesh either way
    np.testing.assert_allclose(by_values.space_error.risk_refined, by_function.space_error.risk_refined, rtol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("problem", "mesh", "reference", "kind"),
    [
        (SMOOTH_2D, meshes.rectangle(h=0.1), meshes.rectangle(h=0.0125), "refined"),
        (SMOOTH_2D, meshes.polygon(QUADRILATERAL, h=0.1), meshes.polygon(QUADRILATERAL, h=0.0125), "remeshed"),
        (SMOOTH_2D, meshes.disk(h=0.03), meshes.disk(h=0.01), "remeshed"),  # the shipped disk scenario's mesh
        (SMOOTH_3D, meshes.ball(h=0.25), meshes.ball(h=0.25 / 3), "remeshed"),
    ],
    ids=["rectangle", "polygon", "disk-0.03", "ball-0.25"],
)
def test_the_estimate_is_the_error_against_much_finer_meshes(problem, mesh, reference, kind):
    assert_estimates(*estimate_and_truth(problem, mesh, reference, times=(0.02, 0.05, 0.1)), kind)
