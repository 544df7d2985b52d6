"""The compiled solve phase (fempde.solvers.multigrid): its V-cycle is pyamg's, its
FGMRES reaches the tolerance it reports, and the K-cycle keeps the iteration
count of plain aggregation from growing with the mesh."""

import numpy as np
import pyamg
import pytest
import scipy.sparse as sp

import fempde.solvers.multigrid as mg
from fempde.solvers.linalg import LinearSolver

SWEEPS = {"presmoother": ("gauss_seidel", {"sweep": "forward"}),
          "postsmoother": ("gauss_seidel", {"sweep": "backward"})}


def plain_aggregation(matrix):
    return pyamg.smoothed_aggregation_solver(matrix, symmetry="nonsymmetric", smooth=None, **SWEEPS)


def convection_diffusion(m: int) -> sp.csr_matrix:
    """Upwinded convection–diffusion on an m^3 grid plus a mass term: a
    non-symmetric M-matrix like fempde's Jacobians."""
    one = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    upwind = sp.diags([-1.0, 1.0], [-1, 0], shape=(m, m))
    eye = sp.identity(m)
    laplacian = sp.kron(sp.kron(one, eye), eye) + sp.kron(sp.kron(eye, one), eye) + sp.kron(sp.kron(eye, eye), one)
    convection = 0.3 * sp.kron(sp.kron(upwind, eye), eye)
    return sp.csr_matrix(laplacian + convection + 0.05 * sp.identity(m**3))


def with_an_empty_region(flowing: sp.csr_matrix) -> sp.csr_matrix:
    """``flowing`` beside a copy of itself where the density is zero: there the
    Jacobian is its lumped mass on the diagonal with explicit zeros in the flux slots."""
    empty = sp.csr_matrix(flowing, copy=True)
    empty.data[:] = 0.0
    empty.setdiag(0.5)
    return sp.csr_matrix(sp.block_diag([flowing, empty], format="csr"))


@pytest.mark.parametrize("build", [plain_aggregation, lambda a: pyamg.ruge_stuben_solver(a, **SWEEPS)],
                         ids=["plain aggregation", "Ruge-Stuben"])
def test_v_cycle_is_pyamgs(build):
    """Without the Krylov steps the compiled cycle is pyamg's V-cycle with the same
    sweeps, to round-off (the coarsest solve: an inverse against pyamg's pseudo-inverse;
    the sums of each Gauss–Seidel row in another order)."""
    matrix = convection_diffusion(14)
    ml = build(matrix)
    assert len(ml.levels) >= 3
    hierarchy = mg.Hierarchy.from_pyamg(ml, kcycle=False, single=False)
    assert not hierarchy.krylov.any() and np.all(hierarchy.sweeps == 1)
    b = np.random.default_rng(1).standard_normal(matrix.shape[0])
    ours = hierarchy.cycle(b)
    theirs = ml.solve(b, x0=np.zeros_like(b), maxiter=1, cycle="V", tol=1e-300)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * np.abs(theirs).max())


def test_a_single_precision_hierarchy_is_a_nearby_preconditioner():
    """Single-precision entries move one cycle by about float32's round-off, and
    FGMRES still reaches a tolerance far below it (it applies the double matrix)."""
    matrix = convection_diffusion(14)
    ml = pyamg.ruge_stuben_solver(matrix, **SWEEPS)
    single, double = (mg.Hierarchy.from_pyamg(ml, kcycle=False, single=s) for s in (True, False))
    assert single.values == np.float32 and double.values == np.float64
    b = np.random.default_rng(7).standard_normal(matrix.shape[0])
    one, two = single.cycle(b), double.cycle(b)
    assert 0 < np.abs(one - two).max() <= 1e-5 * np.abs(two).max()
    x, converged, _ = mg.fgmres(matrix, b, single, rtol=1e-12)
    assert converged and np.linalg.norm(b - matrix @ x) <= 1e-12 * np.linalg.norm(b)
    huge = mg.Hierarchy.from_pyamg(pyamg.ruge_stuben_solver(1e35 * matrix, **SWEEPS), kcycle=False)
    assert huge.values == np.float64  # would overflow float32


@pytest.mark.parametrize("m", [12, 20])
def test_fgmres_reaches_its_tolerance(m):
    matrix = convection_diffusion(m)
    b = np.random.default_rng(2).standard_normal(matrix.shape[0])
    hierarchy = mg.Hierarchy.from_pyamg(plain_aggregation(matrix))
    x, converged, iterations = mg.fgmres(matrix, b, hierarchy, rtol=1e-8)
    assert converged and 0 < iterations < 40
    assert np.linalg.norm(b - matrix @ x) <= 1e-8 * np.linalg.norm(b)


def test_fgmres_says_when_it_stops_short():
    matrix = convection_diffusion(12)
    b = np.random.default_rng(3).standard_normal(matrix.shape[0])
    hierarchy = mg.Hierarchy.from_pyamg(plain_aggregation(matrix))
    x, converged, iterations = mg.fgmres(matrix, b, hierarchy, rtol=1e-14, restart=2, max_restarts=1)
    assert not converged and iterations == 2
    assert np.linalg.norm(b - matrix @ x) > 1e-14 * np.linalg.norm(b)
    zero, converged, iterations = mg.fgmres(matrix, np.zeros_like(b), hierarchy, rtol=1e-8)
    assert converged and iterations == 0 and not zero.any()


