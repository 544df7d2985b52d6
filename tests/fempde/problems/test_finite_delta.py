"""The finite-δ porous-medium flow: exact Jacobian, structure, and the δ → 0 limit."""

import numpy as np
import pytest
from exact import fitted_rate

import fempde
import meshes


def target(x):
    return 6 * x[0] * (1 - x[0])


@pytest.mark.parametrize("tau", [0.0, 0.05])
@pytest.mark.parametrize("kernel", sorted(fempde.KERNELS))
def test_jacobian_matches_finite_differences(rng, tau, kernel):
    space = fempde.Space(meshes.interval(0, 1, 0.02))
    system = fempde.FiniteDeltaPorousMedium(target, tau=tau, kernel=kernel, delta=0.15).discretise(space)
    rho_old = rng.uniform(0.5, 1.5, space.n)
    rho = rho_old * rng.uniform(0.9, 1.1, space.n)
    _, jacobian = system.linearise(rho, rho_old, 0.0, 0.1)
    step, columns = 1e-7, []
    for k in range(space.n):
        e = np.zeros(space.n)
        e[k] = step
        columns.append((system.linearise(rho + e, rho_old, 0.0, 0.1)[0]
                        - system.linearise(rho - e, rho_old, 0.0, 0.1)[0]) / (2 * step))
    np.testing.assert_allclose(jacobian.toarray(), np.array(columns).T, rtol=0, atol=1e-6)


def test_potential_is_the_gradient_of_the_risk(rng):
    # φ = (∂ ½R^δ_h / ∂ρ_i) / m_i: check by finite differences of the discrete risk
    space = fempde.Space(meshes.disk(h=0.15))
    system = fempde.FiniteDeltaPorousMedium(lambda x: 1 - x[0] ** 2 - x[1] ** 2, delta=0.4).discretise(space)
    rho = rng.uniform(0.1, 1.0, space.n)
    step = 1e-6
    for k in rng.choice(space.n, 10, replace=False):
        e = np.zeros(space.n)
        e[k] = step
        derivative = (system.risk(rho + e) - system.risk(rho - e)) / (4 * step * space.m[k])
        assert system.potential(rho)[k] == pytest.approx(derivative, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("mesh", [meshes.interval(0, 1, 0.01), meshes.disk(h=0.1)], ids=["1d", "2d"])
@pytest.mark.parametrize("tau", [0.0, 0.05])
def test_structure_is_kept(mesh, tau):
    problem = fempde.FiniteDeltaPorousMedium(lambda x: 1.5 - np.sum(x**2, axis=0), tau=tau, delta=0.2)
    result = fempde.solve(problem, mesh, "uniform", 2.0)
    assert result.ok
    assert np.abs(result.history["mass"] - 1).max() <= 1e-12
    assert np.diff(result.history["free_energy"]).max() <= 1e-14
    assert result.history["min_rho"].min() >= (1e-300 if tau > 0 else -1e-14)


def test_tends_to_the_local_flow_as_delta_vanishes():
    """max over t ∈ {0.25, 0.5, 1} of ||ρ^δ − ρ^0||_L1 decays like δ (measured rate 1.01; the
    boundary layer of width δ, where the restricted convolution loses mass, dominates)."""
    space = fempde.Space(meshes.interval(0, 1, 0.0025))
    times = [0.25, 0.5, 1.0]
    local = fempde.solve(fempde.PorousMedium(target, tau=0.05), space, "uniform", 1.0, times=times)
    deltas, gaps = [0.2, 0.1, 0.05, 0.025], []
    for delta in deltas:
        result = fempde.solve(fempde.FiniteDeltaPorousMedium(target, tau=0.05, delta=delta), space, "uniform",
                              1.0, times=times)
        gaps.append(max(space.m @ np.abs(result.snapshots[t] - local.snapshots[t]) for t in times))
    assert np.all(np.diff(gaps) < 0)
    assert fitted_rate(deltas, gaps) >= 0.9





def test_delta_wider_than_the_domain():
    with pytest.raises(ValueError, match="delta=2.0 is wider than the domain"):
        fempde.FiniteDeltaPorousMedium(target, delta=2.0).discretise(fempde.Space(meshes.interval(0, 1, 0.1)))
