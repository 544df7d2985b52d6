"""The AMG path: a hierarchy reused across time steps gives the direct solver's
answer, is rebuilt when it has cost what a new one costs, and repeats exactly."""

import numpy as np
import pytest

import fempde
import fempde.solvers.linalg
import meshes


@pytest.fixture(scope="module")
def flow():
    space = fempde.Space(meshes.rectangle(h=1 / 48))  # 2401 nodes: large enough to be worth AMG
    problem = fempde.PorousMedium(lambda x: 1.2 * (1 - (x[0] - 0.5) ** 2 - (x[1] - 0.5) ** 2), 0.05,
                                  fempde.Constant(0.5))
    return problem, space


def run(flow, solver, monkeypatch=None, **stepping):
    problem, space = flow
    built = []
    original = fempde.solvers.linalg.LinearSolver._hierarchy

    def count(self, matrix):
        built.append(matrix.shape)
        return original(self, matrix)

    if monkeypatch is not None:
        monkeypatch.setattr(fempde.solvers.linalg.LinearSolver, "_hierarchy", count)
    options = fempde.StepOptions(dt0=0.01, dt_max=0.01, rtol=None, linear_solver=solver, **stepping)
    result = fempde.solve(problem, space, "uniform", 0.2, options=options)
    return result, len(built)


def test_reused_hierarchy_gives_the_direct_solution(flow, monkeypatch):
    direct, _ = run(flow, "direct")
    amg, setups = run(flow, "amg", monkeypatch)
    steps = len(amg.history["t"]) - 1
    assert steps == 20
    assert 1 < setups < steps  # reused across steps, and rebuilt when it had cost a new one
    # Newton stops at 1e-11 (relative) either way; the two paths agree far below that
    np.testing.assert_allclose(amg.rho, direct.rho, rtol=0, atol=1e-11)
    assert abs(amg.history["mass"][-1] - 1.0) <= 1e-13


def test_rebuilding_every_step_gives_the_same_solution(flow, monkeypatch):
    reused, _ = run(flow, "amg")
    monkeypatch.setitem(fempde.solvers.linalg._SETUP_COST, 2, 0)
    rebuilt, setups = run(flow, "amg", monkeypatch)
    assert setups == 20
    np.testing.assert_allclose(reused.rho, rebuilt.rho, rtol=0, atol=1e-11)


def test_reuse_is_deterministic(flow):
    first, _ = run(flow, "amg", scheme="bdf2")
    second, _ = run(flow, "amg", scheme="bdf2")
    np.testing.assert_array_equal(first.rho, second.rho)
    np.testing.assert_array_equal(first.history["newton_iterations"], second.history["newton_iterations"])


def test_newton_solves_loosely_while_far_off_and_tightly_near(flow, monkeypatch):
    """Inexact Newton: the first solve of each step stops at rtol 0.01; later ones
    tighten with the residual's quadratic decay down to the solver's rtol; the
    answer is the direct solver's all the same (test above)."""
    asked, propagating = [], []
    solver = fempde.solvers.linalg.LinearSolver
    original, original_again = solver._gmres, solver.solve_again

    def record(self, jacobian, rhs, rtol):
        if not propagating:  # the error estimate's solves are not Newton's
            asked.append(rtol)
        return original(self, jacobian, rhs, rtol)

    def again(self, jacobian, rhs):
        propagating.append(True)
        try:
            return original_again(self, jacobian, rhs)
        finally:
            propagating.pop()

    monkeypatch.setattr(solver, "_gmres", record)
    monkeypatch.setattr(solver, "solve_again", again)
    result, _ = run(flow, "amg", scheme="euler")  # (a BDF2 step redone as Euler's would start a second Newton)
    per_step = result.history["newton_iterations"][1:].astype(int)
    starts = np.concatenate([[0], np.cumsum(per_step)[:-1]])
    assert np.all(np.asarray(asked)[starts] == 0.01)
    assert min(asked) == fempde.solvers.linalg.LinearSolver("amg").rtol
    assert all(0 < r <= 0.01 for r in asked)


def test_forcing_terms():
    from fempde.solvers.newton import forcing as _forcing

    assert _forcing(1.0, None, 1e-6) == 0.01  # first iteration
    assert _forcing(1e-4, 1e-2, 1e-6) == pytest.approx(0.9e-4)  # quadratic decay
    assert _forcing(1e-9, 1e-3, 1e-6) == 1e-6  # floored at the solver's rtol
    assert _forcing(0.9, 1.0, 1e-6) == 0.01  # slow decay: capped
    with pytest.raises(ValueError, match="rtol"):
        fempde.solvers.linalg.LinearSolver("amg").solve(np.eye(2), np.ones(2), rtol=1.5)
