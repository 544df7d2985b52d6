"""PatternLU: the direct path's LU on the Jacobians' fixed pattern, against SuperLU."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import fempde
import meshes
from fempde.solvers.linalg import LinearSolver, PatternLU


def jacobian(n: int, rng: np.random.Generator) -> tuple[sp.csr_matrix, np.ndarray]:
    space = fempde.Space(meshes.rectangle(h=1.0 / n))
    problem = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.5) ** 2 - (x[1] - 0.5) ** 2), 0.05)
    system = problem.discretise(space)
    rho = 1.0 + 0.5 * rng.random(space.n)
    residual, matrix = system.linearise(rho, np.ones(space.n), 0.0, 0.05)
    assert isinstance(matrix, sp.csr_matrix)
    return matrix, residual


def test_pattern_lu_solves_as_superlu() -> None:
    rng = np.random.default_rng(1)
    matrix, rhs = jacobian(12, rng)
    lu = PatternLU(matrix)
    assert lu.factorise(matrix)
    x = lu.solve(rhs)
    expected = spla.spsolve(matrix.tocsc(), rhs)
    assert np.abs(x - expected).max() <= 1e-13 * np.abs(expected).max()  # round-off of both
    # a second matrix of the same pattern: only the numbers change
    other, rhs2 = jacobian(12, rng)
    assert lu.fits(other) and lu.factorise(other)
    assert np.abs(other @ lu.solve(rhs2) - rhs2).max() <= 1e-13 * np.abs(rhs2).max()


def test_pattern_lu_refuses_what_needs_pivoting() -> None:
    matrix = sp.csr_matrix(np.array([[1.0, 3.0], [2.0, 1.0]]))  # not diagonally dominant by columns
    assert PatternLU.applies(matrix)
    assert not PatternLU(matrix).factorise(matrix)
    solver = LinearSolver("direct")  # falls back to SuperLU, which pivots
    assert np.allclose(matrix @ solver.solve(matrix, np.array([1.0, 2.0])), [1.0, 2.0], rtol=0, atol=1e-14)
    assert not PatternLU.applies(sp.csr_matrix(np.array([[1.0, 1.0], [0.0, 1.0]])))  # pattern not symmetric
    assert not PatternLU.applies(sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]])))  # no diagonal


@pytest.mark.parametrize("scheme", ["euler", "bdf2"])
def test_direct_runs_agree_with_superlu(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    space = fempde.Space(meshes.rectangle(h=1.0 / 10))
    problem = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.5) ** 2 - (x[1] - 0.5) ** 2), 0.05,
                                  fempde.Constant(0.5))
    ours = fempde.solve(problem, space, "uniform", 0.05, options=fempde.StepOptions(scheme=scheme, rtol=1e-4))
    monkeypatch.setattr(PatternLU, "applies", staticmethod(lambda matrix: False))
    superlu = fempde.solve(problem, space, "uniform", 0.05, options=fempde.StepOptions(scheme=scheme, rtol=1e-4))
    assert len(ours.history["t"]) == len(superlu.history["t"])
    assert np.abs(ours.rho - superlu.rho).max() <= 1e-12  # the same run to round-off


def test_duplicates_and_other_formats_are_not_factorised_as_if_canonical():
    duplicated = sp.csr_matrix(([3.0, -1, -1, -1, -1, 3.0], [0, 1, 1, 0, 0, 1], [0, 3, 6]), shape=(2, 2))
    b = np.array([1.0, 0.0])
    np.testing.assert_allclose(LinearSolver("direct").solve(duplicated, b), [0.6, 0.4], rtol=1e-14)  # [[3,-2],[-2,3]]
    a = sp.csr_matrix(np.array([[4.0, -1.0, -2.0], [-0.5, 3.0, -1.0], [-1.0, -0.5, 4.0]]))
    solver = LinearSolver("direct")
    solver.solve(a, np.ones(3))
    for other in (a.T.tocsc(), a.tocsc(), a.tocoo()):  # same arrays as a's transpose, or another format
        x = solver.solve(other, np.ones(3))
        np.testing.assert_allclose(x, spla.spsolve(other.tocsc(), np.ones(3)), rtol=1e-13)