def test_k_cycle_keeps_plain_aggregation_scalable():
    """On the 3-D Poisson cube pyamg's V-cycle with plain aggregation needs 13 and
    21 GMRES iterations at 20^3 and 40^3 nodes; the K-cycle 10 and 13 (measured)."""
    counts = []
    for m in (20, 40):
        matrix = pyamg.gallery.poisson((m, m, m), format="csr")
        b = np.random.default_rng(4).standard_normal(matrix.shape[0])
        _, converged, iterations = mg.fgmres(matrix, b, mg.Hierarchy.from_pyamg(plain_aggregation(matrix)), 1e-6)
        assert converged
        counts.append(iterations)
    assert counts[1] <= 15
    assert counts[1] - counts[0] <= 4


def test_more_fine_sweeps_fewer_iterations():
    matrix = convection_diffusion(20)
    b = np.random.default_rng(6).standard_normal(matrix.shape[0])
    ml = plain_aggregation(matrix)
    counts = [mg.fgmres(matrix, b, mg.Hierarchy.from_pyamg(ml, fine_sweeps=k), 1e-8)[2] for k in (1, 2)]
    assert counts[1] < counts[0]
    with pytest.raises(ValueError, match="fine_sweeps"):
        mg.Hierarchy.from_pyamg(ml, fine_sweeps=0)


def test_linear_solver_uses_the_compiled_cycle():
    matrix = convection_diffusion(16)
    b = np.random.default_rng(5).standard_normal(matrix.shape[0])
    solver = LinearSolver("amg", dim=3)
    x = solver.solve(matrix, b)
    assert isinstance(solver._amg, mg.Hierarchy)
    assert solver._amg.sweeps[0] == 2 and np.all(solver._amg.sweeps[1:] == 1)  # 3-D: a sweep pair on the finest
    assert solver._amg.krylov[0]  # 3-D: the K-cycle
    assert np.linalg.norm(b - matrix @ x) <= solver.rtol * np.linalg.norm(b)
    assert solver.iterations > 0
    flat = LinearSolver("amg", dim=2)  # 2-D: Ruge–Stüben with a plain V-cycle
    x = flat.solve(matrix, b)
    assert not flat._amg.krylov.any() and np.all(flat._amg.sweeps == 1)
    assert np.linalg.norm(b - matrix @ x) <= flat.rtol * np.linalg.norm(b)


def test_3d_setup_aggregates_as_pyamgs_default_strength_and_restricts_by_the_transpose(monkeypatch):
    """fempde's 3-D setup skips pyamg's strength matrix and its Aᴴ: the aggregates
    must be those of pyamg's default (symmetric strength, θ = 0), explicit zeros
    of an empty region included, and the restriction the prolongator's transpose."""
    matrix = with_an_empty_region(convection_diffusion(8))
    build = pyamg.smoothed_aggregation_solver
    monkeypatch.setattr(pyamg, "smoothed_aggregation_solver", lambda *a, **k: build(*a, keep=True, **k))
    ours = LinearSolver("amg", dim=3)._pyamg(matrix)  # keeps its aggregates (AggOp), as asked here
    default = build(matrix, smooth=None, keep=True, **SWEEPS)
    assert len(ours.levels) == len(default.levels) >= 3
    for mine, theirs in zip(ours.levels[:-1], default.levels[:-1], strict=True):
        assert (mine.AggOp != theirs.AggOp).nnz == 0
    for level in ours.levels[:-1]:
        assert abs(sp.csr_matrix(level.R) - sp.csr_matrix(level.P).T).max() == 0


def test_a_reused_workspace_gives_the_same_solution():
    matrix = convection_diffusion(10)
    b = np.random.default_rng(7).standard_normal(matrix.shape[0])
    hierarchy = mg.Hierarchy.from_pyamg(plain_aggregation(matrix))
    workspace = mg.Workspace()
    first = mg.fgmres(matrix, b, hierarchy, 1e-8, workspace=workspace)[0]
    vectors = workspace.krylov(30, matrix.shape[0])
    again = mg.fgmres(matrix, b, hierarchy, 1e-8, workspace=workspace)[0]
    assert workspace.krylov(30, matrix.shape[0]) is vectors
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, mg.fgmres(matrix, b, hierarchy, 1e-8)[0])


def test_fgmres_refuses_what_does_not_fit():
    matrix = convection_diffusion(6)
    hierarchy = mg.Hierarchy.from_pyamg(plain_aggregation(matrix))
    with pytest.raises(ValueError, match="do not fit"):
        mg.fgmres(matrix, np.ones(5), hierarchy, 1e-8)
    with pytest.raises(ValueError, match="restart"):
        mg.fgmres(matrix, np.ones(matrix.shape[0]), hierarchy, 1e-8, restart=0)


def test_an_empty_region_leaves_empty_coarse_rows_that_the_sweeps_skip():
    """Where the density is zero the Jacobian is its lumped mass on the diagonal
    with explicit zeros in the flux slots. pyamg's improved candidates vanish
    there, so coarse levels get empty rows and columns; the cycle leaves those
    unknowns at zero (as pyamg's Gauss–Seidel does) instead of dividing by zero."""
    matrix = with_an_empty_region(convection_diffusion(8))
    ml = plain_aggregation(matrix)
    assert any((level.A.diagonal() == 0).any() for level in ml.levels[1:])  # the case under test
    b = np.random.default_rng(8).standard_normal(matrix.shape[0])
    x, converged, _ = mg.fgmres(matrix, b, mg.Hierarchy.from_pyamg(ml), rtol=1e-10)
    assert converged and np.linalg.norm(b - matrix @ x) <= 1e-10 * np.linalg.norm(b)


def test_a_zero_diagonal_is_refused():
    matrix = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 2.0]]))
    ml = pyamg.multilevel.MultilevelSolver([pyamg.multilevel.MultilevelSolver.Level()])
    ml.levels[0].A = matrix
    with pytest.raises(np.linalg.LinAlgError, match="zero diagonal"):
        mg.Hierarchy.from_pyamg(ml)
