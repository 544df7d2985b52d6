"""The AMG path: a hierarchy reused across time steps gives the direct solver's
answer, is rebuilt when it has cost what a new one costs, and repeats exactly."""

import numpy as np
import pytest

import fempde
import fempde.linalg
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
    original = fempde.linalg.LinearSolver._hierarchy

    def count(self, matrix):
        built.append(matrix.shape)
        return original(self, matrix)

    if monkeypatch is not None:
        monkeypatch.setattr(fempde.linalg.LinearSolver, "_hierarchy", count)
    result = fempde.solve(problem, space, "uniform", 0.2, dt0=0.01, dt_max=0.01, linear_solver=solver, **stepping)
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
    monkeypatch.setitem(fempde.linalg._SETUP_COST, 2, 0)
    rebuilt, setups = run(flow, "amg", monkeypatch)
    assert setups == 20
    np.testing.assert_allclose(reused.rho, rebuilt.rho, rtol=0, atol=1e-11)


def test_reuse_is_deterministic(flow):
    first, _ = run(flow, "amg", scheme="bdf2")
    second, _ = run(flow, "amg", scheme="bdf2")
    np.testing.assert_array_equal(first.rho, second.rho)
    np.testing.assert_array_equal(first.history["newton_iterations"], second.history["newton_iterations"])
